package cnn

import (
	"fmt"
	"hash"
	"math"
	"sync/atomic"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/gahpo/gahpo/models/vec"
)

// maxPoolOp is a 2×2 max-pool of stride 2 from an NHWC input (b, h, w, c)
// to an NCHW output (b, c, h/2, w/2): it also moves the activations back to
// PyTorch's order, so that the flattened features, and with them the
// weights of the first linear layer, are the same in both frameworks. Its
// gradient goes to the first maximum of each window (in row order), as in
// PyTorch.
//
// With relu it pools ReLU(x) instead, which is ReLU(max-pool(x)): the ReLU
// of the layer before costs a quarter of the work, and its gradient none.
type maxPoolOp struct {
	goOp
	relu bool
	out  *outBuffer
}

// maxPoolGradOp computes the gradient of a maxPoolOp from its input x and
// the gradient of its output.
type maxPoolGradOp struct {
	goOp
	relu bool
	out  *outBuffer
}

var (
	_ G.Op   = maxPoolOp{}
	_ G.SDOp = maxPoolOp{}
	_ G.Op   = maxPoolGradOp{}
)

// poolShape checks an NHWC input shape and returns its pooled NCHW shape.
func poolShape(in G.DimSizer) (tensor.Shape, error) {
	x, ok := in.(tensor.Shape)
	if !ok || len(x) != 4 || x[1]%2 != 0 || x[2]%2 != 0 {
		return nil, fmt.Errorf("cnn: max-pool: input %v is not (b, h, w, c) with an even h and w", in)
	}
	return tensor.Shape{x[0], x[3], x[1] / 2, x[2] / 2}, nil
}

// Arity implements G.Op.
func (maxPoolOp) Arity() int { return 1 }

// Type implements G.Op.
func (maxPoolOp) Type() hm.Type { return sameType(1) }

// InferShape implements G.Op.
func (maxPoolOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	if len(in) != 1 {
		return nil, fmt.Errorf("cnn: max-pool: %d inputs, want 1", len(in))
	}
	return poolShape(in[0])
}

// Do implements G.Op.
func (op maxPoolOp) Do(in ...G.Value) (G.Value, error) {
	var buf [maxArgs]*tensor.Dense
	args, err := denseArgs(&buf, in, 1)
	if err != nil {
		return nil, fmt.Errorf("cnn: max-pool: %w", err)
	}
	x := args[0]
	shape, err := poolShape(x.Shape())
	if err != nil {
		return nil, err
	}
	out := op.out.get(x.Dtype(), shape)
	s := x.Shape()
	var finite bool
	switch x.Dtype() {
	case tensor.Float32:
		xs := values[float32](x)
		finite = poolForward(values[float32](out), xs, s[0], s[1], s[2], s[3], op.relu)
	case tensor.Float64:
		xs := values[float64](x)
		finite = poolForward(values[float64](out), xs, s[0], s[1], s[2], s[3], op.relu)
	default:
		return nil, fmt.Errorf("cnn: max-pool: unsupported dtype %v", x.Dtype())
	}
	if !finite {
		return nil, errNaNActivation
	}
	return out, nil
}

// window returns the offsets in an NHWC image of width w with c channels
// of the four pixels of the pooling window at (py, px), in row order.
func window(py, px, w, c int) [4]int {
	p := (2*py*w + 2*px) * c
	return [4]int{p, p + c, p + w*c, p + w*c + c}
}

// poolForward pools the b images of x into out on all cores and reports
// whether every input was finite.
func poolForward[T float32 | float64](out, x []T, b, h, w, c int, relu bool) bool {
	ph, pw := h/2, w/2
	var bad atomic.Bool
	forParts(b, func(_, lo, hi int) {
		for s := lo; s < hi; s++ {
			if !poolImage(out[s*c*ph*pw:][:c*ph*pw], x[s*h*w*c:][:h*w*c], nil, h, w, c, relu) {
				bad.Store(true)
			}
		}
	})
	return !bad.Load()
}

// poolImage is poolForward on one image: from x (h, w, c) to o (c, h/2,
// w/2), with bias (one value a channel; nil for none) added to each
// window's maximum before the ReLU: the bias of the convolution that made
// x, which commutes with the maximum, added to a quarter of the values. It
// reports whether every input was finite.
func poolImage[T float32 | float64](o, xi, bias []T, h, w, c int, relu bool) (finite bool) {
	var floor T // the ReLU: no output below 0
	if !relu {
		floor = T(math.Inf(-1))
	}
	if x32, ok := any(xi).([]float32); ok && vec.Accelerated() {
		b32, _ := any(bias).([]float32)
		return poolImage32(any(o).([]float32), x32, b32, h, w, c, float32(floor))
	}
	ph, pw := h/2, w/2
	var check T // Σ x·0: NaN when an input was not finite
	for py := range ph {
		for px := range pw {
			win := window(py, px, w, c)
			r0, r1, r2, r3 := xi[win[0]:][:c], xi[win[1]:][:c], xi[win[2]:][:c], xi[win[3]:][:c]
			dst := o[py*pw+px:]
			for ch, m := range r0 {
				// The builtin max compiles without branches: the
				// signs before a ReLU are random (the test of bias is
				// the same all along).
				check += m*0 + r1[ch]*0 + r2[ch]*0 + r3[ch]*0
				m = max(m, r1[ch], r2[ch], r3[ch])
				if bias != nil {
					m += bias[ch]
				}
				dst[ch*ph*pw] = max(m, floor)
			}
		}
	}
	return check == 0
}

