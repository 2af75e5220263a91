package coordinator

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gahpo/gahpo"
	"github.com/gahpo/gahpo/bus"
	"github.com/gahpo/gahpo/search"
	"github.com/gahpo/gahpo/store"
)

// verdict is what becomes of one delivery once its batch is stored.
type verdict struct {
	d      *bus.Delivery
	result gahpo.Result
	term   string      // non-empty: drop it with this reason
	again  *gahpo.Task // a task handed back, to queue again
}

// step feeds a batch of results to the machine, stores what it decided in
// one transaction, then publishes the tasks it bred or promoted,
// acknowledges the results and deletes the checkpoints it no longer needs.
// Nothing slow runs under the lock. An error means the store and the
// machine may disagree: the coordinator stops, and a restart resumes from
// the store.
func (c *Coordinator) step(ctx context.Context, batch []*bus.Delivery) error {
	verdicts := make([]verdict, len(batch))
	now := c.cfg.Now()
	c.mu.Lock()
	stored := false // a result the machine took: the stall watch's sign of progress
	for i, d := range batch {
		v := &verdicts[i]
		v.d = d
		if err := gahpo.Decode(d.Data, &v.result); err != nil {
			v.term = "malformed result: " + err.Error()
			continue
		}
		r := v.result
		if r.Kind == gahpo.KindHandBack {
			if t, ok := c.machine.HandedBack(r); ok {
				v.again = &t
				delete(c.holders, training{r.GenomeID, r.Replicate})
			}
			continue
		}
		var err error
		if r.Kind == gahpo.KindFinal {
			err = c.machine.Final(r, now)
		} else {
			err = c.machine.Result(r, now)
		}
		switch {
		case errors.Is(err, search.ErrStale):
			c.log.Debug("ignoring a result already recorded", "genome", r.GenomeID, "rung", r.Rung, "attempt", r.Attempt)
		case errors.Is(err, search.ErrRefused):
			v.term = err.Error()
		case err != nil:
			c.mu.Unlock()
			for _, v := range verdicts {
				_ = v.d.Nak(time.Second)
			}
			return fmt.Errorf("coordinator: %w", err)
		default:
			stored = true
			delete(c.holders, training{r.GenomeID, r.Replicate})
			delete(c.reports, training{r.GenomeID, r.Replicate})
			if r.Failure == "" && r.Duration > 0 && r.Kind == gahpo.KindFitness {
				c.evalTime += r.Duration
				c.evalN++
				c.evalEpochs += fitnessEpochs(r, c.rc)
			}
		}
	}
	rd := c.machine.Ready()
	if stored {
		c.lastResult = now
	}
	c.mu.Unlock()

	if err := c.commit(ctx, rd); err != nil {
		for _, v := range verdicts {
			_ = v.d.Nak(time.Second)
		}
		return err
	}
	// What is stored is decided: carry it out even if the coordinator is
	// being stopped (a crash here is repaired on restart: lost tasks are
	// queued again in the order they were issued, redelivered results are
	// dropped as stale).
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	if len(rd.Publish) > 0 {
		tasks := make([]gahpo.Task, len(rd.Publish))
		for i, t := range rd.Publish {
			tasks[i] = c.complete(t)
		}
		if err := c.conn.PublishTasks(ctx, tasks); err != nil {
			// Stored as outstanding: the watchdog or a restart queues them.
			c.log.Warn("publishing tasks failed; they will be queued again", "tasks", len(tasks), "err", err)
		}
	}
	for _, v := range verdicts {
		if v.again != nil {
			// Queued again before the hand-back is acknowledged: a
			// failure leaves it to be redelivered and tried again.
			if err := c.conn.RequeueTask(ctx, c.complete(*v.again), v.result.Attempt-1, v.d.Seq); err != nil {
				c.log.Warn("cannot queue again a task handed back", "genome", v.result.GenomeID, "err", err)
				_ = v.d.Nak(time.Second)
				continue
			}
			c.log.Info("a task handed back is queued again", "genome", v.result.GenomeID, "worker", v.result.Worker)
		}
		if v.term != "" {
			c.log.Warn("refusing a result", "subject", v.d.Subject, "genome", v.result.GenomeID, "worker", v.result.Worker, "reason", v.term)
			_ = v.d.Term(v.term)
			continue
		}
		if err := v.d.AckNoWait(); err != nil {
			// The result is stored; a redelivery is dropped as stale.
			c.log.Warn("ack of a stored result failed", "genome", v.result.GenomeID, "err", err)
		}
	}
	for _, ref := range rd.Delete {
		// Each in a few seconds: a request lost with a server that went
		// away would hold the next results up for the whole 30 s. What
		// is not deleted is swept when the run ends.
		dctx, cancel := context.WithTimeout(ctx, deleteTimeout)
		err := c.conn.DeleteObject(dctx, ref.Bucket, ref.Name)
		cancel()
		if err != nil {
			c.log.Warn("deleting a checkpoint failed; it is deleted when the run ends", "object", ref.Name, "err", err)
		}
	}
	c.report(rd)
	c.drawProgress()
	return nil
}

