package cnn

import (
	"fmt"
	"hash"
	"math"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// The log-softmax and the loss are this package's ops too, not for their
// arithmetic (a batch's logits are 1,280 values at most) but because
// gorgonia's LogSoftMax, HadamardProd and Sum allocate their outputs and
// gradients at every step; these keep theirs.

// logSoftmaxOp is the log-softmax of each row of a (b, c) tensor:
// z - log Σ exp(z), computed in float64.
type logSoftmaxOp struct {
	goOp
	out *outBuffer
}

// logSoftmaxGradOp computes the gradient of a logSoftmaxOp from its output
// logp and the gradient g of that output: g - exp(logp)·Σ g, by row.
type logSoftmaxGradOp struct {
	goOp
	out *outBuffer
}

// lossOp is Σ logp ⊙ y over a (b, c) tensor: with y the loss weights of
// net.y, the mean negative log-likelihood. Its output is a scalar.
type lossOp struct {
	goOp
	val *scalarValue
}

// lossGradOp computes the gradient of a lossOp with respect to logp from y
// and the gradient of the loss: g·y.
type lossGradOp struct {
	goOp
	out *outBuffer
}

// scalarValue keeps the scalar output of a lossOp across runs.
type scalarValue struct {
	f32 G.F32
	f64 G.F64
}

var (
	_ G.Op   = logSoftmaxOp{}
	_ G.SDOp = logSoftmaxOp{}
	_ G.Op   = logSoftmaxGradOp{}
	_ G.Op   = lossOp{}
	_ G.SDOp = lossOp{}
	_ G.Op   = lossGradOp{}
)

// logSoftmax builds the log-softmax of the rows of x (b, c).
func logSoftmax(x *G.Node) (*G.Node, error) {
	return G.ApplyOp(logSoftmaxOp{out: newBuffer()}, x)
}

// weightedSum builds the scalar Σ logp ⊙ y.
func weightedSum(logp, y *G.Node) (*G.Node, error) {
	return G.ApplyOp(lossOp{val: &scalarValue{}}, logp, y)
}

// matrix is the type of a 2-d tensor of a.
func matrix() hm.Type { return G.TensorType{Dims: 2, Of: hm.TypeVariable('a')} }

// rowsCols checks that a tensor is 2-d and returns its shape.
func rowsCols(s tensor.Shape) (int, int, error) {
	if len(s) != 2 {
		return 0, 0, fmt.Errorf("%v is not a (rows, columns) matrix", s)
	}
	return s[0], s[1], nil
}

// Arity implements G.Op.
func (logSoftmaxOp) Arity() int { return 1 }

// Type implements G.Op.
func (logSoftmaxOp) Type() hm.Type { return hm.NewFnType(matrix(), matrix()) }

// InferShape implements G.Op.
func (logSoftmaxOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	s, err := shapes(in, 1)
	if err != nil {
		return nil, fmt.Errorf("log-softmax: %w", err)
	}
	if _, _, err := rowsCols(s[0]); err != nil {
		return nil, fmt.Errorf("log-softmax: input %w", err)
	}
	return s[0].Clone(), nil
}

// Do implements G.Op.
func (op logSoftmaxOp) Do(in ...G.Value) (G.Value, error) {
	z, err := denseArg(in, 0)
	if err != nil {
		return nil, fmt.Errorf("log-softmax: %w", err)
	}
	_, c, err := rowsCols(z.Shape())
	if err != nil {
		return nil, fmt.Errorf("log-softmax: input %w", err)
	}
	out := op.out.get(z.Dtype(), z.Shape())
	switch z.Dtype() {
	case tensor.Float32:
		zs := values[float32](z)
		logSoftmaxRows(values[float32](out), zs, c)
	case tensor.Float64:
		zs := values[float64](z)
		logSoftmaxRows(values[float64](out), zs, c)
	default:
		return nil, fmt.Errorf("log-softmax: unsupported dtype %v", z.Dtype())
	}
	return out, nil
}

// logSoftmaxRows writes the log-softmax of each row of c values of z into
// out.
func logSoftmaxRows[T float32 | float64](out, z []T, c int) {
	for r := 0; r < len(z); r += c {
		row := z[r : r+c]
		m := float64(row[0])
		for _, v := range row[1:] {
			m = max(m, float64(v))
		}
		var s float64
		for _, v := range row {
			s += math.Exp(float64(v) - m)
		}
		lse := m + math.Log(s)
		for i, v := range row {
			out[r+i] = T(float64(v) - lse)
		}
	}
}

// WriteHash implements G.Op.
func (logSoftmaxOp) WriteHash(h hash.Hash) { fmt.Fprint(h, "gahpo.logSoftmax") }

// Hashcode implements G.Op.
func (op logSoftmaxOp) Hashcode() uint32 { return opHash(op) }

// String implements G.Op.
func (logSoftmaxOp) String() string { return "LogSoftmax" }

// DiffWRT implements G.SDOp.
func (logSoftmaxOp) DiffWRT(int) []bool { return []bool{true} }

// SymDiff implements G.SDOp.
func (logSoftmaxOp) SymDiff(_ G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	d, err := G.ApplyOp(logSoftmaxGradOp{out: newBuffer()}, output, grad)
	if err != nil {
		return nil, fmt.Errorf("log-softmax: differentiate: %w", err)
	}
	return G.Nodes{d}, nil
}

// Arity implements G.Op.
func (logSoftmaxGradOp) Arity() int { return 2 }

// Type implements G.Op.
func (logSoftmaxGradOp) Type() hm.Type { return hm.NewFnType(matrix(), matrix(), matrix()) }

// InferShape implements G.Op.
func (logSoftmaxGradOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	s, err := shapes(in, 2)
	if err != nil {
		return nil, fmt.Errorf("log-softmax gradient: %w", err)
	}
	return s[0].Clone(), nil
}

// Do implements G.Op.
func (op logSoftmaxGradOp) Do(in ...G.Value) (G.Value, error) {
	var buf [maxArgs]*tensor.Dense
	a, err := denseArgs(&buf, in, 2)
	if err != nil {
		return nil, fmt.Errorf("log-softmax gradient: %w", err)
	}
	logp, g := a[0], a[1]
	_, c, err := rowsCols(logp.Shape())
	if err != nil || !g.Shape().Eq(logp.Shape()) || g.Dtype() != logp.Dtype() {
		return nil, fmt.Errorf("log-softmax gradient: output %v %v and gradient %v %v", logp.Shape(), logp.Dtype(), g.Shape(), g.Dtype())
	}
	out := op.out.get(logp.Dtype(), logp.Shape())
	switch logp.Dtype() {
	case tensor.Float32:
		ls := values[float32](logp)
		logSoftmaxGrad(values[float32](out), ls, values[float32](g), c)
	case tensor.Float64:
		ls := values[float64](logp)
		logSoftmaxGrad(values[float64](out), ls, values[float64](g), c)
	default:
		return nil, fmt.Errorf("log-softmax gradient: unsupported dtype %v", logp.Dtype())
	}
	return out, nil
}

// logSoftmaxGrad writes g - exp(logp)·Σ g into out, row by row.
func logSoftmaxGrad[T float32 | float64](out, logp, g []T, c int) {
	for r := 0; r < len(logp); r += c {
		var s float64
		for _, v := range g[r : r+c] {
			s += float64(v)
		}
		for i, v := range logp[r : r+c] {
			out[r+i] = T(float64(g[r+i]) - math.Exp(float64(v))*s)
		}
	}
}

// WriteHash implements G.Op.
func (logSoftmaxGradOp) WriteHash(h hash.Hash) { fmt.Fprint(h, "gahpo.logSoftmaxGrad") }

// Hashcode implements G.Op.
func (op logSoftmaxGradOp) Hashcode() uint32 { return opHash(op) }

// String implements G.Op.
func (logSoftmaxGradOp) String() string { return "LogSoftmaxGrad" }

// Arity implements G.Op.
func (lossOp) Arity() int { return 2 }

// Type implements G.Op.
func (lossOp) Type() hm.Type { return hm.NewFnType(matrix(), matrix(), hm.TypeVariable('a')) }

// InferShape implements G.Op.
func (lossOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	s, err := shapes(in, 2)
	if err != nil {
		return nil, fmt.Errorf("loss: %w", err)
	}
	if !s[0].Eq(s[1]) {
		return nil, fmt.Errorf("loss: log-probabilities %v and weights %v differ", s[0], s[1])
	}
	return tensor.ScalarShape(), nil
}

// Do implements G.Op.
func (op lossOp) Do(in ...G.Value) (G.Value, error) {
	var buf [maxArgs]*tensor.Dense
	a, err := denseArgs(&buf, in, 2)
	if err != nil {
		return nil, fmt.Errorf("loss: %w", err)
	}
	logp, y := a[0], a[1]
	if !logp.Shape().Eq(y.Shape()) || logp.Dtype() != y.Dtype() {
		return nil, fmt.Errorf("loss: log-probabilities %v %v and weights %v %v", logp.Shape(), logp.Dtype(), y.Shape(), y.Dtype())
	}
	switch logp.Dtype() {
	case tensor.Float32:
		ls := values[float32](logp)
		op.val.f32 = G.F32(dot(ls, values[float32](y)))
		return &op.val.f32, nil
	case tensor.Float64:
		ls := values[float64](logp)
		op.val.f64 = G.F64(dot(ls, values[float64](y)))
		return &op.val.f64, nil
	}
	return nil, fmt.Errorf("loss: unsupported dtype %v", logp.Dtype())
}

// dot returns Σ a ⊙ b, summed in float64.
func dot[T float32 | float64](a, b []T) float64 {
	b = b[:len(a)]
	var s float64
	for i, v := range a {
		s += float64(v) * float64(b[i])
	}
	return s
}

// WriteHash implements G.Op.
func (lossOp) WriteHash(h hash.Hash) { fmt.Fprint(h, "gahpo.weightedSum") }

// Hashcode implements G.Op.
func (op lossOp) Hashcode() uint32 { return opHash(op) }

// String implements G.Op.
func (lossOp) String() string { return "Σ logp⊙y" }

// DiffWRT implements G.SDOp: the log-probabilities, not the weights.
func (lossOp) DiffWRT(int) []bool { return []bool{true, false} }

// SymDiff implements G.SDOp.
func (lossOp) SymDiff(inputs G.Nodes, _, grad *G.Node) (G.Nodes, error) {
	if len(inputs) != 2 {
		return nil, fmt.Errorf("loss: differentiate: %d inputs, want 2", len(inputs))
	}
	d, err := G.ApplyOp(lossGradOp{out: newBuffer()}, inputs[1], grad)
	if err != nil {
		return nil, fmt.Errorf("loss: differentiate: %w", err)
	}
	return G.Nodes{d, nil}, nil
}

// Arity implements G.Op.
func (lossGradOp) Arity() int { return 2 }

// Type implements G.Op.
func (lossGradOp) Type() hm.Type { return hm.NewFnType(matrix(), hm.TypeVariable('a'), matrix()) }

// InferShape implements G.Op.
func (lossGradOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	if len(in) != 2 {
		return nil, fmt.Errorf("loss gradient: %d inputs, want 2", len(in))
	}
	s, ok := in[0].(tensor.Shape)
	if !ok {
		return nil, fmt.Errorf("loss gradient: input shape %v is not a tensor.Shape", in[0])
	}
	return s.Clone(), nil
}

// Do implements G.Op.
func (op lossGradOp) Do(in ...G.Value) (G.Value, error) {
	if len(in) != 2 {
		return nil, fmt.Errorf("loss gradient: %d arguments, want 2", len(in))
	}
	y, err := denseArg(in, 0)
	if err != nil {
		return nil, fmt.Errorf("loss gradient: %w", err)
	}
	g, err := scalar(in[1])
	if err != nil {
		return nil, fmt.Errorf("loss gradient: %w", err)
	}
	out := op.out.get(y.Dtype(), y.Shape())
	switch y.Dtype() {
	case tensor.Float32:
		ys := values[float32](y)
		scaleInto(values[float32](out), ys, float32(g))
	case tensor.Float64:
		ys := values[float64](y)
		scaleInto(values[float64](out), ys, g)
	default:
		return nil, fmt.Errorf("loss gradient: unsupported dtype %v", y.Dtype())
	}
	return out, nil
}

// scaleInto writes g·y into out.
func scaleInto[T float32 | float64](out, y []T, g T) {
	out = out[:len(y)]
	for i, v := range y {
		out[i] = g * v
	}
}

// WriteHash implements G.Op.
func (lossGradOp) WriteHash(h hash.Hash) { fmt.Fprint(h, "gahpo.weightedSumGrad") }

// Hashcode implements G.Op.
func (op lossGradOp) Hashcode() uint32 { return opHash(op) }

// String implements G.Op.
func (lossGradOp) String() string { return "Σ logp⊙y gradient" }
