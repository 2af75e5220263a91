package cnn

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/gahpo/gahpo/models/mnist"
)

// setImages writes the normalised images idx of s into the first rows of
// the input and zeroes the rows after them (the padding of a short batch).
func (n *net) setImages(s *mnist.Set, idx []int) {
	switch n.x.Dtype() {
	case tensor.Float32:
		x := values[float32](n.x)
		setImages(x, s, idx)
	case tensor.Float64:
		x := values[float64](n.x)
		setImages(x, s, idx)
	}
}

func setImages[T float32 | float64](x []T, s *mnist.Set, idx []int) {
	for row, i := range idx {
		mnist.Normalize(x[row*mnist.Pixels:(row+1)*mnist.Pixels], s.Image(i))
	}
	clear(x[len(idx)*mnist.Pixels:])
}

// shifter draws the translations of a training's images: the image at
// position pos+i of epoch's order moves by shift(i). A shift depends on the
// seed, the epoch and the position alone, so a training resumed from a
// checkpoint moves its images as one trained straight through, and the
// batch size does not change them.
type shifter struct {
	seed       uint64
	epoch, pos int
	k          int // the largest shift, in pixels
}

// shift returns the translation of the shifter's i-th image, each axis in
// [-k, k] pixels.
func (s shifter) shift(i int) (dx, dy int) {
	h := splitmix(splitmix(s.seed^streamShift<<56) ^ uint64(s.epoch)<<40 ^ uint64(s.pos+i))
	n := uint64(2*s.k + 1)
	return int(h%n) - s.k, int((h>>32)%n) - s.k
}

// splitmix is SplitMix64's finaliser: a bijection of 64-bit words that
// spreads every bit of its input over its output.
func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

// setShiftedImages is setImages with each image moved as sh draws it.
func (n *net) setShiftedImages(s *mnist.Set, idx []int, sh shifter) {
	switch n.x.Dtype() {
	case tensor.Float32:
		x := values[float32](n.x)
		setShiftedImages(x, s, idx, sh)
	case tensor.Float64:
		x := values[float64](n.x)
		setShiftedImages(x, s, idx, sh)
	}
}

func setShiftedImages[T float32 | float64](x []T, s *mnist.Set, idx []int, sh shifter) {
	var bg [1]T
	mnist.Normalize(bg[:], []uint8{0})
	for row, i := range idx {
		dx, dy := sh.shift(row)
		shiftImage(x[row*mnist.Pixels:(row+1)*mnist.Pixels], s.Image(i), dx, dy, bg[0])
	}
	clear(x[len(idx)*mnist.Pixels:])
}

// shiftImage writes the normalised image px into dst moved by dx pixels to
// the right and dy down, bg where nothing of px lands.
func shiftImage[T float32 | float64](dst []T, px []uint8, dx, dy int, bg T) {
	const rows, side = mnist.Rows, mnist.Cols
	x0, x1 := max(dx, 0), min(side+dx, side) // the columns of dst that px covers
	for y := range rows {
		row := dst[y*side : (y+1)*side]
		sy := y - dy
		if sy < 0 || sy >= rows || x0 >= x1 {
			for i := range row {
				row[i] = bg
			}
			continue
		}
		for i := range x0 {
			row[i] = bg
		}
		mnist.Normalize(row[x0:x1], px[sy*side+x0-dx:sy*side+x1-dx])
		for i := x1; i < side; i++ {
			row[i] = bg
		}
	}
}

// setTargets writes the loss weights of the examples idx of s: -scale at
// each one's label, 0 elsewhere and on padding rows. With scale 1/n, the
// loss is the mean negative log-likelihood over a batch of n examples.
func (n *net) setTargets(s *mnist.Set, idx []int, scale float64) {
	switch n.y.Dtype() {
	case tensor.Float32:
		y := values[float32](n.y)
		setTargets(y, s, idx, float32(-scale))
	case tensor.Float64:
		y := values[float64](n.y)
		setTargets(y, s, idx, -scale)
	}
}

func setTargets[T float32 | float64](y []T, s *mnist.Set, idx []int, w T) {
	clear(y)
	for row, i := range idx {
		y[row*mnist.Classes+int(s.Labels[i])] = w
	}
}

// setMasks draws new dropout masks from r, or sets them to 1 (no dropout)
// when r is nil.
func (n *net) setMasks(r *rand.Rand) {
	for _, m := range []struct {
		t *tensor.Dense
		p float64
	}{{n.mask1, DropoutConv}, {n.mask2, DropoutFC}} {
		switch m.t.Dtype() {
		case tensor.Float32:
			d := values[float32](m.t)
			setMask(d, r, m.p)
		case tensor.Float64:
			d := values[float64](m.t)
			setMask(d, r, m.p)
		}
	}
}

