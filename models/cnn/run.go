package cnn

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"

	"gorgonia.org/tensor"

	"github.com/gahpo/gahpo/models/mnist"
)

// Run says how far Train trains a genome and where it keeps the training's
// state between calls.
type Run struct {
	// Dir holds the training's state, in the file StateFile. Without that
	// file (an empty directory) the training starts at epoch 0 from
	// Config.Seed's weights; with it, it goes on from there. Train writes
	// the state back after its last epoch. "" starts from scratch and keeps
	// nothing.
	Dir string
	// To is the number of epochs to reach, counted from the start of the
	// training (not from the checkpoint); at least 1, and more than the
	// checkpoint holds. It replaces Config.Epochs, which Train ignores.
	To int
	// Test also measures the test set after every epoch.
	Test bool
	// Probe copies conv1's weights into every Epoch.
	Probe bool
	// OnEpoch, when not nil, receives each epoch's figures as soon as they
	// are known.
	OnEpoch func(Epoch)
	// From, when not nil, is the genome whose training wrote the state in
	// Dir, where it is not cfg (population based training: a genome goes
	// on from another's weights with its own hyperparameters). The state
	// must exist and be From's; the learning rate of the next epoch is the
	// state's scaled by cfg.LR/From.LR, and cfg's gamma, batch size,
	// weight decay and shift act from there. Without From, the state must
	// be cfg's.
	From *Config
}

// Epoch holds the figures of one epoch of Train.
type Epoch struct {
	// Epoch is the epoch's number from the start of the training, 1-based.
	Epoch int
	// LR is the learning rate used during the epoch.
	LR float64
	// TrainLoss is the mean loss over the epoch's batches (with dropout,
	// each measured before its step).
	TrainLoss float64
	// ValLoss and ValAccuracy are the mean negative log-likelihood and the
	// accuracy on the held-out set after the epoch: the validation set, or
	// the test set when Config.FitnessOnTest.
	ValLoss, ValAccuracy float64
	// TestLoss and TestAccuracy are the same on the test set, when
	// Run.Test.
	TestLoss, TestAccuracy float64
	// Conv1 holds conv1's 288 weights after the epoch in PyTorch's layout
	// (32×1×3×3), when Run.Probe.
	Conv1 []float32
	// Duration is the wall time of the epoch's training and measures.
	Duration time.Duration
}

// Outcome is the result of Train.
type Outcome struct {
	// Fitness is the last epoch's held-out loss (ValLoss): what the search
	// minimises. +Inf when the training diverged.
	Fitness float64
	// Accuracy is the last epoch's held-out accuracy.
	Accuracy float64
	// ImagesPerSec is the training throughput of this call (measures
	// excluded).
	ImagesPerSec float64
	// Epochs holds the epochs this call trained, in order, each complete.
	Epochs []Epoch
	// Done is the number of epochs the network has been trained in all:
	// Run.To unless the training diverged.
	Done int
	// Diverged, when not empty, says why the training stopped as diverged
	// (a NaN or infinite loss, activation or weight); Fitness is then +Inf
	// and Run.Dir keeps the state it had before the call.
	Diverged string
	// Weights is the trained network, serialised as TrainFull's (Evaluate
	// loads it); nil when the training diverged.
	Weights []byte
}

