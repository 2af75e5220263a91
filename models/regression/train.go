package regression

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
)

// divergence describes a training whose loss became NaN or infinite.
type divergence struct {
	epoch int     // 1-based
	loss  float64 // the loss that blew up (blewUp)
	what  string  // which loss: "training" (of a batch) or "validation"
}

// maxLoss is the squared error beyond which a net has blown up: the
// data's targets lie within a few units of 0, so a mean squared error
// of 1e12 is a net whose weights grew without bound (its loss would
// reach +Inf some epochs later, or stay finite and absurd: 2.9e283 was
// seen), not a poor fit.
const maxLoss = 1e12

// blewUp tells a loss that ends a training as diverged: not a number,
// infinite, or above maxLoss.
func blewUp(loss float64) bool { return math.IsNaN(loss) || math.IsInf(loss, 0) || loss > maxLoss }

func (d *divergence) Error() string {
	return fmt.Sprintf("%s loss %v in epoch %d", d.what, d.loss, d.epoch)
}

// trainer runs SGD epochs of one net over the examples idx of (xs, ys).
type trainer struct {
	net    *net
	xs, ys []float64
	idx    []int // shuffled in place each epoch
	cfg    Config
	rng    *rand.Rand
	src    *rand.PCG // rng's source, kept for a checkpoint (nil when not)
	loss   float64   // the last epoch's mean batch loss, weighted by batch size
	done   <-chan struct{}
	ctx    context.Context
}

func newTrainer(ctx context.Context, xs, ys []float64, idx []int, cfg Config, rng *rand.Rand) *trainer {
	return &trainer{
		net: newNet(Hidden, rng),
		xs:  xs, ys: ys,
		idx: idx,
		cfg: cfg,
		rng: rng,
		ctx: ctx, done: ctx.Done(),
	}
}

// epoch runs epoch number e (1-based): a shuffle then one SGD step per
// batch. It returns the number of examples processed, a *divergence when a
// batch loss or the updated parameters are not finite, or the context's
// error (checked before each batch).
func (t *trainer) epoch(e int) (int, error) {
	t.rng.Shuffle(len(t.idx), func(i, j int) { t.idx[i], t.idx[j] = t.idx[j], t.idx[i] })
	bs := min(t.cfg.BatchSize, len(t.idx))
	seen := 0
	var sum float64
	for start := 0; start < len(t.idx); start += bs {
		select {
		case <-t.done:
			return seen, fmt.Errorf("train epoch %d: %w", e, context.Cause(t.ctx))
		default:
		}
		batch := t.idx[start:min(start+bs, len(t.idx))]
		loss := t.net.step(t.xs, t.ys, batch, t.cfg.LR)
		seen += len(batch)
		if blewUp(loss) {
			return seen, &divergence{epoch: e, loss: loss, what: "training"}
		}
		sum += loss * float64(len(batch))
	}
	t.loss = sum / float64(len(t.idx))
	return seen, nil
}
