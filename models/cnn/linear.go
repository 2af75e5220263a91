package cnn

import (
	"fmt"
	"hash"
	"sync/atomic"

	"github.com/chewxy/hm"
	"gonum.org/v1/gonum/blas"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// linearOp is a fully connected layer, y = x·w + b, with relu followed by
// a ReLU, as one gorgonia op. It replaces gorgonia's Mul and BroadcastAdd
// (and the Reshape before them): those allocate their outputs and their
// gradients (fc1's weight gradient is 4.7 MB) at every step and run their
// bias passes on one core. The products run on gorgonia's BLAS (UseBLAS),
// on all cores.
//
// Inputs: x (b, ...), read as (b, in) rows; w (in, out); b (1, out).
// Output: (b, out). With relu it fails with errNaNActivation, and raises
// nan, on a NaN or infinite output.
type linearOp struct {
	goOp
	relu bool
	nan  *atomic.Bool
	out  *outBuffer
}

// linearGradOp computes one gradient of a linearOp from the gradient dz
// of its output before any ReLU.
type linearGradOp struct {
	goOp
	wrt   int          // gradInput (w, dz), gradFilters (x, dz): the weights, or gradBias (dz)
	shape tensor.Shape // of the result
	out   *outBuffer
}

var (
	_ G.Op   = linearOp{}
	_ G.SDOp = linearOp{}
	_ G.Op   = linearGradOp{}
)

// newLinear builds the layer x·w + b, with a ReLU when relu.
func newLinear(x, w, b *G.Node, relu bool, nan *atomic.Bool) (*G.Node, error) {
	return G.ApplyOp(linearOp{relu: relu, nan: nan, out: newBuffer()}, x, w, b)
}

// linearShapes checks the shapes of a linearOp's inputs and returns the
// rows, inputs and outputs.
func linearShapes(x, w, b tensor.Shape) (rows, in, out int, err error) {
	if len(x) < 2 || len(w) != 2 {
		return 0, 0, 0, fmt.Errorf("linear: input %v and weights %v, want (b, ...) and (in, out)", x, w)
	}
	rows, in, out = x[0], x.TotalSize()/max(1, x[0]), w[1]
	if w[0] != in || b.TotalSize() != out {
		return 0, 0, 0, fmt.Errorf("linear: input %v, weights %v and bias %v do not fit", x, w, b)
	}
	return rows, in, out, nil
}

// Arity implements G.Op.
func (linearOp) Arity() int { return 3 }

// Type implements G.Op: the input may have more dimensions than the
// weights, so its type is its own.
func (linearOp) Type() hm.Type {
	a, x := hm.TypeVariable('a'), hm.TypeVariable('x')
	return hm.NewFnType(x, G.TensorType{Dims: 2, Of: a}, G.TensorType{Dims: 2, Of: a}, G.TensorType{Dims: 2, Of: a})
}

// InferShape implements G.Op.
func (linearOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	s, err := shapes(in, 3)
	if err != nil {
		return nil, fmt.Errorf("linear: %w", err)
	}
	rows, _, out, err := linearShapes(s[0], s[1], s[2])
	if err != nil {
		return nil, err
	}
	return tensor.Shape{rows, out}, nil
}

// Do implements G.Op.
func (op linearOp) Do(in ...G.Value) (G.Value, error) {
	var buf [maxArgs]*tensor.Dense
	a, err := denseArgs(&buf, in, 3)
	if err != nil {
		return nil, fmt.Errorf("linear: %w", err)
	}
	rows, n, m, err := linearShapes(a[0].Shape(), a[1].Shape(), a[2].Shape())
	if err != nil {
		return nil, err
	}
	dt := a[0].Dtype()
	if a[1].Dtype() != dt || a[2].Dtype() != dt {
		return nil, fmt.Errorf("linear: mixed dtypes %v, %v, %v", dt, a[1].Dtype(), a[2].Dtype())
	}
	y := op.out.get(dt, tensor.Shape{rows, m})
	finite := true
	switch y.Dtype() {
	case tensor.Float32:
		ys := values[float32](y)
		finite = linearForward(ys, values[float32](a[0]), values[float32](a[1]), values[float32](a[2]), rows, n, m, op.relu)
	case tensor.Float64:
		ys := values[float64](y)
		finite = linearForward(ys, values[float64](a[0]), values[float64](a[1]), values[float64](a[2]), rows, n, m, op.relu)
	default:
		return nil, fmt.Errorf("linear: unsupported dtype %v", dt)
	}
	if !finite {
		if op.nan != nil {
			op.nan.Store(true)
		}
		return nil, errNaNActivation
	}
	return y, nil
}

// linearForward writes x·w + b (ReLU'd when relu) into y and, with relu,
// reports whether every output is finite.
func linearForward[T float32 | float64](y, x, w, b []T, rows, n, m int, relu bool) bool {
	fillRows(y[:rows*m], b)
	gemmAll(false, false, rows, m, n, x, n, w, m, 1, y, m)
	return !relu || !reluFwd(y, y, max(1, rows))
}

// gemmAll computes C = op(A)·op(B) + beta·C (row-major) with gorgonia's
// BLAS, which shares a large product among all cores.
func gemmAll[T float32 | float64](tA, tB bool, m, n, k int, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) {
	ta, tb := blas.NoTrans, blas.NoTrans
	if tA {
		ta = blas.Trans
	}
	if tB {
		tb = blas.Trans
	}
	switch a := any(a).(type) {
	case []float32:
		G.WhichBLAS().Sgemm(ta, tb, m, n, k, 1, a, lda, any(b).([]float32), ldb, float32(beta), any(c).([]float32), ldc)
	case []float64:
		G.WhichBLAS().Dgemm(ta, tb, m, n, k, 1, a, lda, any(b).([]float64), ldb, float64(beta), any(c).([]float64), ldc)
	}
}

// WriteHash implements G.Op.
func (op linearOp) WriteHash(h hash.Hash) { fmt.Fprintf(h, "gahpo.linear(relu %v)", op.relu) }

// Hashcode implements G.Op.
func (op linearOp) Hashcode() uint32 { return opHash(op) }

// String implements G.Op.
func (op linearOp) String() string {
	if op.relu {
		return "LinearReLU"
	}
	return "Linear"
}

// DiffWRT implements G.SDOp.
func (linearOp) DiffWRT(int) []bool { return []bool{true, true, true} }

// SymDiff implements G.SDOp.
func (op linearOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	if len(inputs) != 3 {
		return nil, fmt.Errorf("linear: differentiate: %d inputs, want 3", len(inputs))
	}
	x, w := inputs[0], inputs[1]
	dz := grad
	var err error
	if op.relu {
		if dz, err = G.ApplyOp(reluDiffOp{out: newBuffer()}, output, grad); err != nil {
			return nil, fmt.Errorf("linear: differentiate the ReLU: %w", err)
		}
	}
	grads := make(G.Nodes, 3)
	for i, args := range []G.Nodes{{w, dz}, {x, dz}, {dz}} {
		g := linearGradOp{wrt: i, shape: inputs[i].Shape().Clone(), out: newBuffer()}
		if grads[i], err = G.ApplyOp(g, args...); err != nil {
			return nil, fmt.Errorf("linear: differentiate: %w", err)
		}
	}
	return grads, nil
}

// Arity implements G.Op.
func (op linearGradOp) Arity() int { return [...]int{2, 2, 1}[op.wrt] }

// Type implements G.Op.
func (op linearGradOp) Type() hm.Type {
	a, x := hm.TypeVariable('a'), hm.TypeVariable('x')
	t2 := G.TensorType{Dims: 2, Of: a}
	switch op.wrt {
	case gradInput: // (w, dz) → the input's type
		return hm.NewFnType(t2, t2, G.TensorType{Dims: len(op.shape), Of: a})
	case gradFilters: // (x, dz) → w
		return hm.NewFnType(x, t2, t2)
	default:
		return hm.NewFnType(t2, t2)
	}
}

// InferShape implements G.Op.
func (op linearGradOp) InferShape(...G.DimSizer) (tensor.Shape, error) { return op.shape.Clone(), nil }

// Do implements G.Op.
func (op linearGradOp) Do(in ...G.Value) (G.Value, error) {
	var buf [maxArgs]*tensor.Dense
	a, err := denseArgs(&buf, in, op.Arity())
	if err != nil {
		return nil, fmt.Errorf("%v: %w", op, err)
	}
	dz := a[len(a)-1]
	zs := dz.Shape()
	if len(zs) != 2 {
		return nil, fmt.Errorf("%v: output gradient %v is not 2-d", op, zs)
	}
	rows, m := zs[0], zs[1]
	var n int
	switch op.wrt {
	case gradInput:
		if ws := a[0].Shape(); len(ws) != 2 || ws[1] != m || op.shape[0] != rows || op.shape.TotalSize() != rows*ws[0] {
			return nil, fmt.Errorf("%v: weights %v for an output gradient %v and an input %v", op, ws, zs, op.shape)
		}
		n = a[0].Shape()[0]
	case gradFilters:
		xs := a[0].Shape()
		if len(xs) < 2 || xs[0] != rows || len(op.shape) != 2 || op.shape[1] != m || xs.TotalSize() != rows*op.shape[0] {
			return nil, fmt.Errorf("%v: input %v for an output gradient %v and weights %v", op, xs, zs, op.shape)
		}
		n = op.shape[0]
	default:
		if op.shape.TotalSize() != m {
			return nil, fmt.Errorf("%v: bias %v for an output gradient %v", op, op.shape, zs)
		}
	}
	for _, t := range a {
		if t.Dtype() != dz.Dtype() {
			return nil, fmt.Errorf("%v: mixed dtypes %v and %v", op, t.Dtype(), dz.Dtype())
		}
	}
	out := op.out.get(dz.Dtype(), op.shape)
	switch out.Dtype() {
	case tensor.Float32:
		o := values[float32](out)
		linearGrad(op.wrt, o, a, rows, n, m)
	case tensor.Float64:
		o := values[float64](out)
		linearGrad(op.wrt, o, a, rows, n, m)
	default:
		return nil, fmt.Errorf("%v: unsupported dtype %v", op, dz.Dtype())
	}
	return out, nil
}

// linearGrad writes into o the gradient wrt of a layer of rows×n inputs
// and m outputs: dx = dz·wᵀ, dw = xᵀ·dz or db = Σ rows of dz.
func linearGrad[T float32 | float64](wrt int, o []T, a []*tensor.Dense, rows, n, m int) {
	dz := values[T](a[len(a)-1])
	switch wrt {
	case gradInput:
		gemmAll(false, true, rows, n, m, dz, m, values[T](a[0]), m, 0, o, n)
	case gradFilters:
		gemmAll(true, false, n, m, rows, values[T](a[0]), n, dz, m, 0, o, m)
	default:
		copy(o, dz[:m])
		for r := 1; r < rows; r++ {
			add(o, dz[r*m:(r+1)*m])
		}
	}
}

// WriteHash implements G.Op.
func (op linearGradOp) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "gahpo.linearGrad(%d, %v)", op.wrt, op.shape)
}

// Hashcode implements G.Op.
func (op linearGradOp) Hashcode() uint32 { return opHash(op) }

// String implements G.Op.
func (op linearGradOp) String() string {
	return [...]string{"LinearGradInput", "LinearGradWeights", "LinearGradBias"}[op.wrt]
}
