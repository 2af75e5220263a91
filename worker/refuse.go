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
	// Put back whole even when the worker is stopping.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := w.conn.Requeue(rctx, d); err != nil {
		w.log.Warn("cannot requeue a refused task; handing it back", "err", err)
		_ = d.Nak(w.cfg.RefuseDelay)
	}
}
