package cnn

import (
	"fmt"
	"hash"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/gahpo/gahpo/models/vec"
)

// maskOp multiplies x by a dropout mask of its shape, element by element,
// on all cores: gorgonia's HadamardProd does the same on one core and also
// differentiates with respect to the mask. Its gradient is the incoming
// gradient times the mask: the op itself.
type maskOp struct {
	goOp
	out *outBuffer
}

var (
	_ G.Op   = maskOp{}
	_ G.SDOp = maskOp{}
)

// dropout multiplies x by its mask, if any.
func dropout(x, mask *G.Node) (*G.Node, error) {
	if mask == nil {
		return x, nil
	}
	return G.ApplyOp(maskOp{out: newBuffer()}, x, mask)
}

// Arity implements G.Op.
func (maskOp) Arity() int { return 2 }

// Type implements G.Op.
func (maskOp) Type() hm.Type { return sameType(2) }

// InferShape implements G.Op.
func (maskOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	x, m, err := twoShapes(in)
	if err != nil {
		return nil, fmt.Errorf("cnn: dropout: %w", err)
	}
	if !x.Eq(m) {
		return nil, fmt.Errorf("cnn: dropout: mask %v for an input %v", m, x)
	}
	return x.Clone(), nil
}

// Do implements G.Op.
func (op maskOp) Do(in ...G.Value) (G.Value, error) {
	var buf [maxArgs]*tensor.Dense
	args, err := denseArgs(&buf, in, 2)
	if err != nil {
		return nil, fmt.Errorf("cnn: dropout: %w", err)
	}
	x, m := args[0], args[1]
	if !x.Shape().Eq(m.Shape()) || x.Dtype() != m.Dtype() {
		return nil, fmt.Errorf("cnn: dropout: mask %v %v for an input %v %v", m.Shape(), m.Dtype(), x.Shape(), x.Dtype())
	}
	out := op.out.get(x.Dtype(), x.Shape())
	rows := max(1, x.Shape()[0])
	switch x.Dtype() {
	case tensor.Float32:
		xs := values[float32](x)
		multiply(values[float32](out), xs, values[float32](m), rows)
	case tensor.Float64:
		xs := values[float64](x)
		multiply(values[float64](out), xs, values[float64](m), rows)
	default:
		return nil, fmt.Errorf("cnn: dropout: unsupported dtype %v", x.Dtype())
	}
	return out, nil
}

// multiply writes x ⊙ m into out, on all cores.
func multiply[T float32 | float64](out, x, m []T, rows int) {
	forSpans(rows, spanMul, nil, out[:len(x)], x, m[:len(x)], nil)
}

// mulSpan is out = x ⊙ m on a range of forSpans' slices (out, x, m).
func mulSpan[T float32 | float64](s *spans[T], lo, hi int) bool {
	out, x, m := s.cut(0, lo, hi), s.cut(1, lo, hi), s.cut(2, lo, hi)
	if o, ok := any(out).([]float32); ok {
		vec.Mul(o, any(x).([]float32), any(m).([]float32))
		return true
	}
	for i := range out {
		out[i] = x[i] * m[i]
	}
	return true
}

// WriteHash implements G.Op.
func (maskOp) WriteHash(h hash.Hash) { fmt.Fprint(h, "gahpo.dropoutMask") }

// Hashcode implements G.Op.
func (op maskOp) Hashcode() uint32 { return opHash(op) }

// String implements G.Op.
func (maskOp) String() string { return "DropoutMask" }

// DiffWRT implements G.SDOp: the input, not the mask.
func (maskOp) DiffWRT(int) []bool { return []bool{true, false} }

// SymDiff implements G.SDOp.
func (maskOp) SymDiff(inputs G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	if len(inputs) != 2 {
		return nil, fmt.Errorf("cnn: dropout: differentiate: %d inputs, want 2", len(inputs))
	}
	d, err := G.ApplyOp(maskOp{out: newBuffer()}, grad, inputs[1])
	if err != nil {
		return nil, fmt.Errorf("cnn: dropout: differentiate: %w", err)
	}
	return G.Nodes{d, nil}, nil
}
