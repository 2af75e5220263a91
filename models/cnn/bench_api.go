package cnn

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"

	"gorgonia.org/tensor"

	"github.com/gahpo/gahpo/models/mnist"
)

// Stepper trains one network one batch at a time, on batches the caller
// chooses, for benchmarks that time training steps the way the PyTorch
// peer does. Like a PyTorch model, it may step batches of any size in any
// order: the weights, the Adadelta state and the dropout stream are kept
// across sizes. It is not safe for concurrent use.
type Stepper struct {
	cfg   Config
	p     params
	train *mnist.Set
	opt   *Adadelta
	drop  *rand.Rand // dropout masks, one stream across sizes
	tr    *trainer   // compiled for the size of the last batch
	ev    *evaluator // compiled on the first Evaluate
}

// NewStepper returns a Stepper with cfg's initial weights (from cfg.Seed),
// learning rate and weight decay, training on images of train; it compiles
// the training graph for cfg.BatchSize. It returns ErrConfig (wrapped) for
// an invalid cfg.
func NewStepper(cfg Config, train *mnist.Set) (*Stepper, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := checkSet("training", train); err != nil {
		return nil, err
	}
	p := newParams(tensor.Float32, cfg.Seed)
	tr, err := newTrainer(p, cfg)
	if err != nil {
		return nil, err
	}
	return &Stepper{cfg: cfg, p: p, train: train, opt: tr.opt, drop: tr.drop, tr: tr}, nil
}

// Step trains on the images indices of the training set as one batch:
// forward, backward and one Adadelta step. It returns the batch's mean
// loss. A batch of a new size compiles a new graph first (which a timed
// loop should do in its warm-up); only the last size's graph is kept, and
// the old one is garbage-collected before the new one is built, so that
// the peak memory is that of the largest graph. A divergence returns
// ErrDiverged (wrapped); ctx is checked first.
func (s *Stepper) Step(ctx context.Context, indices []int) (loss float64, err error) {
	defer recoverPanic(&err)
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("cnn: step: %w", err)
	}
	if len(indices) < 1 || len(indices) > MaxBatchSize {
		return 0, fmt.Errorf("%w: batch of %d images outside 1..%d", ErrConfig, len(indices), MaxBatchSize)
	}
	for _, i := range indices {
		if i < 0 || i >= s.train.N {
			return 0, fmt.Errorf("cnn: step: image %d outside the training set of %d", i, s.train.N)
		}
	}
	if s.tr == nil || s.tr.net.batch != chunkSize(len(indices)) { // nil after a failed compilation
		cfg := s.cfg
		cfg.BatchSize = len(indices)
		s.tr = nil
		runtime.GC() // reuse the old graph's memory for the new one
		tr, err := newTrainer(s.p, cfg)
		if err != nil {
			return 0, err
		}
		tr.opt, tr.drop = s.opt, s.drop
		s.tr = tr
	}
	loss, err = s.tr.step(s.train, indices, 0)
	if err != nil {
		return loss, fmt.Errorf("cnn: step: %w", err)
	}
	return loss, nil
}

// Evaluate returns the mean negative log-likelihood and the accuracy of
// the current weights on set, without dropout. A non-finite loss returns
// ErrDiverged (wrapped); ctx is checked between batches of EvalBatch.
func (s *Stepper) Evaluate(ctx context.Context, set *mnist.Set) (loss, accuracy float64, err error) {
	defer recoverPanic(&err)
	if err := checkSet("evaluation", set); err != nil {
		return 0, 0, err
	}
	if s.ev == nil {
		if s.ev, err = newEvaluator(s.p); err != nil {
			return 0, 0, err
		}
	}
	return s.ev.evaluate(ctx, set)
}
