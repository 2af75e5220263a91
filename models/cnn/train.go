package cnn

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/gahpo/gahpo/models"
	"github.com/gahpo/gahpo/models/mnist"
)

// MaxChunk is the largest number of images the training graph computes at
// once. A larger batch is computed in equal chunks whose gradients add up
// before the optimiser's step, which bounds the memory of the graph.
const MaxChunk = 128

// trainer trains the network's weights with Adadelta.
type trainer struct {
	cfg     Config
	net     *net
	opt     *Adadelta
	model   []G.ValueGrad
	shuffle *rand.Rand
	drop    *rand.Rand // source of the dropout masks
	// The sources of shuffle and drop, kept for a checkpoint (a rand.Rand
	// buffers nothing: its source's state is all of its state).
	shuffleSrc, dropSrc *rand.PCG
	perm                []int
	images              int // images trained on so far
	done                int // epochs trained so far: the next is done+1
}

// newTrainer compiles the training graph for cfg's batch size around p.
func newTrainer(p params, cfg Config) (*trainer, error) {
	return newTrainerOf(p, cfg, forward)
}

// newTrainerOf is newTrainer for the network that fwd builds (benchmarks
// compare forward with forwardLayered this way).
func newTrainerOf(p params, cfg Config, fwd forwardFunc) (*trainer, error) {
	n, err := buildNet(p, chunkSize(cfg.BatchSize), true, fwd)
	if err != nil {
		return nil, err
	}
	shuffleSrc, dropSrc := rand.NewPCG(cfg.Seed, streamShuffle), rand.NewPCG(cfg.Seed, streamDropout)
	return &trainer{
		cfg:        cfg,
		net:        n,
		opt:        NewAdadelta(cfg.LR, cfg.WeightDecay),
		model:      weightGrads(n, n.batch < cfg.BatchSize),
		shuffle:    rand.New(shuffleSrc),
		drop:       rand.New(dropSrc),
		shuffleSrc: shuffleSrc,
		dropSrc:    dropSrc,
	}, nil
}

// chunkSize returns the number of images the graph computes at once for a
// batch: the batch itself up to MaxChunk, else the batch split in equal
// chunks of at most MaxChunk.
func chunkSize(batch int) int {
	chunks := (batch + MaxChunk - 1) / MaxChunk
	return (batch + chunks - 1) / chunks
}

// epoch trains one pass over s in a new random order, at the optimiser's
// learning rate, and returns the mean training loss over its images. The
// last batch may be shorter: it is trained too (as PyTorch does), its
// missing rows padded with zeros that weigh nothing in the loss. A NaN or infinite loss, a NaN
// activation or a non-finite weight stops it with ErrDiverged; ctx is
// checked before each batch.
func (t *trainer) epoch(ctx context.Context, s *mnist.Set) (float64, error) {
	if len(t.perm) != s.N {
		t.perm = make([]int, s.N)
	}
	for i := range t.perm {
		t.perm[i] = i
	}
	t.shuffle.Shuffle(len(t.perm), func(i, j int) { t.perm[i], t.perm[j] = t.perm[j], t.perm[i] })
	var total float64
	for b, start := 0, 0; start < s.N; b, start = b+1, start+t.cfg.BatchSize {
		if err := ctx.Err(); err != nil {
			return 0, fmt.Errorf("training stopped before batch %d: %w", b+1, err)
		}
		batch := t.perm[start:min(start+t.cfg.BatchSize, s.N)]
		loss, err := t.step(s, batch, start)
		if err != nil {
			return 0, fmt.Errorf("%w in batch %d (%d images)", err, b+1, len(batch))
		}
		total += loss * float64(len(batch))
		t.images += len(batch)
	}
	t.done++
	return total / float64(s.N), nil
}

