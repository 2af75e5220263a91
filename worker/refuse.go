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
		w.log.Warn("this worker cannot run the problem's training command; handing its tasks back for the workers that can",
			"problem", task.Problem, "reason", why)
	case first:
		w.log.Warn("refusing the tasks of a problem this worker was not given; workers that have it will train them",
			"problem", task.Problem, "problem_digest", task.ProblemDigest, "reason", why)
	default:
		w.log.Debug("refused a task", "run", task.RunID, "genome", task.GenomeID, "problem", task.Problem)
	}
	w.putBack(ctx, d, w.cfg.RefuseDelay)
}

// putBack hands a task back to the queue without counting its delivery as
// an attempt (see bus.Conn.Requeue): a refused task, or one this worker
// stops training because it is being stopped (Ctrl-C, SIGTERM, a scale
// down). It waits for the server to confirm, even when ctx has ended, so
// that a process stopping its NATS server next (gahpo run) loses nothing.
// If the copy cannot be queued, the task is handed back with a Nak after
// delay, which counts the delivery, confirmed by a flush.
func (w *Worker) putBack(ctx context.Context, d *bus.Delivery, delay time.Duration) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	err := w.conn.Requeue(rctx, d)
	if err == nil {
		return
	}
	w.log.Warn("cannot requeue the task; handing it back", "err", err)
	if err := d.Nak(delay); err == nil {
		_ = w.conn.Flush(rctx)
	}
}