// deleteTimeout bounds the deletion of one checkpoint: deletions are
// best effort (the run's end sweeps what is left).
const deleteTimeout = 5 * time.Second

// commit stores one Ready in one transaction, with the final training's
// weights fetched first.
func (c *Coordinator) commit(ctx context.Context, rd search.Ready) error {
	ch := store.Change{Run: rd.Run, Engine: rd.Engine, Genomes: rd.Genomes, Summaries: rd.Summaries, Final: rd.Final}
	if rd.Final != nil && rd.FinalWeights != nil && rd.FinalWeights.Name != "" {
		w, err := c.conn.GetBytes(ctx, rd.FinalWeights.Bucket, rd.FinalWeights.Name, rd.FinalWeights.Digest)
		switch {
		case errors.Is(err, bus.ErrDigest):
			// Replaced since its worker stored it (the weights buckets
			// take any worker's writes): not the genome's model.
			err = nil
			rd.Final.WeightsLost = fmt.Sprintf("the object %s/%s was replaced after its training stored it (its digest is not the one the worker reported): not kept as the model", rd.FinalWeights.Bucket, rd.FinalWeights.Name)
			c.log.Error("the final training's weights were replaced in the object store: the run ends without them", "genome", rd.Final.GenomeID, "object", rd.FinalWeights.Name)
		case bus.IsNotFound(err) && c.resumed:
			// Lost with the NATS server's store after the genome's top
			// rung (only a resumed run can have lost it): the run ends
			// with every figure, without the model.
			rd.Final.WeightsLost = fmt.Sprintf("the object %s/%s was lost with the NATS server's store before the run ended", rd.FinalWeights.Bucket, rd.FinalWeights.Name)
			c.log.Warn("the final training's weights are lost: the run ends without them", "genome", rd.Final.GenomeID, "object", rd.FinalWeights.Name)
		case err != nil:
			return fmt.Errorf("coordinator: final weights: %w", err)
		}
		ch.Weights = w
		rd.Final.WeightsSize = len(w)
		if len(w) > 0 {
			rd.Final.WeightsSHA = bus.Digest(w)
		}
	}
	if ch.Run == nil && ch.Engine == nil && len(ch.Genomes) == 0 && len(ch.Summaries) == 0 && ch.Final == nil {
		return nil
	}
	if err := c.store.Commit(c.id, ch); err != nil {
		return fmt.Errorf("coordinator: store: %w", err)
	}
	return nil
}

