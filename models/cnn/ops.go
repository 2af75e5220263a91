package cnn

import (
	"errors"
	"fmt"
	"hash"
	"hash/fnv"
	"sync/atomic"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// errNaNActivation is returned by the ReLU op when its input holds a NaN.
// gorgonia's VM wraps op errors in a type that errors.Is cannot unwrap, so
// the op also raises its flag.
var errNaNActivation = errors.New("NaN activation")

// reluOp is the rectifier max(x, 0) as one gorgonia op. It replaces
// G.Rectify (a comparison and a product, twice the memory traffic) and, more
// importantly, refuses a NaN input: gorgonia's MaxPool2D panics in its
// backward pass on a window of NaNs, inside the tape machine's own
// goroutine where no recover can reach, so the ReLU that feeds it fails the
// run first with an error.
//
// Its gradient is the incoming gradient where the output is positive and 0
// elsewhere, as in PyTorch (0 at x = 0).
type reluOp struct {
	nan *atomic.Bool // raised when an input holds a NaN
}

// relu applies a reluOp to x that raises nan on a NaN input.
func relu(x *G.Node, nan *atomic.Bool) (*G.Node, error) { return G.ApplyOp(reluOp{nan}, x) }

var (
	_ G.Op   = reluOp{}
	_ G.SDOp = reluOp{}
	_ G.Op   = reluDiffOp{}
)

// Arity implements G.Op.
func (reluOp) Arity() int { return 1 }

// Type implements G.Op: a → a.
func (reluOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	return hm.NewFnType(a, a)
}

// InferShape implements G.Op.
func (reluOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	s, ok := in[0].(tensor.Shape)
	if !ok {
		return nil, fmt.Errorf("relu: input shape %v is not a tensor.Shape", in[0])
	}
	return s.Clone(), nil
}

// Do implements G.Op.
func (op reluOp) Do(in ...G.Value) (G.Value, error) {
	x, err := denseArg(in, 0)
	if err != nil {
		return nil, fmt.Errorf("relu: %w", err)
	}
	out := tensor.New(tensor.Of(x.Dtype()), tensor.WithShape(x.Shape().Clone()...))
	var nan bool
	switch xs := x.Data().(type) {
	case []float32:
		nan = reluFwd(out.Data().([]float32), xs)
	case []float64:
		nan = reluFwd(out.Data().([]float64), xs)
	default:
		return nil, fmt.Errorf("relu: unsupported dtype %v", x.Dtype())
	}
	if nan {
		op.nan.Store(true)
		return nil, errNaNActivation
	}
	return out, nil
}

func reluFwd[T float32 | float64](out, x []T) (nan bool) {
	out = out[:len(x)]
	for i, v := range x {
		switch {
		case v > 0:
			out[i] = v
		case v != v:
			nan = true
		default:
			out[i] = 0
		}
	}
	return nan
}

// ReturnsPtr implements G.Op.
func (reluOp) ReturnsPtr() bool { return false }

// CallsExtern implements G.Op.
func (reluOp) CallsExtern() bool { return false }

// OverwritesInput implements G.Op.
func (reluOp) OverwritesInput() int { return -1 }

// WriteHash implements G.Op.
func (reluOp) WriteHash(h hash.Hash) { fmt.Fprint(h, "gahpo.relu") }

// Hashcode implements G.Op.
func (op reluOp) Hashcode() uint32 { return opHash(op) }

// String implements G.Op.
func (reluOp) String() string { return "ReLU" }

// DiffWRT implements G.SDOp.
func (reluOp) DiffWRT(int) []bool { return []bool{true} }

// SymDiff implements G.SDOp.
func (reluOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	d, err := G.ApplyOp(reluDiffOp{}, output, grad)
	if err != nil {
		return nil, fmt.Errorf("relu: differentiate: %w", err)
	}
	return G.Nodes{d}, nil
}

// reluDiffOp computes the gradient of reluOp from its output and the
// incoming gradient.
type reluDiffOp struct{}

// Arity implements G.Op.
func (reluDiffOp) Arity() int { return 2 }

// Type implements G.Op: a → a → a.
func (reluDiffOp) Type() hm.Type {
	a := hm.TypeVariable('a')
	return hm.NewFnType(a, a, a)
}

// InferShape implements G.Op.
func (reluDiffOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	return reluOp{}.InferShape(in...)
}

// Do implements G.Op.
func (reluDiffOp) Do(in ...G.Value) (G.Value, error) {
	y, err := denseArg(in, 0)
	if err != nil {
		return nil, fmt.Errorf("relu gradient: %w", err)
	}
	g, err := denseArg(in, 1)
	if err != nil {
		return nil, fmt.Errorf("relu gradient: %w", err)
	}
	if !y.Shape().Eq(g.Shape()) || y.Dtype() != g.Dtype() {
		return nil, fmt.Errorf("relu gradient: output %v %v and gradient %v %v differ", y.Shape(), y.Dtype(), g.Shape(), g.Dtype())
	}
	out := tensor.New(tensor.Of(y.Dtype()), tensor.WithShape(y.Shape().Clone()...))
	switch ys := y.Data().(type) {
	case []float32:
		reluBwd(out.Data().([]float32), ys, g.Data().([]float32))
	case []float64:
		reluBwd(out.Data().([]float64), ys, g.Data().([]float64))
	default:
		return nil, fmt.Errorf("relu gradient: unsupported dtype %v", y.Dtype())
	}
	return out, nil
}

func reluBwd[T float32 | float64](out, y, g []T) {
	out, g = out[:len(y)], g[:len(y)]
	for i, v := range y {
		if v > 0 {
			out[i] = g[i]
		} else {
			out[i] = 0
		}
	}
}

// ReturnsPtr implements G.Op.
func (reluDiffOp) ReturnsPtr() bool { return false }

// CallsExtern implements G.Op.
func (reluDiffOp) CallsExtern() bool { return false }

// OverwritesInput implements G.Op.
func (reluDiffOp) OverwritesInput() int { return -1 }

// WriteHash implements G.Op.
func (reluDiffOp) WriteHash(h hash.Hash) { fmt.Fprint(h, "gahpo.reluDiff") }

// Hashcode implements G.Op.
func (op reluDiffOp) Hashcode() uint32 { return opHash(op) }

// String implements G.Op.
func (reluDiffOp) String() string { return "ReLUDiff" }

func opHash(op G.Op) uint32 {
	h := fnv.New32a()
	op.WriteHash(h)
	return h.Sum32()
}

// denseArg returns argument i of an op as a dense tensor.
func denseArg(in []G.Value, i int) (*tensor.Dense, error) {
	if len(in) <= i {
		return nil, fmt.Errorf("got %d arguments, want at least %d", len(in), i+1)
	}
	d, ok := in[i].(*tensor.Dense)
	if !ok {
		return nil, fmt.Errorf("argument %d is a %T, not a dense tensor", i, in[i])
	}
	if d.RequiresIterator() { // a strided view: its Data() is not in order
		if d, ok = d.Materialize().(*tensor.Dense); !ok {
			return nil, fmt.Errorf("argument %d does not materialise to a dense tensor", i)
		}
	}
	return d, nil
}