// poolImage32 is poolImage with vec.Pool: each window position's channels
// at once into a pixel-major tile, then transposed into o's channel-major
// order.
func poolImage32(o, xi, bias []float32, h, w, c int, floor float32) (finite bool) {
	ph, pw := h/2, w/2
	tile := borrow[float32](ph * pw * c)
	defer giveBack(tile)
	finite = true
	for py := range ph {
		for px := range pw {
			win := window(py, px, w, c)
			if !vec.Pool(tile[(py*pw+px)*c:][:c], xi[win[0]:][:c], xi[win[1]:][:c], xi[win[2]:][:c], xi[win[3]:][:c], bias, floor) {
				finite = false
			}
		}
	}
	vec.Transpose(o, tile, ph*pw, c)
	return finite
}

// WriteHash implements G.Op.
func (op maxPoolOp) WriteHash(h hash.Hash) { fmt.Fprintf(h, "gahpo.maxPool2x2(relu %v)", op.relu) }

// Hashcode implements G.Op.
func (op maxPoolOp) Hashcode() uint32 { return opHash(op) }

// String implements G.Op.
func (op maxPoolOp) String() string {
	if op.relu {
		return "ReLUMaxPool2x2NHWC→NCHW"
	}
	return "MaxPool2x2NHWC→NCHW"
}

// DiffWRT implements G.SDOp.
func (maxPoolOp) DiffWRT(int) []bool { return []bool{true} }

// SymDiff implements G.SDOp.
func (op maxPoolOp) SymDiff(inputs G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	if len(inputs) != 1 {
		return nil, fmt.Errorf("cnn: max-pool: differentiate: %d inputs, want 1", len(inputs))
	}
	d, err := G.ApplyOp(maxPoolGradOp{relu: op.relu, out: newBuffer()}, inputs[0], grad)
	if err != nil {
		return nil, fmt.Errorf("cnn: max-pool: differentiate: %w", err)
	}
	return G.Nodes{d}, nil
}

// Arity implements G.Op.
func (maxPoolGradOp) Arity() int { return 2 }

// Type implements G.Op.
func (maxPoolGradOp) Type() hm.Type { return sameType(2) }

// InferShape implements G.Op.
func (maxPoolGradOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	if len(in) != 2 {
		return nil, fmt.Errorf("cnn: max-pool gradient: %d inputs, want 2", len(in))
	}
	x, ok := in[0].(tensor.Shape)
	if !ok {
		return nil, fmt.Errorf("cnn: max-pool gradient: input shape %v is not a tensor.Shape", in[0])
	}
	return x.Clone(), nil
}

// Do implements G.Op.
func (op maxPoolGradOp) Do(in ...G.Value) (G.Value, error) {
	var buf [maxArgs]*tensor.Dense
	args, err := denseArgs(&buf, in, 2)
	if err != nil {
		return nil, fmt.Errorf("cnn: max-pool gradient: %w", err)
	}
	x, dy := args[0], args[1]
	shape, err := poolShape(x.Shape())
	if err != nil {
		return nil, err
	}
	if !shape.Eq(dy.Shape()) || x.Dtype() != dy.Dtype() {
		return nil, fmt.Errorf("cnn: max-pool gradient: output gradient %v %v, want %v %v", dy.Shape(), dy.Dtype(), shape, x.Dtype())
	}
	dx := op.out.get(x.Dtype(), x.Shape())
	s := x.Shape()
	switch x.Dtype() {
	case tensor.Float32:
		xs := values[float32](x)
		poolBackward(values[float32](dx), xs, values[float32](dy), s[0], s[1], s[2], s[3], op.relu)
	case tensor.Float64:
		xs := values[float64](x)
		poolBackward(values[float64](dx), xs, values[float64](dy), s[0], s[1], s[2], s[3], op.relu)
	default:
		return nil, fmt.Errorf("cnn: max-pool gradient: unsupported dtype %v", x.Dtype())
	}
	return dx, nil
}

// poolBackward writes into dx each output gradient at the first maximum
// of its window, with relu only where that maximum is positive, and 0
// elsewhere.
func poolBackward[T float32 | float64](dx, x, dy []T, b, h, w, c int, relu bool) {
	ph, pw := h/2, w/2
	forParts(b, func(_, lo, hi int) {
		for s := lo; s < hi; s++ {
			poolGradImage(dx[s*h*w*c:][:h*w*c], x[s*h*w*c:][:h*w*c], dy[s*c*ph*pw:][:c*ph*pw], h, w, c, relu)
		}
	})
}

