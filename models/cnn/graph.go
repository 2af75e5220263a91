package cnn

import (
	"fmt"
	"sync/atomic"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/gahpo/gahpo/models/mnist"
)

// Dropout probabilities of the paper's network.
const (
	DropoutConv = 0.25 // after the max-pool
	DropoutFC   = 0.5  // after the first linear layer
)

// Shapes inside the network.
const (
	conv2Out  = 64
	pooledHW  = 12 // 28 - 2 - 2 = 24, halved by the max-pool
	flatSize  = conv2Out * pooledHW * pooledHW
	hiddenFC1 = 128
)

// net is the CNN compiled for one batch size: a gorgonia graph whose weight
// nodes share the tensors of a params, and whose inputs are tensors that
// each batch overwrites in place. The graph and its program are built once
// and reused for every batch.
//
// A training net computes the loss and the gradients (bound to the weight
// nodes for the solver) and multiplies in explicit dropout masks; an
// evaluation net computes only the log-probabilities, without dropout.
type net struct {
	batch int
	prog  *program
	w     G.Nodes // weight nodes, in the order of specs
	// grads are the gradient nodes of w, in the same order (training
	// only): each run overwrites their values with its batch's gradients.
	grads G.Nodes

	x *tensor.Dense // images, (batch, 28, 28, 1), normalised
	// y holds the loss weights: -1/n at each example's label (n the number
	// of examples of the optimiser's batch), 0 elsewhere and on padding
	// rows; the loss is Σ logp ⊙ y, the mean NLL. Training only.
	y *tensor.Dense
	// mask1 (batch, 64, 12, 12) and mask2 (batch, 128) hold 0 or
	// 1/(1-p): the dropout. Training only.
	mask1, mask2 *tensor.Dense

	// nan is raised by the ReLUs when they meet a NaN.
	nan atomic.Bool

	loss *G.Node // read after each training run
	logp *G.Node // read after each evaluation run, (batch, 10)
}

// forwardFunc builds a network on the images x (b, 28, 28, 1).
type forwardFunc func(x *G.Node, w G.Nodes, mask1, mask2 *G.Node, nan *atomic.Bool) (*G.Node, error)

// newNet compiles the network for batches of the given size, with weights p.
func newNet(p params, batch int, train bool) (*net, error) {
	return buildNet(p, batch, train, forward)
}

// buildNet compiles the network that fwd builds (tests compare forward
// with gorgonia's own ops this way).
func buildNet(p params, batch int, train bool, fwd forwardFunc) (n *net, err error) {
	defer func() { // gorgonia panics on some construction errors
		if r := recover(); r != nil {
			n, err = nil, fmt.Errorf("%w: build the graph: %v", ErrPanic, r)
		}
	}()
	dt := p[0].Dtype()
	g := G.NewGraph()
	n = &net{batch: batch}
	input := func(name string, shape ...int) (*G.Node, *tensor.Dense) {
		t := tensor.New(tensor.Of(dt), tensor.WithShape(shape...))
		return G.NewTensor(g, dt, len(shape), G.WithShape(shape...), G.WithName(name), G.WithValue(t)), t
	}
	for i, t := range p {
		n.w = append(n.w, G.NewTensor(g, dt, t.Dims(), G.WithShape(t.Shape()...), G.WithName(specs[i].name), G.WithValue(t)))
	}
	var x, y, m1, m2 *G.Node
	x, n.x = input("x", batch, mnist.Rows, mnist.Cols, 1)
	if train {
		y, n.y = input("y", batch, mnist.Classes)
		m1, n.mask1 = input("dropout1", batch, conv2Out, pooledHW, pooledHW)
		m2, n.mask2 = input("dropout2", batch, hiddenFC1)
	}
	logp, err := fwd(x, n.w, m1, m2, &n.nan)
	if err != nil {
		return nil, err
	}
	n.logp = logp
	if !train {
		if n.prog, err = compile(g); err != nil {
			return nil, err
		}
		return n, nil
	}
	if n.loss, err = weightedSum(logp, y); err != nil {
		return nil, fmt.Errorf("cnn: build the loss: %w", err)
	}
	if n.grads, err = G.Grad(n.loss, n.w...); err != nil {
		return nil, fmt.Errorf("cnn: differentiate the loss: %w", err)
	}
	// The gradients are read from their own nodes (see net.gradient), not
	// bound to the weights' dual values: that binding adds every run's
	// gradients onto the last ones, a pass over all 1.2 M weights on one
	// core per step (6% of a step at batch 10).
	if n.prog, err = compile(g); err != nil {
		return nil, err
	}
	return n, nil
}

