package coordinator

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/gahpo/gahpo"
	"github.com/gahpo/gahpo/bus"
	"github.com/gahpo/gahpo/ga"
	"github.com/gahpo/gahpo/store"
)

// handle stores one result and acknowledges it. An error means the store
// and the engine may disagree: the coordinator stops, and a restart resumes
// from the store.
func (c *Coordinator) handle(ctx context.Context, d *bus.Delivery) error {
	var r gahpo.Result
	if err := gahpo.Decode(d.Data, &r); err != nil {
		c.log.Error("rejecting malformed result", "subject", d.Subject, "err", err)
		_ = d.Term("malformed result: " + err.Error())
		return nil
	}
	if r.RunID != c.id {
		c.log.Error("rejecting result of another run", "result_run", r.RunID)
		_ = d.Term("result of another run")
		return nil
	}
	var next func(context.Context) error
	var err error
	switch r.Kind {
	case gahpo.KindFitness:
		next, err = c.onFitness(r)
	case gahpo.KindFinal:
		err = c.onFinal(ctx, r)
	}
	if err != nil {
		return err
	}
	if next != nil {
		if err := next(ctx); err != nil {
			return err
		}
	}
	if err := d.Ack(ctx); err != nil {
		// The result is stored; a redelivery is ignored by genome id.
		c.log.Warn("ack of a stored result failed", "genome", r.GenomeID, "err", err)
	}
	c.drawProgress()
	return nil
}

// onFitness records a fitness in the engine and the store in one
// transaction. It returns the publishing to do once the result is stored.
func (c *Coordinator) onFitness(r gahpo.Result) (func(context.Context) error, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.holders, r.GenomeID)
	if c.run.Status != gahpo.RunRunning {
		c.log.Debug("ignoring late result", "genome", r.GenomeID)
		return nil, nil
	}
	g, ok := c.engine.Genome(r.GenomeID)
	if !ok {
		c.log.Debug("ignoring result of an earlier generation", "genome", r.GenomeID)
		return nil, nil
	}
	prev := c.engine.Current()
	fitness := float64(r.Fitness)
	if r.Failure != "" {
		fitness = math.Inf(1)
	}
	advanced, err := c.engine.Tell(r.GenomeID, fitness)
	if errors.Is(err, ga.ErrAlreadyTold) {
		c.log.Debug("ignoring repeated result", "genome", r.GenomeID, "attempt", r.Attempt)
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("coordinator: tell genome %d: %w", r.GenomeID, err)
	}

	rec := c.record(g, nil)
	rec.Fitness, rec.Accuracy, rec.Worker = gahpo.Float(fitness), r.Accuracy, r.Worker
	rec.Duration, rec.ImagesPerSec, rec.Attempts, rec.Failure = r.Duration, r.ImagesPerSec, r.Attempt, r.Failure
	rec.Finished = c.cfg.Now()
	rec.Status = gahpo.GenomeDone
	if r.Failure != "" || math.IsInf(fitness, 0) || math.IsNaN(fitness) {
		rec.Status = gahpo.GenomeFailed
		if rec.Failure == "" {
			rec.Failure = fmt.Sprintf("fitness %v", fitness)
		}
	}
	if r.Failure == "" && r.Duration > 0 {
		c.evalTime += r.Duration
		c.evalN++
	}
	ch := store.Change{Genomes: []gahpo.GenomeRecord{rec}}
	// Duplicates in this generation waiting on this genome now have its fitness.
	for _, other := range prev {
		if other.DuplicateOf == r.GenomeID {
			dup := c.record(other, ch.Genomes)
			dup.Status, dup.Fitness, dup.Finished, dup.Accuracy = gahpo.GenomeDuplicate, gahpo.Float(fitness), rec.Finished, rec.Accuracy
			ch.Genomes = append(ch.Genomes, dup)
		}
	}
	var publish []ga.Genome
	run := c.run
	if advanced {
		// Summarise every generation completed by this result: usually
		// one, more when a bred generation held only known duplicates.
		last := c.engine.Generation() - 1
		if c.engine.Done() {
			last = c.engine.Generation()
		}
		byGen := map[int][]ga.Genome{}
		for _, h := range c.engine.History() {
			byGen[h.Generation] = append(byGen[h.Generation], h)
		}
		for gen := prev[0].Generation; gen <= last; gen++ {
			if gen > prev[0].Generation {
				ch.Genomes = append(ch.Genomes, c.records(byGen[gen], ch.Genomes)...)
			}
			ch.Summaries = append(ch.Summaries, c.summary(byGen[gen]))
		}
		c.genStart = c.cfg.Now()
		clear(c.holders)
		if c.engine.Done() {
			best, _, _ := c.engine.Best()
			run.Best = best.ID
			if run.Config.FinalEpochs > 0 && best.ID != 0 {
				run.Status = gahpo.RunFinal
			} else {
				run.Status, run.Ended = gahpo.RunDone, c.cfg.Now()
			}
		} else {
			ch.Genomes = append(ch.Genomes, c.records(c.engine.Current(), ch.Genomes)...)
			publish = c.engine.Pending()
		}
		ch.Run = &run
		// The engine is checkpointed once a generation; a result within a
		// generation is replayed from its genome record on resume.
		state, err := c.engine.MarshalJSON()
		if err != nil {
			return nil, fmt.Errorf("coordinator: checkpoint: %w", err)
		}
		ch.Engine = state
	}
	if err := c.store.Commit(c.id, ch); err != nil {
		return nil, fmt.Errorf("coordinator: store result of genome %d: %w", r.GenomeID, err)
	}
	c.run = run
	for _, sum := range ch.Summaries {
		c.log.Info("generation finished", "generation", sum.Generation, "best", sum.Best, "fitness", float64(sum.Fitness), "mean", float64(sum.Mean), "failed", sum.Failed)
		if c.progress != nil {
			c.progress.generationDone(sum)
		}
	}
	switch {
	case run.Status == gahpo.RunFinal:
		return c.publishFinal, nil
	case len(publish) > 0:
		return func(ctx context.Context) error {
			for _, g := range publish {
				if err := c.conn.PublishTask(ctx, c.task(g)); err != nil {
					return err
				}
			}
			return nil
		}, nil
	}
	return nil, nil
}

