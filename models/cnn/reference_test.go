package cnn

import (
	"fmt"

	"sync/atomic"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/gahpo/gahpo/models/mnist"
)

// forwardReference builds the paper's network with gorgonia's own Conv2d,
// bias broadcast and MaxPool2D in place of this package's custom ops: the
// reference that the tests compare forward with. It takes the same NHWC
// images (b, 28, 28, 1), which have one channel and so the same memory as
// NCHW (b, 1, 28, 28).
func forwardReference(x *G.Node, w G.Nodes, mask1, mask2 *G.Node, nan *atomic.Bool) (*G.Node, error) {
	x, err := G.Reshape(x, tensor.Shape{x.Shape()[0], 1, mnist.Rows, mnist.Cols})
	if err != nil {
		return nil, err
	}
	h, err := convReLUReference(x, w[0], w[1], nan)
	if err != nil {
		return nil, err
	}
	if h, err = convReLUReference(h, w[2], w[3], nan); err != nil {
		return nil, err
	}
	if h, err = G.MaxPool2D(h, tensor.Shape{2, 2}, []int{0, 0}, []int{2, 2}); err != nil {
		return nil, err
	}
	return headReference(h, w, mask1, mask2, nan)
}

// convReLUReference is a 3×3 convolution (stride 1, no padding) on NCHW
// tensors with gorgonia's Conv2d, its bias added by broadcasting the
// (1, C, 1, 1) tensor, then a ReLU.
func convReLUReference(x, w, b *G.Node, nan *atomic.Bool) (*G.Node, error) {
	c, err := convReference(x, w, b)
	if err != nil {
		return nil, err
	}
	return relu(c, nan)
}

// convReference is convReLUReference without the ReLU.
func convReference(x, w, b *G.Node) (*G.Node, error) {
	c, err := G.Conv2d(x, w, tensor.Shape{3, 3}, []int{0, 0}, []int{1, 1}, []int{1, 1})
	if err != nil {
		return nil, err
	}
	return G.BroadcastAdd(c, b, nil, []byte{0, 2, 3})
}

// headReference builds the layers after the max-pool with gorgonia's
// Reshape, Mul and BroadcastAdd for the linear layers, from the
// (b, 64, 12, 12) features: the reference of head.
func headReference(h *G.Node, w G.Nodes, mask1, mask2 *G.Node, nan *atomic.Bool) (*G.Node, error) {
	h, err := dropout(h, mask1)
	if err != nil {
		return nil, fmt.Errorf("cnn: build dropout1: %w", err)
	}
	if h, err = G.Reshape(h, tensor.Shape{h.Shape()[0], flatSize}); err != nil {
		return nil, fmt.Errorf("cnn: build flatten: %w", err)
	}
	if h, err = linear(h, w[4], w[5]); err != nil {
		return nil, fmt.Errorf("cnn: build fc1: %w", err)
	}
	if h, err = relu(h, nan); err != nil {
		return nil, fmt.Errorf("cnn: build fc1 ReLU: %w", err)
	}
	if h, err = dropout(h, mask2); err != nil {
		return nil, fmt.Errorf("cnn: build dropout2: %w", err)
	}
	if h, err = linear(h, w[6], w[7]); err != nil {
		return nil, fmt.Errorf("cnn: build fc2: %w", err)
	}
	if h, err = G.LogSoftMax(h); err != nil {
		return nil, fmt.Errorf("cnn: build log-softmax: %w", err)
	}
	return h, nil
}

// linear is x·w + b, with w (in, out) and b (1, out).
func linear(x, w, b *G.Node) (*G.Node, error) {
	h, err := G.Mul(x, w)
	if err != nil {
		return nil, err
	}
	return G.BroadcastAdd(h, b, nil, []byte{0})
}
