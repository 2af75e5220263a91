package worker

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/gahpo/gahpo"
	"github.com/gahpo/gahpo/bus"
	"github.com/gahpo/gahpo/models"
)

// refuse hands a task this worker will not train back to the queue for
// the other workers, without counting an attempt, and logs the first
// refusal of each problem (and digest).
func (w *Worker) refuse(ctx context.Context, d *bus.Delivery, task gahpo.Task, why error) {
	cannotRun := errors.Is(why, models.ErrCannotRunHere)
	key := task.Problem + "\x00" + task.ProblemDigest + "\x00" + strconv.FormatBool(cannotRun)
	w.mu.Lock()
	first := !w.refused[key]
	w.refused[key] = true
	w.mu.Unlock()
	switch {
	case first && cannotRun:
		w.log.Warn("this worker cannot train the problem's tasks (its command or data are not here); handing them back for the workers that can",
			"problem", task.Problem, "reason", why)
	case first:
		w.log.Warn("refusing the tasks of a problem this worker was not given; workers that have it will train them",
			"problem", task.Problem, "problem_digest", task.ProblemDigest, "reason", why)
	default:
		w.log.Debug("refused a task", "run", task.RunID, "genome", task.GenomeID, "problem", task.Problem)
	}
	w.putBack(ctx, d, task, w.cfg.RefuseDelay)
}

// putBack hands a task back to the queue without counting its delivery as
// an attempt: a refused task, or one this worker stops training because it
// is being stopped (Ctrl-C, SIGTERM, a scale down). It asks the task's
// coordinator to queue it again (a result of kind gahpo.KindHandBack: a
// worker may not publish tasks), or, if that cannot be sent, queues a copy
// itself (bus.Conn.Requeue, where it may). It waits for the server to
// confirm, even when ctx has ended, so that a process stopping its NATS
// server next (gahpo run) loses nothing. If both fail, the task is handed
// back with a Nak after delay, which counts the delivery, confirmed by a
// flush.
func (w *Worker) putBack(ctx context.Context, d *bus.Delivery, task gahpo.Task, delay time.Duration) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	r := gahpo.Result{V: gahpo.MessageVersion, Kind: gahpo.KindHandBack, HandBack: task.Kind, RunID: task.RunID, GenomeID: task.GenomeID,
		Replicate: task.Replicate, Rung: task.Rung, Worker: w.cfg.Name, Attempt: d.Attempt, Token: task.Token}
	err := w.conn.PublishHandBack(rctx, d, r)
	if err == nil {
		return
	}
	w.log.Warn("cannot hand the task back to its coordinator; requeueing it", "err", err)
	if err = w.conn.Requeue(rctx, d); err == nil {
		return
	}
	w.log.Warn("cannot requeue the task; handing it back", "err", err)
	if err := d.Nak(delay); err == nil {
		_ = w.conn.Flush(rctx)
	}
}
