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

	"github.com/gahpo/gahpo/models/vec"
)

// errNaNActivation is returned by the ReLU ops when their input holds a
// NaN or an infinity. gorgonia's tape machine (the tests' reference)
// wraps op errors in a type that errors.Is cannot unwrap, so the ops also
// raise their flag.
var errNaNActivation = errors.New("cnn: NaN activation")

// reluOp is the rectifier max(x, 0) as one gorgonia op, on all cores. It
// replaces G.Rectify (a comparison and a product, twice the memory
// traffic) and refuses a NaN or infinite input, which stops a diverged
// training at once with an error.
//
// Its gradient is the incoming gradient where the output is positive and 0
// elsewhere, as in PyTorch (0 at x = 0).
type reluOp struct {
	goOp
	nan *atomic.Bool // raised when an input holds a NaN
	out *outBuffer
}

// relu applies a reluOp to x that raises nan on a NaN or infinite input.
func relu(x *G.Node, nan *atomic.Bool) (*G.Node, error) {
	return G.ApplyOp(reluOp{nan: nan, out: newBuffer()}, x)
}

var (
	_ G.Op   = reluOp{}
	_ G.SDOp = reluOp{}
	_ G.Op   = reluDiffOp{}
)

// Arity implements G.Op.
func (reluOp) Arity() int { return 1 }

// Type implements G.Op: a → a.
func (reluOp) Type() hm.Type { return sameType(1) }

// InferShape implements G.Op.
func (reluOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	s, ok := in[0].(tensor.Shape)
	if !ok {
		return nil, fmt.Errorf("cnn: relu: input shape %v is not a tensor.Shape", in[0])
	}
	return s.Clone(), nil
}

// Do implements G.Op.
func (op reluOp) Do(in ...G.Value) (G.Value, error) {
	x, err := denseArg(in, 0)
	if err != nil {
		return nil, fmt.Errorf("cnn: relu: %w", err)
	}
	out := op.out.get(x.Dtype(), x.Shape())
	var nan bool
	rows := max(1, x.Shape()[0])
	switch x.Dtype() {
	case tensor.Float32:
		xs := values[float32](x)
		nan = reluFwd(values[float32](out), xs, rows)
	case tensor.Float64:
		xs := values[float64](x)
		nan = reluFwd(values[float64](out), xs, rows)
	default:
		return nil, fmt.Errorf("cnn: relu: unsupported dtype %v", x.Dtype())
	}
	if nan {
		if op.nan != nil {
			op.nan.Store(true)
		}
		return nil, errNaNActivation
	}
	return out, nil
}

// reluFwd writes ReLU(x) into out, on all cores, and tells whether x held
// a NaN or an infinity.
func reluFwd[T float32 | float64](out, x []T, rows int) (bad bool) {
	return !forSpans(rows, spanReLU, nil, out[:len(x)], x, nil, nil)
}

// reluSpan is reluSlice on a range of forSpans' slices (out, x).
func reluSpan[T float32 | float64](s *spans[T], lo, hi int) bool {
	return reluSlice(s.cut(0, lo, hi), s.cut(1, lo, hi))
}

// reluSlice writes ReLU(x) into out (which may be x) on the calling
// goroutine and reports whether every value of x is finite.
func reluSlice[T float32 | float64](out, x []T) (finite bool) {
	if o, ok := any(out).([]float32); ok {
		return vec.ReLU(o, any(x).([]float32))
	}
	return reluSerial(out, x)
}

// reluSerial is the ReLU with branches, for float64.
func reluSerial[T float32 | float64](out, x []T) (finite bool) {
	out = out[:len(x)]
	finite = true
	for i, v := range x {
		if v-v != 0 {
			finite = false
		}
		if v > 0 {
			out[i] = v
		} else {
			out[i] = 0
		}
	}
	return finite
}

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
	d, err := G.ApplyOp(reluDiffOp{out: newBuffer()}, output, grad)
	if err != nil {
		return nil, fmt.Errorf("cnn: relu: differentiate: %w", err)
	}
	return G.Nodes{d}, nil
}

// reluDiffOp computes the gradient of reluOp from its output and the
// incoming gradient.
type reluDiffOp struct {
	goOp
	out *outBuffer
}

