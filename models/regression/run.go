package regression

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"runtime"
	"sync"
	"time"

	"github.com/gahpo/gahpo/models"
)

// Run says how far Train trains a genome and where it keeps the training's
// state between calls.
type Run struct {
	// Dir holds the training's state, in the file StateFile. Without that
	// file (an empty directory) the training starts at epoch 0 from
	// Config.Seed; with it, it goes on from there. Train writes the state
	// back after its last epoch. "" starts from scratch and keeps nothing.
	Dir string
	// To is the number of epochs of every network to reach, counted from
	// the start of the training: at least 1, at most MaxEpochs, and more
	// than the checkpoint holds. It replaces Config.Epochs, which Train
	// ignores: under multi-fidelity the budget's epochs replace the
	// genome's epochs gene.
	To int
	// Test also measures the test MSE of the network trained on the whole
	// training set after every epoch (it is always measured after the
	// last).
	Test bool
	// OnEpoch, when not nil, receives each epoch's figures as soon as they
	// are known.
	OnEpoch func(Epoch)
	// From, when not nil, is the genome whose training wrote the state in
	// Dir, where it is not cfg (population based training: a genome goes
	// on from another's networks with its own learning rate and batch
	// size). The state must exist and be From's. Without From, the state
	// must be cfg's.
	From *Config
}

// Epoch holds the figures of one epoch of Train.
type Epoch struct {
	// Epoch is the epoch's number from the start of the training, 1-based.
	Epoch int
	// TrainLoss is the mean over the folds of each fold network's mean
	// batch loss during the epoch (each measured before its step).
	TrainLoss float64
	// ValLoss is the cross-validated MSE after the epoch: the mean over the
	// folds of each fold network's MSE on its held-out fold. After
	// Config.Epochs epochs it is Fitness's loss.
	ValLoss float64
	// TestLoss is the test MSE of the network trained on the whole
	// training set (TrainFull's), when Run.Test.
	TestLoss float64
	// Duration is the wall time of the epoch's training and measures.
	Duration time.Duration
}

// Outcome is the result of Train.
type Outcome struct {
	// Fitness is the last epoch's cross-validated MSE (ValLoss): what the
	// search minimises. +Inf when the training diverged.
	Fitness float64
	// ImagesPerSec is the number of examples trained on per second, over
	// every network of this call.
	ImagesPerSec float64
	// Epochs holds the epochs this call trained, in order.
	Epochs []Epoch
	// Done is the number of epochs every network has been trained in all:
	// Run.To unless the training diverged.
	Done int
	// Diverged, when not empty, says why the training stopped as diverged
	// (a NaN or infinite loss of a fold's network or of the whole-set
	// network); Fitness is then +Inf and Run.Dir keeps the state it had
	// before the call.
	Diverged string
	// TestLoss is the test MSE of the network trained on the whole
	// training set after the last epoch: TrainFull's TestLoss for
	// Config.Epochs = Done.
	TestLoss float64
	// Weights is that network, as TrainFull writes it (Predict loads it);
	// nil when the training diverged.
	Weights []byte
}

// splitSeed returns the seed of the fold split.
func (c Config) splitSeed() uint64 {
	if c.SplitSeed != 0 {
		return c.SplitSeed
	}
	return c.Seed
}