// step trains on one batch, the images of the epoch's order from position
// pos on: forward and backward over its chunks, whose gradients
// accumulate, then one optimiser step. It returns the batch's mean loss.
func (t *trainer) step(s *mnist.Set, batch []int, pos int) (float64, error) {
	var loss float64
	for off := 0; off < len(batch); off += t.net.batch {
		idx := batch[off:min(off+t.net.batch, len(batch))]
		if t.cfg.Shift > 0 {
			t.net.setShiftedImages(s, idx, shifter{seed: t.cfg.Seed, epoch: t.done + 1, pos: pos + off, k: t.cfg.Shift})
		} else {
			t.net.setImages(s, idx)
		}
		t.net.setTargets(s, idx, 1/float64(len(batch)))
		t.net.setMasks(t.drop)
		if err := t.net.run(); err != nil {
			return 0, err
		}
		if err := t.addChunk(off == 0); err != nil {
			return 0, err
		}
		l, err := t.net.lossValue()
		if err != nil {
			return 0, err
		}
		loss += l
	}
	if math.IsNaN(loss) || math.IsInf(loss, 0) {
		return loss, fmt.Errorf("%w: training loss %v", ErrDiverged, loss)
	}
	if err := t.opt.Step(t.model); err != nil {
		return loss, err
	}
	return loss, nil
}

// weightGrad is a weight and its gradient, as the optimiser reads them (a
// G.ValueGrad): the gradient of the net's last run, or, for a batch
// trained in chunks, the chunks' sum.
type weightGrad struct {
	net *net
	i   int
	sum *tensor.Dense // the chunks' sum; nil when a batch is one chunk
}

// weightGrads pairs each weight of n with its gradient, summed over a
// batch's chunks when chunked.
func weightGrads(n *net, chunked bool) []G.ValueGrad {
	model := make([]G.ValueGrad, len(n.w))
	for i, w := range n.w {
		wg := weightGrad{net: n, i: i}
		if chunked {
			wg.sum = tensor.New(tensor.Of(w.Dtype()), tensor.WithShape(w.Shape()...))
		}
		model[i] = wg
	}
	return model
}

// Value implements G.ValueGrad.
func (v weightGrad) Value() G.Value { return v.net.w[v.i].Value() }

// Grad implements G.ValueGrad.
func (v weightGrad) Grad() (G.Value, error) {
	if v.sum != nil {
		return v.sum, nil
	}
	return v.net.gradient(v.i)
}

// Name names the weight in the optimiser's errors.
func (v weightGrad) Name() string { return v.net.w[v.i].Name() }

// addChunk adds the gradients of the chunk just run onto the batch's sums
// (the first chunk replaces them); a batch of one chunk has no sums: the
// optimiser reads the net's gradients.
func (t *trainer) addChunk(first bool) error {
	for _, m := range t.model {
		wg := m.(weightGrad)
		if wg.sum == nil {
			return nil
		}
		g, err := t.net.gradient(wg.i)
		if err != nil {
			return err
		}
		switch wg.sum.Dtype() {
		case tensor.Float32:
			sum := values[float32](wg.sum)
			accumulate(sum, values[float32](g), first)
		case tensor.Float64:
			sum := values[float64](wg.sum)
			accumulate(sum, values[float64](g), first)
		}
	}
	return nil
}

// accumulate adds g onto sum, or copies it there when first.
func accumulate[T float32 | float64](sum, g []T, first bool) {
	if first {
		copy(sum, g)
		return
	}
	add(sum, g)
}