// setMask fills m with 0 (probability p) or 1/(1-p). p must be 1/2 or 1/4:
// each value uses one or two random bits, dropped when they are all zero,
// so the probability is exact and one draw serves 64 or 32 values.
func setMask[T float32 | float64](m []T, r *rand.Rand, p float64) {
	if r == nil {
		for i := range m {
			m[i] = 1
		}
		return
	}
	bits := uint(math.Round(-math.Log2(p)))
	if math.Exp2(-float64(bits)) != p {
		panic(fmt.Sprintf("cnn: dropout probability %v is not 1/2 or 1/4", p))
	}
	keep, low := T(1/(1-p)), uint64(1)<<bits-1
	// A table, not a branch: the bits are random, a branch on them
	// mispredicts half the time.
	var table [4]T
	for v := range table[1:] {
		table[v+1] = keep
	}
	var word uint64
	left := uint(0)
	for i := range m {
		if left == 0 {
			word, left = r.Uint64(), 64/bits
		}
		m[i] = table[word&low]
		word >>= bits
		left--
	}
}

// run executes the net once on its current inputs. A NaN activation is
// reported as ErrDiverged.
func (n *net) run() error {
	n.nan.Store(false)
	err := n.prog.run()
	switch {
	case err == nil:
		return nil
	case n.nan.Load() || errors.Is(err, errNaNActivation):
		return fmt.Errorf("%w: NaN activation", ErrDiverged)
	}
	return fmt.Errorf("cnn: run the graph: %w", err)
}

// lossValue returns the loss of the last training run.
func (n *net) lossValue() (float64, error) {
	v, err := n.prog.value(n.loss)
	if err != nil {
		return 0, err
	}
	return scalar(v)
}

// gradient returns the gradient of weight i computed by the last training
// run: the op's own output, which the next run overwrites.
func (n *net) gradient(i int) (*tensor.Dense, error) {
	if i < 0 || i >= len(n.grads) {
		return nil, fmt.Errorf("cnn: no gradient of weight %d in a net of %d", i, len(n.grads))
	}
	v, err := n.prog.value(n.grads[i])
	if err != nil {
		return nil, err
	}
	w, _ := n.w[i].Value().(*tensor.Dense)
	g, ok := v.(*tensor.Dense)
	if !ok || w == nil || g.Size() != w.Size() {
		return nil, fmt.Errorf("cnn: gradient of %s is a %T, not a dense tensor of its size", n.w[i].Name(), v)
	}
	return g, nil
}

// scalar converts a scalar gorgonia value to float64.
func scalar(v G.Value) (float64, error) {
	switch s := v.(type) {
	case *G.F32:
		return float64(*s), nil
	case *G.F64:
		return float64(*s), nil
	case tensor.Tensor:
		switch x := s.ScalarValue().(type) {
		case float32:
			return float64(x), nil
		case float64:
			return x, nil
		}
	}
	return 0, fmt.Errorf("cnn: loss is a %T, not a float scalar", v)
}

// scoreRows adds, over the first rows of the last evaluation's
// log-probabilities, the negative log-likelihood of the labels of the
// examples idx of s, and counts the correct predictions (the most likely
// class, the first on ties).
func (n *net) scoreRows(s *mnist.Set, idx []int) (nll float64, correct int, err error) {
	v, err := n.prog.value(n.logp)
	if err != nil {
		return 0, 0, err
	}
	t, ok := v.(*tensor.Dense)
	if !ok {
		return 0, 0, fmt.Errorf("cnn: log-probabilities are a %T", v)
	}
	switch t.Dtype() {
	case tensor.Float32:
		lp := values[float32](t)
		nll, correct = scoreRows(lp, s, idx)
	case tensor.Float64:
		lp := values[float64](t)
		nll, correct = scoreRows(lp, s, idx)
	default:
		return 0, 0, fmt.Errorf("cnn: log-probabilities of dtype %v", t.Dtype())
	}
	return nll, correct, nil
}

func scoreRows[T float32 | float64](lp []T, s *mnist.Set, idx []int) (nll float64, correct int) {
	for row, i := range idx {
		r := lp[row*mnist.Classes : (row+1)*mnist.Classes]
		best := 0
		for c := 1; c < len(r); c++ {
			if r[c] > r[best] {
				best = c
			}
		}
		label := int(s.Labels[i])
		if best == label {
			correct++
		}
		nll -= float64(r[label])
	}
	return nll, correct
}
