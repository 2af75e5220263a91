package regression

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"sync"
	"time"

	"github.com/gahpo/gahpo/models"
)

// checkData reports, wrapping ErrInvalidData, why d cannot be trained on.
func checkData(d *Data, minTrain, minTest int) error {
	switch {
	case d == nil:
		return fmt.Errorf("%w: nil data", ErrInvalidData)
	case len(d.TrainX) != len(d.TrainY):
		return fmt.Errorf("%w: %d train x but %d train y", ErrInvalidData, len(d.TrainX), len(d.TrainY))
	case len(d.TestX) != len(d.TestY):
		return fmt.Errorf("%w: %d test x but %d test y", ErrInvalidData, len(d.TestX), len(d.TestY))
	case len(d.TrainX) < minTrain:
		return fmt.Errorf("%w: %d training rows, need at least %d", ErrInvalidData, len(d.TrainX), minTrain)
	case len(d.TestX) < minTest:
		return fmt.Errorf("%w: %d test rows, need at least %d", ErrInvalidData, len(d.TestX), minTest)
	}
	return nil
}

// foldResult is the outcome of training and validating one fold.
type foldResult struct {
	loss     float64 // validation MSE
	examples int     // training examples processed
	diverged *divergence
	err      error // context error
}

// Fitness returns the mean validation MSE over the k folds of the training
// data (k = cfg.Folds): for each fold a fresh network is trained on the
// other folds for cfg.Epochs and scored on the held-out fold. The test part
// of d is not used. The folds run concurrently on up to GOMAXPROCS
// goroutines; the result does not depend on their scheduling.
//
// A training that diverges gives Loss +Inf and the reason in Diverged, with
// a nil error. Errors: an invalid cfg (ErrInvalidConfig), unusable data
// (ErrInvalidData), or ctx done (its cause, wrapped).
func Fitness(ctx context.Context, d *Data, cfg Config) (models.Eval, error) {
	start := time.Now()
	if err := cfg.Validate(); err != nil {
		return models.Eval{}, err
	}
	cfg = cfg.withDefaults()
	if err := checkData(d, cfg.Folds, 0); err != nil {
		return models.Eval{}, err
	}
	splitSeed := cfg.Seed
	if cfg.SplitSeed != 0 {
		splitSeed = cfg.SplitSeed
	}
	folds := kFold(len(d.TrainX), cfg.Folds, newRand(splitSeed, streamSplit))
	results := runFolds(ctx, d, cfg, folds)

	ev := models.Eval{Duration: time.Since(start)}
	for _, r := range results {
		ev.Images += r.examples
	}
	if secs := ev.Duration.Seconds(); secs > 0 {
		ev.ImagesPerSec = float64(ev.Images) / secs
	}
	if err := context.Cause(ctx); err != nil {
		return ev, fmt.Errorf("fitness: %w", err)
	}
	var sum float64
	for f, r := range results {
		switch {
		case r.diverged != nil:
			ev.Loss = math.Inf(1)
			ev.Diverged = fmt.Sprintf("fold %d of %d: %v", f+1, len(folds), r.diverged)
			return ev, nil
		case r.err != nil:
			// Only folds after a diverged one are cancelled, and those
			// are never reached here: anything else is a bug.
			return ev, fmt.Errorf("fitness: fold %d: %w", f+1, r.err)
		}
		sum += r.loss
	}
	ev.Loss = sum / float64(len(folds))
	return ev, nil
}

// errLaterFold cancels the folds after one that diverged.
var errLaterFold = errors.New("an earlier fold diverged")

// runFolds trains and validates every fold, on up to GOMAXPROCS goroutines
// taking the folds in order. When fold i diverges, the folds after i are
// cancelled or skipped, but those before i run to the end, so the first
// diverged fold, and hence the result, is the same whatever the scheduling.
func runFolds(ctx context.Context, d *Data, cfg Config, folds []fold) []foldResult {
	results := make([]foldResult, len(folds))
	var (
		mu       sync.Mutex
		next     int          // next fold to start
		firstDiv = len(folds) // lowest diverged fold so far
		cancels  = make([]context.CancelCauseFunc, len(folds))
	)
	worker := func() {
		for {
			mu.Lock()
			f := next
			next++
			if f >= len(folds) || f > firstDiv || ctx.Err() != nil {
				mu.Unlock()
				return
			}
			fctx, cancel := context.WithCancelCause(ctx)
			cancels[f] = cancel
			mu.Unlock()

			r := runFold(fctx, d, cfg, folds[f], uint64(f))
			cancel(nil)
			results[f] = r
			if r.diverged != nil {
				mu.Lock()
				if f < firstDiv {
					firstDiv = f
					for g := f + 1; g < len(folds); g++ {
						if cancels[g] != nil {
							cancels[g](errLaterFold)
						}
					}
				}
				mu.Unlock()
			}
		}
	}
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(folds)) {
		wg.Go(worker)
	}
	wg.Wait()
	return results
}

// runFold trains a fresh network on the fold's training part and returns its
// validation MSE.
func runFold(ctx context.Context, d *Data, cfg Config, fl fold, f uint64) foldResult {
	idx := append([]int(nil), fl.train...)
	t := newTrainer(ctx, d.TrainX, d.TrainY, idx, cfg, newRand(cfg.Seed, streamFold0+f))
	var r foldResult
	for e := 1; e <= cfg.Epochs; e++ {
		n, err := t.epoch(e)
		r.examples += n
		var div *divergence
		switch {
		case errors.As(err, &div):
			r.diverged = div
			return r
		case err != nil:
			r.err = err
			return r
		}
	}
	r.loss = t.net.mse(d.TrainX, d.TrainY, fl.val)
	if blewUp(r.loss) {
		r.diverged = &divergence{epoch: cfg.Epochs, loss: r.loss, what: "validation"}
	}
	return r
}