// report logs what a stored step means to a user: generations finished,
// the final training, a poor proxy.
func (c *Coordinator) report(rd search.Ready) {
	for _, sum := range rd.Summaries {
		c.mu.Lock()
		first := !c.printed[sum.Generation]
		c.printed[sum.Generation] = true
		c.mu.Unlock()
		if !first {
			continue
		}
		c.log.Info("generation finished", "generation", sum.Generation+1, "best", sum.Best, "fitness", float64(sum.Fitness),
			"mean", float64(sum.Mean), "median", float64(sum.Median), "failed", sum.Failed)
		if c.progress != nil {
			c.progress.generationDone(sum, c.rc)
		}
	}
	c.reportConfirm(rd)
	if rd.Run != nil {
		if why := rd.Run.StoppedBy; why != "" && why != c.stopLogged {
			c.stopLogged = why
			c.log.Info("breeding stopped", "stopped_by", why, "epochs_spent", rd.Run.EpochsSpent, "budget_epochs", c.rc.BudgetEpochs)
			if why == gahpo.StopFailures && rd.Run.Status == gahpo.RunRunning {
				// The run ends once what is under way is back, which may
				// take a training's time: say why now.
				c.mu.Lock()
				cause, left := search.FailuresError(c.rc, c.machine.Records()), len(c.machine.Outstanding())
				c.mu.Unlock()
				c.log.Warn("nothing more is bred: the run ends failed once the trainings under way are back", "under_way", left, "why", cause)
			}
		}
		for _, a := range proxyAlerts(c.proxyWarned, rd.Run.Proxy) {
			if a.Low {
				c.log.Warn("a rung ranks genomes unlike full training: its promotions are little better than chance",
					"rung", a.Rung, "epochs", a.Epochs, "spearman", float64(a.Spearman), "genomes", a.Genomes)
			} else {
				c.log.Info("a rung ranks genomes like full training again",
					"rung", a.Rung, "epochs", a.Epochs, "spearman", float64(a.Spearman), "genomes", a.Genomes)
			}
		}
		switch rd.Run.Status {
		case gahpo.RunFinal:
			switch {
			case rd.Final != nil:
			case c.rc.MultiFidelity():
				c.log.Warn("the best genome's weights were lost with the object store: training it again from scratch to the top rung for its model",
					"genome", rd.Run.Best, "epochs", c.rc.RungEpochs()[len(c.rc.RungEpochs())-1])
			default:
				c.log.Info("dispatching the final training", "genome", rd.Run.Best, "epochs", c.rc.FinalEpochs)
			}
		case gahpo.RunDone, gahpo.RunFailed:
			if rd.Final != nil && rd.Final.Retrained {
				c.log.Info("the best genome trained again: its weights are stored", "genome", rd.Final.GenomeID)
			}
			if rd.Final != nil {
				c.log.Info("final training stored", "genome", rd.Final.GenomeID, "test_loss", float64(rd.Final.TestLoss),
					"test_accuracy", rd.Final.TestAccuracy, "duration", rd.Final.Duration.Round(time.Second))
			}
		}
	}
}

// reportConfirm logs the start of a confirmation (its tasks are in rd):
// how many genomes it confirms, and a warning when that is fewer than
// --confirm-top asked, which leaves less, or nothing, to compare.
func (c *Coordinator) reportConfirm(rd search.Ready) {
	started := false
	for _, t := range rd.Publish {
		started = started || t.Replicate > 0
	}
	if !started || c.confirmLogged {
		return
	}
	c.confirmLogged = true
	c.mu.Lock()
	confirmed, reached := search.ConfirmCounts(c.rc, c.machine.Records())
	c.mu.Unlock()
	if confirmed >= c.rc.ConfirmTop {
		c.log.Info("confirming the best genomes on more seeds", "genomes", confirmed, "seeds", c.rc.ConfirmSeeds)
		return
	}
	msg := "confirming fewer genomes than --confirm-top asked: fewer reached the top rung"
	if confirmed == 1 {
		msg = "confirming a single genome: only one reached the top rung, so none is compared"
	}
	c.log.Warn(msg, "genomes", confirmed, "asked", c.rc.ConfirmTop, "reached_top_rung", reached, "seeds", c.rc.ConfirmSeeds)
}