// summary describes a generation whose genomes all have a fitness.
func (c *Coordinator) summary(gen []ga.Genome) gahpo.GenerationSummary {
	sum := gahpo.GenerationSummary{Generation: gen[0].Generation, Finished: c.cfg.Now(), Fitness: gahpo.Float(math.Inf(1))}
	var total float64
	var n int
	best := math.NaN()
	for _, g := range gen {
		f, _ := c.engine.Fitness(g.ID)
		if sum.Best == 0 || ga.Better(f, g.ID, best, sum.Best) {
			sum.Best, best = g.ID, f
		}
		if !ga.Finite(f) {
			sum.Failed++
			continue
		}
		total += f
		n++
	}
	if ga.Finite(best) {
		sum.Fitness = gahpo.Float(best)
	}
	sum.Mean = gahpo.Float(math.NaN())
	if n > 0 {
		sum.Mean = gahpo.Float(total / float64(n))
	}
	return sum
}

// onFinal stores the final training.
func (c *Coordinator) onFinal(ctx context.Context, r gahpo.Result) error {
	c.mu.Lock()
	run := c.run
	c.mu.Unlock()
	if run.Status != gahpo.RunFinal || r.GenomeID != run.Best {
		c.log.Debug("ignoring late final result", "genome", r.GenomeID)
		return nil
	}
	rec, err := c.store.Genome(run.ID, r.GenomeID)
	if err != nil {
		return fmt.Errorf("coordinator: final: %w", err)
	}
	var weights []byte
	if r.WeightsObject != "" {
		weights, err = c.conn.GetBytes(ctx, r.WeightsBucket, r.WeightsObject, "")
		if err != nil {
			return fmt.Errorf("coordinator: final weights: %w", err)
		}
	}
	now := c.cfg.Now()
	ft := gahpo.FinalTraining{
		GenomeID: r.GenomeID, Params: rec.Params, Epochs: r.Epochs, TestLoss: r.Fitness, TestAccuracy: r.TestAccuracy,
		Duration: r.Duration, Worker: r.Worker, WeightsSize: len(weights), Finished: now,
	}
	if len(weights) > 0 {
		ft.WeightsSHA = bus.Digest(weights)
	}
	run.Status, run.Ended = gahpo.RunDone, now
	if r.Failure != "" {
		run.Status, run.Error = gahpo.RunFailed, "final training failed: "+r.Failure
	}
	if err := c.store.PutFinal(run.ID, run, ft, weights); err != nil {
		return fmt.Errorf("coordinator: store final training: %w", err)
	}
	c.mu.Lock()
	c.run = run
	c.mu.Unlock()
	c.log.Info("final training stored", "genome", r.GenomeID, "test_loss", float64(r.Fitness), "test_accuracy", r.TestAccuracy, "duration", r.Duration.Round(time.Second))
	return nil
}