// Train trains the genome cfg from the state kept in run.Dir up to run.To
// epochs in all: the network of each of the cfg.Folds folds, as Fitness
// trains them, and the network on the whole training set, as TrainFull
// trains it. After every epoch it measures the cross-validated MSE (the
// fitness so far) and, when run.Test, the whole-set network's test MSE.
// Then it writes the state back into run.Dir: every network's weights, its
// random source and the order of its examples (plain SGD keeps no other
// state), and the epochs done. Training on from a checkpoint gives exactly
// the numbers (and weights) of one training straight through, and a
// training to n epochs gives Fitness's loss and TrainFull's test MSE and
// weights for Epochs = n. The networks of an epoch train concurrently on up
// to GOMAXPROCS goroutines; the result does not depend on the scheduling.
//
// A divergence is not an error: Outcome.Fitness is +Inf with the reason in
// Outcome.Diverged, and run.Dir is left as it was. Errors: an invalid cfg
// or run.To (ErrInvalidConfig), unusable data (ErrInvalidData), a state
// file of another training or already at run.To epochs or beyond
// (ErrCheckpoint), an unreadable state file (ErrBadState, naming it), a
// failure to write the state, or ctx done (its cause, wrapped; run.Dir is
// then left as it was).
func Train(ctx context.Context, d *Data, cfg Config, run Run) (Outcome, error) {
	if err := cfg.Validate(); err != nil {
		return Outcome{}, err
	}
	if run.To < 1 || run.To > MaxEpochs {
		return Outcome{}, fmt.Errorf("%w: train to %d epochs, not in [1, %d]", ErrInvalidConfig, run.To, MaxEpochs)
	}
	cfg = cfg.withDefaults()
	if err := checkData(d, cfg.Folds, 1); err != nil {
		return Outcome{}, err
	}
	st, err := resumable(d, cfg, run)
	if err != nil {
		return Outcome{}, err
	}
	done := 0
	if st != nil {
		done = st.done
	}
	folds := kFold(len(d.TrainX), cfg.Folds, newRand(cfg.splitSeed(), streamSplit))
	ts, err := trainers(ctx, d, cfg, folds, st)
	if err != nil {
		return Outcome{}, fmt.Errorf("%w %s: %w", ErrBadState, filepath.Join(run.Dir, StateFile), err)
	}

	out := Outcome{Done: done}
	full := ts[len(ts)-1]
	var training time.Duration
	examples := 0
	for e := done + 1; e <= run.To; e++ {
		start := time.Now()
		res := runEpoch(ts, e)
		training += time.Since(start)
		for _, r := range res {
			examples += r.examples
		}
		if err := context.Cause(ctx); err != nil {
			return Outcome{}, fmt.Errorf("train: %w", err)
		}
		m, div, err := validate(d, ts, folds, res, e)
		if err != nil {
			return Outcome{}, err
		}
		if div == "" && (run.Test || e == run.To) {
			out.TestLoss = full.net.mse(d.TestX, d.TestY, nil)
			if blewUp(out.TestLoss) {
				div = "whole training set: " + (&divergence{epoch: e, loss: out.TestLoss, what: "test"}).Error()
			}
			if run.Test {
				m.TestLoss = out.TestLoss
			}
		}
		if secs := training.Seconds(); secs > 0 {
			out.ImagesPerSec = float64(examples) / secs
		}
		if div != "" {
			out.Fitness, out.Diverged, out.TestLoss = math.Inf(1), div, math.Inf(1)
			return out, nil
		}
		m.Duration = time.Since(start)
		out.Epochs = append(out.Epochs, m)
		out.Fitness, out.Done = m.ValLoss, e
		if run.OnEpoch != nil {
			run.OnEpoch(m)
		}
	}
	if run.Dir != "" {
		if err := saveState(run.Dir, identity(cfg, d), out.Done, ts); err != nil {
			return Outcome{}, err
		}
	}
	out.Weights = full.net.marshal()
	return out, nil
}

// resumable returns the state in run.Dir that this training goes on from:
// nil for a training from scratch, or an error if the state is not of the
// genome it should come from (cfg's, or run.From's), is missing where
// run.From says it should be, or already holds run.To epochs.
func resumable(d *Data, cfg Config, run Run) (*state, error) {
	want := identity(cfg, d)
	if run.From != nil {
		from := run.From.withDefaults()
		from.SplitSeed = cfg.SplitSeed
		if err := from.Validate(); err != nil {
			return nil, fmt.Errorf("%w (the genome the state comes from)", err)
		}
		want = identity(from, d)
	}
	st, err := loadState(run.Dir)
	switch {
	case err != nil:
		return nil, err
	case st == nil && run.From != nil:
		return nil, fmt.Errorf("%w: no %s in %q to go on from (%s)", ErrCheckpoint, StateFile, run.Dir, want)
	case st == nil:
		return nil, nil
	case st.identity != want:
		return nil, fmt.Errorf("%w: %s was written for %s; this training goes on from %s", ErrCheckpoint, StateFile, st.identity, want)
	case run.To <= st.done:
		return nil, fmt.Errorf("%w: %s already holds %d epochs, asked to train to %d", ErrCheckpoint, StateFile, st.done, run.To)
	}
	return st, nil
}

