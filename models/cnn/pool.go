package cnn

import (
	"fmt"
	"hash"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// maxPoolOp is a 2×2 max-pool of stride 2 from an NHWC input (b, h, w, c)
// to an NCHW output (b, c, h/2, w/2): it also moves the activations back to
// PyTorch's order, so that the flattened features, and with them the
// weights of the first linear layer, are the same in both frameworks. Its
// gradient goes to the first maximum of each window (in row order), as in
// PyTorch.
type maxPoolOp struct{}

// maxPoolGradOp computes the gradient of a maxPoolOp from its input x and
// the gradient of its output.
type maxPoolGradOp struct{}

var (
	_ G.Op   = maxPoolOp{}
	_ G.SDOp = maxPoolOp{}
	_ G.Op   = maxPoolGradOp{}
)

// poolShape checks an NHWC input shape and returns its pooled NCHW shape.
func poolShape(in G.DimSizer) (tensor.Shape, error) {
	x, ok := in.(tensor.Shape)
	if !ok || len(x) != 4 || x[1]%2 != 0 || x[2]%2 != 0 {
		return nil, fmt.Errorf("max-pool: input %v is not (b, h, w, c) with an even h and w", in)
	}
	return tensor.Shape{x[0], x[3], x[1] / 2, x[2] / 2}, nil
}

// Arity implements G.Op.
func (maxPoolOp) Arity() int { return 1 }

// Type implements G.Op.
func (maxPoolOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	return hm.NewFnType(a, a)
}

// InferShape implements G.Op.
func (maxPoolOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	if len(in) != 1 {
		return nil, fmt.Errorf("max-pool: %d inputs, want 1", len(in))
	}
	return poolShape(in[0])
}

// Do implements G.Op.
func (maxPoolOp) Do(in ...G.Value) (G.Value, error) {
	args, err := denseArgs(in, 1)
	if err != nil {
		return nil, fmt.Errorf("max-pool: %w", err)
	}
	x := args[0]
	shape, err := poolShape(x.Shape())
	if err != nil {
		return nil, err
	}
	out := tensor.New(tensor.Of(x.Dtype()), tensor.WithShape(shape...))
	s := x.Shape()
	switch xs := x.Data().(type) {
	case []float32:
		poolForward(out.Data().([]float32), xs, s[0], s[1], s[2], s[3])
	case []float64:
		poolForward(out.Data().([]float64), xs, s[0], s[1], s[2], s[3])
	default:
		return nil, fmt.Errorf("max-pool: unsupported dtype %v", x.Dtype())
	}
	return out, nil
}

// window returns the offsets in an NHWC image of width w with c channels
// of the four pixels of the pooling window at (py, px), in row order.
func window(py, px, w, c int) [4]int {
	p := (2*py*w + 2*px) * c
	return [4]int{p, p + c, p + w*c, p + w*c + c}
}

func poolForward[T float32 | float64](out, x []T, b, h, w, c int) {
	ph, pw := h/2, w/2
	forParts(b, func(_, lo, hi int) {
		for s := lo; s < hi; s++ {
			xi, o := x[s*h*w*c:][:h*w*c], out[s*c*ph*pw:][:c*ph*pw]
			for py := range ph {
				for px := range pw {
					win := window(py, px, w, c)
					r0, r1, r2, r3 := xi[win[0]:][:c], xi[win[1]:][:c], xi[win[2]:][:c], xi[win[3]:][:c]
					dst := py*pw + px
					for ch, m := range r0 {
						m = max2(max2(m, r1[ch]), max2(r2[ch], r3[ch]))
						o[ch*ph*pw+dst] = m
					}
				}
			}
		}
	})
}

// max2 is the larger of a and b, a when they are equal (or b is NaN).
func max2[T float32 | float64](a, b T) T {
	if b > a {
		return b
	}
	return a
}

// ReturnsPtr implements G.Op.
func (maxPoolOp) ReturnsPtr() bool { return false }

// CallsExtern implements G.Op.
func (maxPoolOp) CallsExtern() bool { return false }

// OverwritesInput implements G.Op.
func (maxPoolOp) OverwritesInput() int { return -1 }

// WriteHash implements G.Op.
func (maxPoolOp) WriteHash(h hash.Hash) { fmt.Fprint(h, "gahpo.maxPool2x2") }

// Hashcode implements G.Op.
func (op maxPoolOp) Hashcode() uint32 { return opHash(op) }

// String implements G.Op.
func (maxPoolOp) String() string { return "MaxPool2x2NHWC→NCHW" }

// DiffWRT implements G.SDOp.
func (maxPoolOp) DiffWRT(int) []bool { return []bool{true} }

// SymDiff implements G.SDOp.
func (maxPoolOp) SymDiff(inputs G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	if len(inputs) != 1 {
		return nil, fmt.Errorf("max-pool: differentiate: %d inputs, want 1", len(inputs))
	}
	d, err := G.ApplyOp(maxPoolGradOp{}, inputs[0], grad)
	if err != nil {
		return nil, fmt.Errorf("max-pool: differentiate: %w", err)
	}
	return G.Nodes{d}, nil
}

// Arity implements G.Op.
func (maxPoolGradOp) Arity() int { return 2 }

// Type implements G.Op.
func (maxPoolGradOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	return hm.NewFnType(a, a, a)
}

// InferShape implements G.Op.
func (maxPoolGradOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	if len(in) != 2 {
		return nil, fmt.Errorf("max-pool gradient: %d inputs, want 2", len(in))
	}
	x, ok := in[0].(tensor.Shape)
	if !ok {
		return nil, fmt.Errorf("max-pool gradient: input shape %v is not a tensor.Shape", in[0])
	}
	return x.Clone(), nil
}

// Do implements G.Op.
func (maxPoolGradOp) Do(in ...G.Value) (G.Value, error) {
	args, err := denseArgs(in, 2)
	if err != nil {
		return nil, fmt.Errorf("max-pool gradient: %w", err)
	}
	x, dy := args[0], args[1]
	shape, err := poolShape(x.Shape())
	if err != nil {
		return nil, err
	}
	if !shape.Eq(dy.Shape()) || x.Dtype() != dy.Dtype() {
		return nil, fmt.Errorf("max-pool gradient: output gradient %v %v, want %v %v", dy.Shape(), dy.Dtype(), shape, x.Dtype())
	}
	dx := tensor.New(tensor.Of(x.Dtype()), tensor.WithShape(x.Shape().Clone()...))
	s := x.Shape()
	switch xs := x.Data().(type) {
	case []float32:
		poolBackward(dx.Data().([]float32), xs, dy.Data().([]float32), s[0], s[1], s[2], s[3])
	case []float64:
		poolBackward(dx.Data().([]float64), xs, dy.Data().([]float64), s[0], s[1], s[2], s[3])
	default:
		return nil, fmt.Errorf("max-pool gradient: unsupported dtype %v", x.Dtype())
	}
	return dx, nil
}

// poolBackward writes into dx (zeroed) each output gradient at the first
// maximum of its window.
func poolBackward[T float32 | float64](dx, x, dy []T, b, h, w, c int) {
	ph, pw := h/2, w/2
	forParts(b, func(_, lo, hi int) {
		for s := lo; s < hi; s++ {
			xi, di, g := x[s*h*w*c:][:h*w*c], dx[s*h*w*c:][:h*w*c], dy[s*c*ph*pw:][:c*ph*pw]
			for py := range ph {
				for px := range pw {
					win := window(py, px, w, c)
					src := py*pw + px
					for ch := range c {
						best, m := win[0]+ch, xi[win[0]+ch]
						for _, off := range win[1:] {
							if v := xi[off+ch]; v > m {
								best, m = off+ch, v
							}
						}
						di[best] = g[ch*ph*pw+src]
					}
				}
			}
		}
	})
}

// ReturnsPtr implements G.Op.
func (maxPoolGradOp) ReturnsPtr() bool { return false }

// CallsExtern implements G.Op.
func (maxPoolGradOp) CallsExtern() bool { return false }

// OverwritesInput implements G.Op.
func (maxPoolGradOp) OverwritesInput() int { return -1 }

// WriteHash implements G.Op.
func (maxPoolGradOp) WriteHash(h hash.Hash) { fmt.Fprint(h, "gahpo.maxPool2x2Grad") }

// Hashcode implements G.Op.
func (op maxPoolGradOp) Hashcode() uint32 { return opHash(op) }

// String implements G.Op.
func (maxPoolGradOp) String() string { return "MaxPool2x2Grad" }