// Train trains the genome cfg on s.Train from the state kept in run.Dir up
// to run.To epochs in all, measuring the held-out set (s.Val, or s.Test
// when cfg.FitnessOnTest) and, when run.Test, the test set after every
// epoch. The learning rate is multiplied by cfg.Gamma after each epoch, as
// TrainFull does, so gamma acts from the second epoch on. Then it writes
// the state back into run.Dir: weights, Adadelta's running averages, the
// learning rate, the random sources of the shuffling and the dropout, and
// the epochs done. Training on from a checkpoint gives exactly the numbers
// (and weights) of one training straight through, on the same machine; a
// training to 1 epoch gives Fitness's loss, and one to n epochs TrainFull's
// test figures.
//
// A divergence is not an error: Outcome.Fitness is +Inf with the reason
// in Outcome.Diverged, and run.Dir is left as it was. Errors: an invalid
// cfg or run.To < 1 (ErrConfig), unusable data, a state file of another
// training or already at run.To epochs or beyond (ErrCheckpoint), an
// unreadable state file (ErrBadState, naming it), a failure to write the
// state, a cancelled ctx (checked between batches; run.Dir is then left as
// it was), or a failure of gorgonia (ErrPanic).
func Train(ctx context.Context, s mnist.Splits, cfg Config, run Run) (out Outcome, err error) {
	defer recoverPanic(&err)
	if err := cfg.Validate(); err != nil {
		return Outcome{}, err
	}
	if run.To < 1 {
		return Outcome{}, fmt.Errorf("%w: train to %d epochs", ErrConfig, run.To)
	}
	held, heldName := s.Val, "validation"
	if cfg.FitnessOnTest {
		held, heldName = s.Test, "test"
	}
	if err := checkSet("training", s.Train); err != nil {
		return Outcome{}, err
	}
	if err := checkSet(heldName, held); err != nil {
		return Outcome{}, err
	}
	if run.Test {
		if err := checkSet("test", s.Test); err != nil {
			return Outcome{}, err
		}
	}
	id := identity(cfg, s.Train)
	want := id
	if run.From != nil {
		if err := run.From.Validate(); err != nil {
			return Outcome{}, fmt.Errorf("%w (the genome the state comes from)", err)
		}
		want = identity(*run.From, s.Train)
	}
	st, err := loadState(run.Dir)
	if err != nil {
		return Outcome{}, err
	}
	if st == nil && run.From != nil {
		return Outcome{}, fmt.Errorf("%w: no %s in %q to go on from (%s)", ErrCheckpoint, StateFile, run.Dir, want)
	}
	var p params
	done := 0
	if st == nil {
		p = newParams(tensor.Float32, cfg.Seed)
	} else {
		if st.identity != want {
			return Outcome{}, fmt.Errorf("%w: %s was written for %s; this training goes on from %s", ErrCheckpoint, StateFile, st.identity, want)
		}
		p, done = st.weights, st.done
	}
	if run.To <= done {
		return Outcome{}, fmt.Errorf("%w: %s already holds %d epochs, asked to train to %d", ErrCheckpoint, StateFile, done, run.To)
	}
	tr, err := newTrainer(p, cfg)
	if err != nil {
		return Outcome{}, err
	}
	if st != nil {
		if err := tr.restore(st); err != nil {
			return Outcome{}, fmt.Errorf("%w %s: %w", ErrBadState, StateFile, err)
		}
		if run.From != nil {
			tr.opt.LR = st.lr * cfg.LR / run.From.LR
		}
		tr.done = done
	}
	ev, err := newEvaluator(p)
	if err != nil {
		return Outcome{}, err
	}
	sched := StepLR{Opt: tr.opt, Gamma: cfg.Gamma}
	var training time.Duration
	out.Done = done
	for e := done + 1; e <= run.To; e++ {
		m, took, err := trainEpoch(ctx, tr, ev, s, held, p, e, run)
		training += took
		if secs := training.Seconds(); secs > 0 {
			out.ImagesPerSec = float64(tr.images) / secs
		}
		if errors.Is(err, ErrDiverged) {
			out.Fitness, out.Accuracy, out.Weights = math.Inf(1), 0, nil
			out.Diverged = fmt.Sprintf("epoch %d: %v", e, err)
			return out, nil
		}
		if err != nil {
			return Outcome{}, fmt.Errorf("cnn: epoch %d: %w", e, err)
		}
		out.Epochs = append(out.Epochs, m)
		out.Fitness, out.Accuracy, out.Done = m.ValLoss, m.ValAccuracy, e
		if run.OnEpoch != nil {
			run.OnEpoch(m)
		}
		sched.Step()
	}
	if run.Dir != "" {
		st, err := tr.capture(id, out.Done, p)
		if err != nil {
			return Outcome{}, err
		}
		if err := saveState(run.Dir, st); err != nil {
			return Outcome{}, err
		}
	}
	out.Weights = p.marshal()
	return out, nil
}

// trainEpoch trains epoch e and measures it; it also returns the time the
// training part took.
func trainEpoch(ctx context.Context, tr *trainer, ev *evaluator, s mnist.Splits, held *mnist.Set, p params, e int, run Run) (m Epoch, training time.Duration, err error) {
	start := time.Now()
	m = Epoch{Epoch: e, LR: tr.opt.LR}
	m.TrainLoss, err = tr.epoch(ctx, s.Train)
	training = time.Since(start)
	if err != nil {
		return m, training, err
	}
	if m.ValLoss, m.ValAccuracy, err = ev.evaluate(ctx, held); err != nil {
		return m, training, fmt.Errorf("held-out set: %w", err)
	}
	if run.Test {
		if held == s.Test {
			m.TestLoss, m.TestAccuracy = m.ValLoss, m.ValAccuracy
		} else if m.TestLoss, m.TestAccuracy, err = ev.evaluate(ctx, s.Test); err != nil {
			return m, training, fmt.Errorf("test set: %w", err)
		}
	}
	if run.Probe {
		m.Conv1 = slices.Clone(values[float32](p[0]))
	}
	m.Duration = time.Since(start)
	return m, training, nil
}

// Metrics returns the epoch's figures under the names of the per-epoch
// reports: lr, train_loss, val_loss, val_accuracy and, when test (the
// run's Test), test_loss and test_accuracy.
func (e Epoch) Metrics(test bool) map[string]float64 {
	m := map[string]float64{"lr": e.LR, "train_loss": e.TrainLoss, "val_loss": e.ValLoss, "val_accuracy": e.ValAccuracy}
	if test {
		m["test_loss"], m["test_accuracy"] = e.TestLoss, e.TestAccuracy
	}
	return m
}