// Arity implements G.Op.
func (reluDiffOp) Arity() int { return 2 }

// Type implements G.Op: a → a → a.
func (reluDiffOp) Type() hm.Type { return sameType(2) }

// InferShape implements G.Op.
func (reluDiffOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	return reluOp{}.InferShape(in...)
}

// Do implements G.Op.
func (op reluDiffOp) Do(in ...G.Value) (G.Value, error) {
	y, err := denseArg(in, 0)
	if err != nil {
		return nil, fmt.Errorf("cnn: relu gradient: %w", err)
	}
	g, err := denseArg(in, 1)
	if err != nil {
		return nil, fmt.Errorf("cnn: relu gradient: %w", err)
	}
	if !y.Shape().Eq(g.Shape()) || y.Dtype() != g.Dtype() {
		return nil, fmt.Errorf("cnn: relu gradient: output %v %v and gradient %v %v differ", y.Shape(), y.Dtype(), g.Shape(), g.Dtype())
	}
	out := op.out.get(y.Dtype(), y.Shape())
	rows := max(1, y.Shape()[0])
	switch y.Dtype() {
	case tensor.Float32:
		ys := values[float32](y)
		reluBwd(values[float32](out), ys, values[float32](g), rows)
	case tensor.Float64:
		ys := values[float64](y)
		reluBwd(values[float64](out), ys, values[float64](g), rows)
	default:
		return nil, fmt.Errorf("cnn: relu gradient: unsupported dtype %v", y.Dtype())
	}
	return out, nil
}

// reluBwd writes into out the gradient g where y > 0, else 0, on all
// cores (reluGrad on each part).
func reluBwd[T float32 | float64](out, y, g []T, rows int) {
	forSpans(rows, spanReLUGrad, nil, out[:len(y)], y, g[:len(y)], nil)
}

// reluGradSpan is reluGrad on a range of forSpans' slices (out, y, g).
func reluGradSpan[T float32 | float64](s *spans[T], lo, hi int) bool {
	reluGrad(s.cut(0, lo, hi), s.cut(1, lo, hi), s.cut(2, lo, hi))
	return true
}

// WriteHash implements G.Op.
func (reluDiffOp) WriteHash(h hash.Hash) { fmt.Fprint(h, "gahpo.reluDiff") }

// Hashcode implements G.Op.
func (op reluDiffOp) Hashcode() uint32 { return opHash(op) }

// String implements G.Op.
func (reluDiffOp) String() string { return "ReLUDiff" }

// goOp gives this package's ops the flags gorgonia asks of an op that
// allocates (or keeps) its own output and calls nothing outside Go.
type goOp struct{}

// ReturnsPtr implements G.Op.
func (goOp) ReturnsPtr() bool { return false }

// CallsExtern implements G.Op.
func (goOp) CallsExtern() bool { return false }

// OverwritesInput implements G.Op.
func (goOp) OverwritesInput() int { return -1 }

// sameType is the type of an op of the given arity whose inputs and output
// are all of one type: a → … → a.
func sameType(arity int) hm.Type {
	a := hm.TypeVariable('a')
	ts := make([]hm.Type, arity+1)
	for i := range ts {
		ts[i] = a
	}
	return hm.NewFnType(ts...)
}

func opHash(op G.Op) uint32 {
	h := fnv.New32a()
	op.WriteHash(h)
	return h.Sum32()
}

// denseArg returns argument i of an op as a dense tensor.
func denseArg(in []G.Value, i int) (*tensor.Dense, error) {
	if len(in) <= i {
		return nil, fmt.Errorf("cnn: got %d arguments, want at least %d", len(in), i+1)
	}
	d, ok := in[i].(*tensor.Dense)
	if !ok {
		return nil, fmt.Errorf("cnn: argument %d is a %T, not a dense tensor", i, in[i])
	}
	if d.RequiresIterator() { // a strided view: its Data() is not in order
		if d, ok = d.Materialize().(*tensor.Dense); !ok {
			return nil, fmt.Errorf("cnn: argument %d does not materialise to a dense tensor", i)
		}
	}
	return d, nil
}
