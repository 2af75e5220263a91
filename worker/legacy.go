package worker

import (
	"context"
	"fmt"

	"github.com/gahpo/gahpo"
	"github.com/gahpo/gahpo/models"
)

// LegacyTrainer is a trainer of the older two-method form
// (models/problems.Trainer before its registry): a one-epoch fitness and
// a full training from scratch.
type LegacyTrainer interface {
	Fitness(ctx context.Context, task gahpo.Task, dataDir string) (models.Eval, error)
	Final(ctx context.Context, task gahpo.Task, dataDir string, onEpoch func(models.EpochMetrics)) (models.FinalResult, error)
}

// Legacy adapts a LegacyTrainer to Trainer. It trains fitness tasks of one
// epoch from scratch (Task.Epochs 0 or 1, no checkpoint; anything else is
// models.ErrUntrainable) and final trainings, whose epochs it reports with
// the metric names lr, train_loss, test_loss and test_accuracy. A final
// training's Outcome.Fitness is its test loss, as the older result's was.
// It leaves the checkpoint directory empty.
type Legacy struct {
	T LegacyTrainer
}

var _ Trainer = Legacy{}

// Train runs the job with the legacy trainer.
func (l Legacy) Train(ctx context.Context, job models.Job) (models.Outcome, error) {
	task := job.Task
	switch task.Kind {
	case gahpo.KindFitness:
		if task.Epochs > 1 || task.Checkpoint != nil {
			return models.Outcome{}, fmt.Errorf("%w: this worker's %q trainer cannot train %d epochs from a checkpoint (one-epoch fitness only)",
				models.ErrUntrainable, task.Problem, task.Epochs)
		}
		ev, err := l.T.Fitness(ctx, task, job.DataDir)
		if err != nil {
			return models.Outcome{}, err
		}
		out := models.Outcome{Fitness: ev.Loss, Accuracy: ev.Accuracy, ImagesPerSec: ev.ImagesPerSec, Diverged: ev.Diverged}
		if ev.Diverged == "" {
			loss, acc := "val_loss", "val_accuracy"
			if task.OnTest {
				loss, acc = "test_loss", "test_accuracy"
			}
			rep := gahpo.EpochReport{Epoch: 1, Metrics: map[string]gahpo.Float{loss: gahpo.Float(ev.Loss)}, Duration: ev.Duration}
			if ev.Accuracy > 0 {
				rep.Metrics[acc] = gahpo.Float(ev.Accuracy)
			}
			out.Curve = []gahpo.EpochReport{rep}
			if job.OnEpoch != nil {
				job.OnEpoch(rep)
			}
		}
		return out, nil
	case gahpo.KindFinal:
		var curve []gahpo.EpochReport
		fr, err := l.T.Final(ctx, task, job.DataDir, func(m models.EpochMetrics) {
			rep := report(m)
			curve = append(curve, rep)
			if job.OnEpoch != nil {
				job.OnEpoch(rep)
			}
		})
		if err != nil {
			return models.Outcome{}, err
		}
		if len(curve) == 0 { // a trainer that reports only at the end
			for _, m := range fr.Epochs {
				curve = append(curve, report(m))
			}
		}
		return models.Outcome{Fitness: fr.TestLoss, TestLoss: fr.TestLoss, TestAccuracy: fr.TestAccuracy, Curve: curve, Weights: fr.Weights}, nil
	}
	return models.Outcome{}, fmt.Errorf("worker: unknown task kind %q", task.Kind)
}

// report gives an older epoch's metrics as a report.
func report(m models.EpochMetrics) gahpo.EpochReport {
	metrics := map[string]gahpo.Float{"lr": gahpo.Float(m.LR), "train_loss": gahpo.Float(m.TrainLoss), "test_loss": gahpo.Float(m.TestLoss)}
	if m.TestAccuracy > 0 {
		metrics["test_accuracy"] = gahpo.Float(m.TestAccuracy)
	}
	return gahpo.EpochReport{Epoch: m.Epoch, Metrics: metrics, Duration: m.Duration}
}