// poolGradImage is poolBackward on one image: x and dx (h, w, c), g (c,
// h/2, w/2).
func poolGradImage[T float32 | float64](di, xi, g []T, h, w, c int, relu bool) {
	ph, pw := h/2, w/2
	if x32, ok := any(xi).([]float32); ok && c%8 == 0 {
		poolGradImage32(any(di).([]float32), x32, any(g).([]float32), h, w, c, relu)
		return
	}
	for py := range ph {
		for px := range pw {
			win := window(py, px, w, c)
			src := g[py*pw+px:]
			if x32, ok := any(xi).([]float32); ok {
				d32 := any(di).([]float32)
				poolBackward32(d32[win[0]:][:c], d32[win[1]:][:c], d32[win[2]:][:c], d32[win[3]:][:c],
					x32[win[0]:][:c], x32[win[1]:][:c], x32[win[2]:][:c], x32[win[3]:][:c],
					any(src).([]float32), ph*pw, relu)
				continue
			}
			for _, off := range win {
				clear(di[off:][:c]) // a kept buffer holds the last batch's
			}
			for ch := range c {
				best, m := win[0]+ch, xi[win[0]+ch]
				for _, off := range win[1:] {
					if v := xi[off+ch]; v > m {
						best, m = off+ch, v
					}
				}
				if !relu || m > 0 {
					di[best] = src[ch*ph*pw]
				}
			}
		}
	}
}

// poolGradImage32 is poolGradImage for float32 and c a multiple of 8,
// with vec.PoolGrad (AVX2 where the CPU has it): the output gradient is
// first laid out pixel by pixel, so that each window's channels are
// contiguous. For a max-pool without ReLU, a window whose maximum ties
// with a -0 and a +0 sends its gradient to the first of them, where
// poolBackward32 (bit equality) picks the one equal in sign.
func poolGradImage32(di, xi, g []float32, h, w, c int, relu bool) {
	ph, pw := h/2, w/2
	gt := borrow[float32](ph * pw * c)
	defer giveBack(gt)
	vec.Transpose(gt, g, c, ph*pw)
	floor := float32(math.Inf(-1))
	if relu {
		floor = 0
	}
	for py := range ph {
		for px := range pw {
			win := window(py, px, w, c)
			vec.PoolGrad(di[win[0]:][:c], di[win[1]:][:c], di[win[2]:][:c], di[win[3]:][:c],
				xi[win[0]:][:c], xi[win[1]:][:c], xi[win[2]:][:c], xi[win[3]:][:c], gt[(py*pw+px)*c:][:c], floor)
		}
	}
}

// poolBackward32 is the float32 gradient of one window position over all
// channels: r0..r3 are its four input pixels (c channels each), d0..d3
// their gradients, g[ch·stride] the gradient of channel ch's maximum. It
// writes every value of d0..d3, without a branch on the values (which of
// a window is largest is random): equality and sign tests become bit
// masks.
func poolBackward32(d0, d1, d2, d3, r0, r1, r2, r3, g []float32, stride int, relu bool) {
	d0, d1, d2, d3 = d0[:len(r0)], d1[:len(r0)], d2[:len(r0)], d3[:len(r0)]
	r1, r2, r3 = r1[:len(r0)], r2[:len(r0)], r3[:len(r0)]
	keep := ^uint32(0)
	for ch, v0 := range r0 {
		v1, v2, v3 := r1[ch], r2[ch], r3[ch]
		m := max(v0, v1, v2, v3)
		mb := math.Float32bits(m)
		gb := math.Float32bits(g[ch*stride])
		if relu {
			keep = positive(mb)
		}
		gb &= keep
		e0 := equal(math.Float32bits(v0), mb)
		e1 := equal(math.Float32bits(v1), mb) &^ e0
		e2 := equal(math.Float32bits(v2), mb) &^ (e0 | e1)
		e3 := ^(e0 | e1 | e2)
		d0[ch] = math.Float32frombits(gb & e0)
		d1[ch] = math.Float32frombits(gb & e1)
		d2[ch] = math.Float32frombits(gb & e2)
		d3[ch] = math.Float32frombits(gb & e3)
	}
}

// equal is all ones when a == b, else zero, without a branch.
func equal(a, b uint32) uint32 {
	x := int32(a ^ b)
	return ^uint32((x | -x) >> 31)
}

// WriteHash implements G.Op.
func (op maxPoolGradOp) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "gahpo.maxPool2x2Grad(relu %v)", op.relu)
}

// Hashcode implements G.Op.
func (op maxPoolGradOp) Hashcode() uint32 { return opHash(op) }

// String implements G.Op.
func (maxPoolGradOp) String() string { return "MaxPool2x2Grad" }
