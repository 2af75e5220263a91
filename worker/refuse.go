package worker

import (
	"context"
	"time"

	"github.com/gahpo/gahpo"
	"github.com/gahpo/gahpo/bus"
)

// refuse hands a task this worker will not train back to the queue for
// the other workers, without counting an attempt, and logs the first
// refusal of each problem (and digest).
func (w *Worker) refuse(ctx context.Context, d *bus.Delivery, task gahpo.Task, why error) {
	key := task.Problem + "\x00" + task.ProblemDigest
	w.mu.Lock()
	first := !w.refused[key]
	w.refused[key] = true
	w.mu.Unlock()
	if first {
		w.log.Warn("refusing the tasks of a problem this worker was not given; workers that have it will train them",
			"problem", task.Problem, "problem_digest", task.ProblemDigest, "reason", why)
	} else {
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
