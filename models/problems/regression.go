package problems

import (
	"context"
	"maps"
	"math"
	"sync"

	"github.com/gahpo/gahpo"
	"github.com/gahpo/gahpo/models"
	"github.com/gahpo/gahpo/models/regression"
)

// Regression is the name of the 1-D regression problem.
const Regression = "regression"

// RegressionBudget is the regression's range of epochs: its epochs gene's
// range, which a multi-fidelity search replaces.
var RegressionBudget = Budget{Min: 10, Max: 300}

// regressionTrainer trains the regression's jobs; its data is built in and
// loaded once.
type regressionTrainer struct {
	once sync.Once
	data *regression.Data
	err  error
}

func (t *regressionTrainer) load() (*regression.Data, error) {
	t.once.Do(func() { t.data, t.err = regression.Load() })
	return t.data, t.err
}

// Train runs a regression job: the k-fold fitness at the genome's own
// epochs (a fitness task without epochs), the k-fold training from the
// checkpoint directory up to Task.Epochs, or the final training on the
// whole training set.
func (t *regressionTrainer) Train(ctx context.Context, job models.Job) (models.Outcome, error) {
	task := job.Task
	if err := checkGenome(regression.Space(), regression.ParamEpochs, task); err != nil {
		return models.Outcome{}, err
	}
	d, err := t.load()
	if err != nil {
		return models.Outcome{}, err
	}
	cfg, err := regression.ConfigFromParams(withEpochs(task.Params, task.Epochs))
	if err != nil {
		return models.Outcome{}, err
	}
	cfg.Seed = task.Seed
	report := func(rep gahpo.EpochReport) {
		if job.OnEpoch != nil {
			job.OnEpoch(rep)
		}
	}
	switch {
	case task.Kind == gahpo.KindFinal:
		// The genome's own epochs, unless the run asks for more than one
		// (--final-epochs N): its full training is one longer fit on all
		// the data.
		if task.Epochs > 1 {
			cfg.Epochs = task.Epochs
		}
		var curve []gahpo.EpochReport
		fr, err := regression.TrainFull(ctx, d, cfg, func(m models.EpochMetrics) {
			rep := gahpo.EpochReport{Epoch: m.Epoch, Duration: m.Duration, Metrics: map[string]gahpo.Float{
				"train_loss": gahpo.Float(m.TrainLoss), "test_loss": gahpo.Float(m.TestLoss), "lr": gahpo.Float(m.LR)}}
			curve = append(curve, rep)
			report(rep)
		})
		if err != nil {
			return models.Outcome{}, err
		}
		return models.Outcome{Fitness: fr.TestLoss, TestLoss: fr.TestLoss, Curve: curve, Weights: fr.Weights}, nil
	case task.Epochs == 0:
		cfg.SplitSeed = task.DataSeed
		ev, err := regression.Fitness(ctx, d, cfg)
		if err != nil {
			return models.Outcome{}, err
		}
		out := models.Outcome{Fitness: ev.Loss, ImagesPerSec: ev.ImagesPerSec, Diverged: ev.Diverged}
		if ev.Diverged == "" {
			rep := gahpo.EpochReport{Epoch: cfg.Epochs, Duration: ev.Duration, Metrics: map[string]gahpo.Float{"val_loss": gahpo.Float(ev.Loss)}}
			out.Curve = []gahpo.EpochReport{rep}
			report(rep)
		}
		return out, nil
	}
	cfg.SplitSeed = task.DataSeed
	var from *regression.Config
	if task.FromParams != nil {
		// Population based training: the checkpoint is another genome's.
		// Its params were checked with the task's.
		c, err := regression.ConfigFromParams(withEpochs(task.FromParams, task.Epochs))
		if err != nil {
			return models.Outcome{}, err
		}
		c.Seed = task.FromSeed
		from = &c
	}
	var curve []gahpo.EpochReport
	o, err := regression.Train(ctx, d, cfg, regression.Run{Dir: job.CheckpointDir, To: task.Epochs, Test: task.Test, From: from,
		OnEpoch: func(e regression.Epoch) {
			m := map[string]gahpo.Float{"train_loss": gahpo.Float(e.TrainLoss), "val_loss": gahpo.Float(e.ValLoss)}
			if task.Test {
				m["test_loss"] = gahpo.Float(e.TestLoss)
			}
			rep := gahpo.EpochReport{Epoch: e.Epoch, Duration: e.Duration, Metrics: m}
			curve = append(curve, rep)
			report(rep)
		}})
	if err != nil {
		return models.Outcome{}, err
	}
	out := models.Outcome{Fitness: o.Fitness, ImagesPerSec: o.ImagesPerSec, Diverged: o.Diverged, Curve: curve, TestLoss: o.TestLoss}
	if task.WeightsTo != "" { // the coordinator keeps the model of a top-rung training
		out.Weights = o.Weights
	}
	return out, nil
}

// withEpochs returns params with the epochs gene set to epochs when a
// multi-fidelity run left it out (its rungs decide the epochs: Run.To);
// params themselves otherwise.
func withEpochs(params map[string]float64, epochs int) map[string]float64 {
	if _, has := params[regression.ParamEpochs]; has || epochs < 1 {
		return params
	}
	out := maps.Clone(params)
	out[regression.ParamEpochs] = float64(epochs)
	return out
}

func init() {
	must(Register(Problem{
		Name:   Regression,
		Space:  regression.Space,
		Budget: RegressionBudget,
		// The rungs of halving and pbt decide the epochs.
		BudgetGene: regression.ParamEpochs,
		Trainer:    &regressionTrainer{},
		// A mean squared error is never below 0.
		FitnessMin: 0, FitnessMax: math.Inf(1),
	}))
}
