package regression

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/gahpo/gahpo/models"
)

// maxReports bounds the number of evenly spaced epochs that TrainFull
// reports (the last epoch is always reported as well).
const maxReports = 50

// reportEvery returns the spacing of reported epochs for a training of n
// epochs: ceil(n / maxReports).
func reportEvery(n int) int { return (n + maxReports - 1) / maxReports }

// TrainFull trains one network on the whole training set for cfg.Epochs
// (cfg.Folds is ignored) and returns the test MSE of the final network with
// its weights, which Predict loads.
//
// Every ⌈Epochs/50⌉-th epoch and the last one are reported, at most 51 in
// all: TrainLoss and TestLoss are the MSE of the network on the whole
// training and test sets after that epoch, Duration the wall time of that
// epoch's SGD steps. Each report is appended to the result's Epochs and
// passed to onEpoch, when not nil, as soon as it is measured.
//
// When the training diverges the result holds the epochs reported so far,
// TestLoss +Inf and no weights, and the error wraps ErrDiverged. Other
// errors: an invalid cfg (ErrInvalidConfig), unusable data (ErrInvalidData),
// or ctx done (its cause, wrapped, with the epochs reported so far).
func TrainFull(ctx context.Context, d *Data, cfg Config, onEpoch func(models.EpochMetrics)) (models.FinalResult, error) {
	start := time.Now()
	if err := cfg.Validate(); err != nil {
		return models.FinalResult{}, err
	}
	cfg = cfg.withDefaults()
	if err := checkData(d, 1, 1); err != nil {
		return models.FinalResult{}, err
	}
	idx := make([]int, len(d.TrainX))
	for i := range idx {
		idx[i] = i
	}
	t := newTrainer(ctx, d.TrainX, d.TrainY, idx, cfg, newRand(cfg.Seed, streamFull))
	every := reportEvery(cfg.Epochs)
	var res models.FinalResult
	diverged := func(div *divergence) (models.FinalResult, error) {
		res.TestLoss = math.Inf(1)
		res.Duration = time.Since(start)
		return res, fmt.Errorf("train full: %w: %v", ErrDiverged, div)
	}
	for e := 1; e <= cfg.Epochs; e++ {
		epochStart := time.Now()
		_, err := t.epoch(e)
		took := time.Since(epochStart)
		var div *divergence
		switch {
		case errors.As(err, &div):
			return diverged(div)
		case err != nil:
			res.Duration = time.Since(start)
			return res, fmt.Errorf("train full: %w", err)
		}
		if e%every != 0 && e != cfg.Epochs {
			continue
		}
		m := models.EpochMetrics{
			Epoch:     e,
			LR:        cfg.LR,
			TrainLoss: t.net.mse(d.TrainX, d.TrainY, nil),
			TestLoss:  t.net.mse(d.TestX, d.TestY, nil),
			Duration:  took,
		}
		for _, l := range [...]struct {
			what string
			v    float64
		}{{"training", m.TrainLoss}, {"test", m.TestLoss}} {
			if blewUp(l.v) {
				return diverged(&divergence{epoch: e, loss: l.v, what: l.what})
			}
		}
		res.Epochs = append(res.Epochs, m)
		if onEpoch != nil {
			onEpoch(m)
		}
	}
	res.TestLoss = res.Epochs[len(res.Epochs)-1].TestLoss
	res.Weights = t.net.marshal()
	res.Duration = time.Since(start)
	return res, nil
}
