package regression

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
)

// Hidden is the width of the network's single hidden layer.
const Hidden = 100

// net is the 1 → Hidden (sigmoid) → 1 network with its gradient buffers.
type net struct {
	w1, b1, w2 []float64 // hidden weights, hidden biases, output weights
	b2         float64   // output bias

	gw1, gb1, gw2 []float64 // gradients, summed over a batch
	gb2           float64
	h             []float64 // hidden activations of the current example
}

// newNet returns a network of the given width initialised as PyTorch's
// nn.Linear does: weights and biases uniform in ±1/√fan_in (fan_in 1 for
// the hidden layer, width for the output layer).
func newNet(width int, rng *rand.Rand) *net {
	n := &net{
		w1: make([]float64, width), b1: make([]float64, width), w2: make([]float64, width),
		gw1: make([]float64, width), gb1: make([]float64, width), gw2: make([]float64, width),
		h: make([]float64, width),
	}
	uniform := func(bound float64) float64 { return bound * (2*rng.Float64() - 1) }
	for j := range width {
		n.w1[j] = uniform(1)
	}
	for j := range width {
		n.b1[j] = uniform(1)
	}
	b := 1 / math.Sqrt(float64(width))
	for j := range width {
		n.w2[j] = uniform(b)
	}
	n.b2 = uniform(b)
	return n
}

func sigmoid(z float64) float64 { return 1 / (1 + math.Exp(-z)) }

// forward returns the output for x, leaving the hidden activations in n.h.
func (n *net) forward(x float64) float64 {
	w1, b1, w2, h := n.w1, n.b1[:len(n.w1)], n.w2[:len(n.w1)], n.h[:len(n.w1)]
	out := n.b2
	for j := range w1 {
		a := sigmoid(w1[j]*x + b1[j])
		h[j] = a
		out += w2[j] * a
	}
	return out
}

// step does one SGD step on the examples idx of (xs, ys) with the mean
// squared error and returns that batch's loss before the update.
func (n *net) step(xs, ys []float64, idx []int, lr float64) float64 {
	clear(n.gw1)
	clear(n.gb1)
	clear(n.gw2)
	n.gb2 = 0
	w1 := n.w1
	w2, h := n.w2[:len(w1)], n.h[:len(w1)]
	gw1, gb1, gw2 := n.gw1[:len(w1)], n.gb1[:len(w1)], n.gw2[:len(w1)]
	scale := 2 / float64(len(idx)) // d(mean (o-y)²)/do = 2(o-y)/B
	var loss float64
	for _, i := range idx {
		x := xs[i]
		e := n.forward(x) - ys[i]
		loss += e * e
		d := scale * e
		n.gb2 += d
		for j := range w1 {
			a := h[j]
			gw2[j] += d * a
			dz := d * w2[j] * a * (1 - a)
			gw1[j] += dz * x
			gb1[j] += dz
		}
	}
	for j := range w1 {
		n.w1[j] -= lr * gw1[j]
		n.b1[j] -= lr * gb1[j]
		w2[j] -= lr * gw2[j]
	}
	n.b2 -= lr * n.gb2
	return loss / float64(len(idx))
}

// mse returns the mean squared error of the network on (xs, ys) at idx, or
// on all of them when idx is nil.
func (n *net) mse(xs, ys []float64, idx []int) float64 {
	var s float64
	if idx == nil {
		for i, x := range xs {
			e := n.forward(x) - ys[i]
			s += e * e
		}
		return s / float64(len(xs))
	}
	for _, i := range idx {
		e := n.forward(xs[i]) - ys[i]
		s += e * e
	}
	return s / float64(len(idx))
}

// The weights format, version 1, all little endian: the 8-byte magic,
// uint32 version, uint32 width, then width·3+1 float64: w1, b1, w2, b2.
const (
	weightsMagic   = "GAHPOREG"
	weightsVersion = 1
	weightsHeader  = len(weightsMagic) + 4 + 4
	maxWidth       = 1 << 20
)

func (n *net) marshal() []byte {
	width := len(n.w1)
	b := make([]byte, 0, weightsHeader+8*(3*width+1))
	b = append(b, weightsMagic...)
	b = binary.LittleEndian.AppendUint32(b, weightsVersion)
	b = binary.LittleEndian.AppendUint32(b, uint32(width))
	for _, s := range [][]float64{n.w1, n.b1, n.w2, {n.b2}} {
		for _, v := range s {
			b = binary.LittleEndian.AppendUint64(b, math.Float64bits(v))
		}
	}
	return b
}

func unmarshalNet(b []byte) (*net, error) {
	if len(b) < weightsHeader || string(b[:len(weightsMagic)]) != weightsMagic {
		return nil, fmt.Errorf("%w: missing magic %q", ErrBadWeights, weightsMagic)
	}
	b = b[len(weightsMagic):]
	if v := binary.LittleEndian.Uint32(b); v != weightsVersion {
		return nil, fmt.Errorf("%w: version %d, want %d", ErrBadWeights, v, weightsVersion)
	}
	width := binary.LittleEndian.Uint32(b[4:])
	b = b[8:]
	if width == 0 || width > maxWidth {
		return nil, fmt.Errorf("%w: width %d not in [1, %d]", ErrBadWeights, width, maxWidth)
	}
	if want := 8 * (3*int(width) + 1); len(b) != want {
		return nil, fmt.Errorf("%w: %d bytes of parameters, want %d for width %d", ErrBadWeights, len(b), want, width)
	}
	next := func() float64 {
		v := math.Float64frombits(binary.LittleEndian.Uint64(b))
		b = b[8:]
		return v
	}
	n := &net{
		w1: make([]float64, width), b1: make([]float64, width), w2: make([]float64, width),
		h: make([]float64, width),
	}
	for _, s := range [][]float64{n.w1, n.b1, n.w2} {
		for j := range s {
			s[j] = next()
		}
	}
	n.b2 = next()
	return n, nil
}

// Predict loads weights written by TrainFull and returns the network's
// output for each x. Malformed weights give an error wrapping ErrBadWeights.
func Predict(weights []byte, x []float64) ([]float64, error) {
	n, err := unmarshalNet(weights)
	if err != nil {
		return nil, err
	}
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = n.forward(v)
	}
	return out, nil
}