// forward builds the paper's network on x, images in NHWC order (b, 28,
// 28, 1), and returns the log-probabilities. Dropout masks are multiplied
// in when not nil.
//
//	conv 1→32 3×3, ReLU, conv 32→64 3×3, ReLU, max-pool 2×2, dropout 0.25,
//	linear 9216→128, ReLU, dropout 0.5, linear 128→10, log-softmax
//
// The convolutions and the max-pool are this package's own op (see
// features.go); the rest is gorgonia's.
func forward(x *G.Node, w G.Nodes, mask1, mask2 *G.Node, nan *atomic.Bool) (*G.Node, error) {
	// Both convolutions and the max-pool as one op (see features.go).
	h, err := newFeatures(x, w, nan)
	if err != nil {
		return nil, fmt.Errorf("cnn: build the features: %w", err)
	}
	return head(h, w, mask1, mask2, nan)
}

// forwardLayered is forward with one op per layer: convOp (ReLU), convOp,
// maxPoolOp (ReLU). It computes the same numbers as forward, more slowly;
// tests and benchmarks compare both.
func forwardLayered(x *G.Node, w G.Nodes, mask1, mask2 *G.Node, nan *atomic.Bool) (*G.Node, error) {
	h, err := G.ApplyOp(convOp{relu: true, nan: nan, out: newBuffer()}, x, w[0], w[1])
	if err != nil {
		return nil, fmt.Errorf("cnn: build conv1: %w", err)
	}
	// conv2's ReLU is applied by the max-pool, on a quarter of the values.
	if h, err = G.ApplyOp(convOp{inputGrad: true, nan: nan, out: newBuffer()}, h, w[2], w[3]); err != nil {
		return nil, fmt.Errorf("cnn: build conv2: %w", err)
	}
	if h, err = G.ApplyOp(maxPoolOp{relu: true, out: newBuffer()}, h); err != nil {
		return nil, fmt.Errorf("cnn: build max-pool: %w", err)
	}
	return head(h, w, mask1, mask2, nan)
}

// head builds the layers after the max-pool, from its (b, 64, 12, 12)
// output: dropout, fc1 and its ReLU, dropout, fc2, log-softmax.
func head(h *G.Node, w G.Nodes, mask1, mask2 *G.Node, nan *atomic.Bool) (*G.Node, error) {
	h, err := dropout(h, mask1)
	if err != nil {
		return nil, fmt.Errorf("cnn: build dropout1: %w", err)
	}
	// fc1 reads the (b, 64, 12, 12) features as (b, 9216) rows: no reshape.
	if h, err = newLinear(h, w[4], w[5], true, nan); err != nil {
		return nil, fmt.Errorf("cnn: build fc1: %w", err)
	}
	if h, err = dropout(h, mask2); err != nil {
		return nil, fmt.Errorf("cnn: build dropout2: %w", err)
	}
	if h, err = newLinear(h, w[6], w[7], false, nil); err != nil {
		return nil, fmt.Errorf("cnn: build fc2: %w", err)
	}
	if h, err = logSoftmax(h); err != nil {
		return nil, fmt.Errorf("cnn: build log-softmax: %w", err)
	}
	return h, nil
}