// validate measures epoch e of the folds' trainers: their mean training
// loss and mean validation MSE. A divergence, of any network, is returned
// as its reason (the metrics then incomplete); a network's other failure
// as an error.
func validate(d *Data, ts []*trainer, folds []fold, res []epochResult, e int) (Epoch, string, error) {
	m := Epoch{Epoch: e}
	for k, r := range res {
		switch {
		case r.diverged != nil && k < len(folds):
			return m, fmt.Sprintf("fold %d of %d: %v", k+1, len(folds), r.diverged), nil
		case r.diverged != nil:
			return m, fmt.Sprintf("whole training set: %v", r.diverged), nil
		case r.err != nil:
			return m, "", fmt.Errorf("train: epoch %d: %w", e, r.err)
		}
		if k < len(folds) {
			m.TrainLoss += ts[k].loss
			m.ValLoss += ts[k].net.mse(d.TrainX, d.TrainY, folds[k].val)
		}
	}
	m.TrainLoss /= float64(len(folds))
	m.ValLoss /= float64(len(folds))
	if blewUp(m.ValLoss) {
		return m, (&divergence{epoch: e, loss: m.ValLoss, what: "validation"}).Error(), nil
	}
	return m, "", nil
}

// saveState writes the trainers' state after done epochs into dir.
func saveState(dir, id string, done int, ts []*trainer) error {
	st := &state{identity: id, done: done}
	for _, t := range ts {
		rng, err := t.src.MarshalBinary()
		if err != nil {
			return fmt.Errorf("train: random source state: %w", err)
		}
		st.nets = append(st.nets, netState{rng: rng, idx: t.idx, net: t.net})
	}
	return models.WriteFileAtomic(filepath.Join(dir, StateFile), st.marshal())
}

// trainers returns the trainers of the folds, then of the whole training
// set, fresh as Fitness and TrainFull make them, or from st.
func trainers(ctx context.Context, d *Data, cfg Config, folds []fold, st *state) ([]*trainer, error) {
	ts := make([]*trainer, len(folds)+1)
	idxs := make([][]int, len(ts))
	streams := make([]uint64, len(ts))
	for k, f := range folds {
		idxs[k], streams[k] = append([]int(nil), f.train...), streamFold0+uint64(k)
	}
	all := make([]int, len(d.TrainX))
	for i := range all {
		all[i] = i
	}
	idxs[len(folds)], streams[len(folds)] = all, streamFull
	if st == nil {
		for k := range ts {
			src := rand.NewPCG(cfg.Seed, streams[k])
			ts[k] = newTrainer(ctx, d.TrainX, d.TrainY, idxs[k], cfg, rand.New(src))
			ts[k].src = src
		}
		return ts, nil
	}
	if len(st.nets) != len(ts) {
		return nil, fmt.Errorf("%d networks, want %d", len(st.nets), len(ts))
	}
	for k, n := range st.nets {
		if len(n.idx) != len(idxs[k]) || len(n.net.w1) != Hidden {
			return nil, fmt.Errorf("network %d: %d examples of width %d, want %d of width %d", k, len(n.idx), len(n.net.w1), len(idxs[k]), Hidden)
		}
		for _, i := range n.idx {
			if i < 0 || i >= len(d.TrainX) {
				return nil, fmt.Errorf("network %d: example %d of %d", k, i, len(d.TrainX))
			}
		}
		src := new(rand.PCG)
		if err := src.UnmarshalBinary(n.rng); err != nil {
			return nil, fmt.Errorf("network %d: random source: %w", k, err)
		}
		// Not newTrainer: it would draw new weights from the source.
		ts[k] = &trainer{
			net: n.net,
			xs:  d.TrainX, ys: d.TrainY,
			idx: n.idx,
			cfg: cfg,
			rng: rand.New(src), src: src,
			ctx: ctx, done: ctx.Done(),
		}
	}
	return ts, nil
}

// epochResult is the outcome of one epoch of one network.
type epochResult struct {
	examples int
	diverged *divergence
	err      error // context error
}

// runEpoch trains epoch e of every trainer, on up to GOMAXPROCS
// goroutines.
func runEpoch(ts []*trainer, e int) []epochResult {
	res := make([]epochResult, len(ts))
	var (
		mu   sync.Mutex
		next int
	)
	worker := func() {
		for {
			mu.Lock()
			k := next
			next++
			mu.Unlock()
			if k >= len(ts) {
				return
			}
			n, err := ts[k].epoch(e)
			res[k].examples = n
			if !errors.As(err, &res[k].diverged) {
				res[k].err = err
			}
		}
	}
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(ts)) {
		wg.Go(worker)
	}
	wg.Wait()
	return res
}

// Metrics returns the epoch's figures under the names of the per-epoch
// reports: train_loss, val_loss and, when test (the run's Test),
// test_loss.
func (e Epoch) Metrics(test bool) map[string]float64 {
	m := map[string]float64{"train_loss": e.TrainLoss, "val_loss": e.ValLoss}
	if test {
		m["test_loss"] = e.TestLoss
	}
	return m
}