// Fitness trains a new network for one epoch on s.Train with cfg (batch
// size, learning rate, weight decay and seed; gamma only acts after an
// epoch) and returns its mean negative log-likelihood on s.Val, or on
// s.Test when cfg.FitnessOnTest, with the accuracy there, the training's
// images per second and the whole duration. A diverged training is not an
// error: it returns an infinite Loss and the reason in Diverged. Errors are
// an invalid cfg or data, a cancelled ctx (checked between batches), or a
// failure of gorgonia (panics in the calling goroutine included).
func Fitness(ctx context.Context, s mnist.Splits, cfg Config) (ev models.Eval, err error) {
	start := time.Now()
	defer recoverPanic(&err)
	if err := cfg.Validate(); err != nil {
		return models.Eval{}, err
	}
	held, heldName := s.Val, "validation"
	if cfg.FitnessOnTest {
		held, heldName = s.Test, "test"
	}
	if err := checkSet("training", s.Train); err != nil {
		return models.Eval{}, err
	}
	if err := checkSet(heldName, held); err != nil {
		return models.Eval{}, err
	}
	p := newParams(tensor.Float32, cfg.Seed)
	tr, err := newTrainer(p, cfg)
	if err != nil {
		return models.Eval{}, err
	}
	trainStart := time.Now()
	_, err = tr.epoch(ctx, s.Train)
	ev.Images = tr.images
	ev.ImagesPerSec = float64(tr.images) / time.Since(trainStart).Seconds()
	if err == nil {
		var ho *evaluator
		if ho, err = newEvaluator(p); err == nil {
			ev.Loss, ev.Accuracy, err = ho.evaluate(ctx, held)
			if err != nil {
				err = fmt.Errorf("%s set: %w", heldName, err)
			}
		}
	}
	ev.Duration = time.Since(start)
	if errors.Is(err, ErrDiverged) {
		ev.Loss, ev.Accuracy, ev.Diverged = math.Inf(1), 0, err.Error()
		return ev, nil
	}
	if err != nil {
		return models.Eval{}, fmt.Errorf("cnn: fitness: %w", err)
	}
	return ev, nil
}

// TrainFull trains a new network for cfg.Epochs epochs (DefaultEpochs when
// 0) on train, the learning rate multiplied by cfg.Gamma after each epoch,
// and measures test after each one; onEpoch, when not nil, receives each
// epoch's metrics as soon as they are known. The result holds the metrics,
// the last epoch's test figures and the serialised weights (see Evaluate).
// A divergence is an error wrapping ErrDiverged, returned with the epochs
// done before it.
func TrainFull(ctx context.Context, train, test *mnist.Set, cfg Config, onEpoch func(models.EpochMetrics)) (res models.FinalResult, err error) {
	start := time.Now()
	defer recoverPanic(&err)
	defer func() { res.Duration = time.Since(start) }()
	if err := cfg.Validate(); err != nil {
		return res, err
	}
	if err := checkSet("training", train); err != nil {
		return res, err
	}
	if err := checkSet("test", test); err != nil {
		return res, err
	}
	p := newParams(tensor.Float32, cfg.Seed)
	tr, err := newTrainer(p, cfg)
	if err != nil {
		return res, err
	}
	ev, err := newEvaluator(p)
	if err != nil {
		return res, err
	}
	sched := StepLR{Opt: tr.opt, Gamma: cfg.Gamma}
	for e := 1; e <= cfg.epochs(); e++ {
		epochStart := time.Now()
		m := models.EpochMetrics{Epoch: e, LR: tr.opt.LR}
		if m.TrainLoss, err = tr.epoch(ctx, train); err != nil {
			return res, fmt.Errorf("cnn: epoch %d: %w", e, err)
		}
		if m.TestLoss, m.TestAccuracy, err = ev.evaluate(ctx, test); err != nil {
			return res, fmt.Errorf("cnn: epoch %d: test set: %w", e, err)
		}
		m.Duration = time.Since(epochStart)
		res.Epochs = append(res.Epochs, m)
		res.TestLoss, res.TestAccuracy = m.TestLoss, m.TestAccuracy
		if onEpoch != nil {
			onEpoch(m)
		}
		sched.Step()
	}
	res.Weights = p.marshal()
	return res, nil
}

// recoverPanic turns a panic of the calling goroutine into an error
// wrapping ErrPanic.
func recoverPanic(err *error) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("%w: %v", ErrPanic, r)
	}
}
