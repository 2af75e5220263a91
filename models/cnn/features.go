package cnn

import (
	"errors"
	"fmt"
	"hash"
	"sync/atomic"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/gahpo/gahpo/models/vec"
)

// featOp is the network's feature extractor as one op: conv 3×3 with bias
// and ReLU, conv 3×3 with bias, then ReLU and 2×2 max-pool into NCHW
// order; the same arithmetic as convOp (relu), convOp and maxPoolOp (relu)
// in a row, which it replaces in the network for speed:
//
//   - each core takes the batch's images, in chunks it claims one at a
//     time (forChunks), through the whole chain, image after image, so an
//     image's activations (conv2's output is 147 KB) are still in the
//     core's cache for the next layer, a step forks and joins once instead
//     of once per layer, and a core slowed by another process does less;
//   - its gradient (featGradOp) does the same backwards: max-pool's
//     gradient, conv2's filter, bias and input gradients, conv1's ReLU and
//     its filter and bias gradients, one image at a time. The gradients of
//     the activations never leave the cache and are never kept for the
//     whole batch; each chunk sums its own weight gradients, added in chunk
//     order, so the result does not depend on which core ran which chunk.
//
// Inputs: images x (b, h, w, cin), conv1's filters (c1, cin, 3, 3) and
// bias (c1 values), conv2's filters (c2, c1, 3, 3) and bias (c2 values).
// Output: (b, c2, (h-4)/2, (w-4)/2). It fails with errNaNActivation, and
// raises nan, when conv1's output holds a NaN or an infinity.
//
// The activations that the gradient needs (conv1's output and conv2's,
// before the ReLU) are kept for the whole batch only once the op has been
// differentiated (a training graph); an evaluation graph keeps one image's
// per chunk being computed.
type featOp struct {
	goOp
	st *featState
}

// featState is what a featOp shares with its gradient ops: the kept
// activations and the gradients of the weights, all reused from one batch
// to the next.
type featState struct {
	nan  *atomic.Bool
	keep bool // set by SymDiff: keep h1 and z2 for the gradient
	out  outBuffer
	// h1 is conv1's output after its ReLU, z2 conv2's output without its
	// bias (the max-pool adds it) and its ReLU, both NHWC, for the whole
	// batch (when keep).
	h1, z2 outBuffer
	// grads are the weights' gradients in the order of the op's weight
	// inputs: conv1's filters and bias, conv2's filters and bias.
	grads [4]outBuffer
	// fwd and bwd are the parallel passes' states, a *featFwd[T] and a
	// *featBwd[T], kept with their functions bound once: closures over
	// the passes' variables would be new objects at every batch.
	fwd, bwd any
}

// newFeatures returns the feature extractor of a network on x with the
// weights w[0:4]; nan is raised on a NaN activation.
func newFeatures(x *G.Node, w G.Nodes, nan *atomic.Bool) (*G.Node, error) {
	return G.ApplyOp(featOp{st: &featState{nan: nan}}, x, w[0], w[1], w[2], w[3])
}

var (
	_ G.Op   = featOp{}
	_ G.SDOp = featOp{}
	_ G.Op   = featGradOp{}
	_ G.Op   = featPickOp{}
)

// featGeom is the geometry of both convolutions of a featOp.
type featGeom struct{ c1, c2 convGeom }

// featGeometry derives the geometry from the shapes of x and of both
// filters.
func featGeometry(x, w1, w2 tensor.Shape) (featGeom, error) {
	g1, err := geometry(x, w1)
	if err != nil {
		return featGeom{}, fmt.Errorf("conv1: %w", err)
	}
	g2, err := geometry(tensor.Shape{g1.b, g1.oh, g1.ow, g1.cout}, w2)
	if err != nil {
		return featGeom{}, fmt.Errorf("conv2: %w", err)
	}
	if g2.oh%2 != 0 || g2.ow%2 != 0 {
		return featGeom{}, fmt.Errorf("conv2's output %d×%d is not even: no 2×2 max-pool", g2.oh, g2.ow)
	}
	return featGeom{g1, g2}, nil
}

// outShape is the shape of the op's output.
func (g featGeom) outShape() tensor.Shape {
	return tensor.Shape{g.c1.b, g.c2.cout, g.c2.oh / 2, g.c2.ow / 2}
}

// pooled is the number of output values of one image.
func (g featGeom) pooled() int { return g.c2.outSize() / 4 }

// colSize is the length of an im2col matrix of either convolution.
func (g featGeom) colSize() int { return max(g.c1.pix()*g.c1.k(), g.c2.pix()*g.c2.k()) }

// Arity implements G.Op.
func (featOp) Arity() int { return 5 }

// Type implements G.Op.
func (featOp) Type() hm.Type { return sameType(5) }

// InferShape implements G.Op.
func (featOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	s, err := shapes(in, 5)
	if err != nil {
		return nil, fmt.Errorf("features: %w", err)
	}
	g, err := featGeometry(s[0], s[1], s[3])
	if err != nil {
		return nil, fmt.Errorf("features: %w", err)
	}
	return g.outShape(), nil
}

// shapes returns the n input shapes of an op.
func shapes(in []G.DimSizer, n int) ([]tensor.Shape, error) {
	if len(in) != n {
		return nil, fmt.Errorf("%d input shapes, want %d", len(in), n)
	}
	out := make([]tensor.Shape, n)
	for i, d := range in {
		s, ok := d.(tensor.Shape)
		if !ok {
			return nil, fmt.Errorf("input shape %v is not a tensor.Shape", d)
		}
		out[i] = s
	}
	return out, nil
}

// Do implements G.Op.
func (op featOp) Do(in ...G.Value) (G.Value, error) {
	var buf [maxArgs]*tensor.Dense
	a, err := denseArgs(&buf, in, 5)
	if err != nil {
		return nil, fmt.Errorf("features: %w", err)
	}
	g, err := featGeometry(a[0].Shape(), a[1].Shape(), a[3].Shape())
	if err != nil {
		return nil, fmt.Errorf("features: %w", err)
	}
	dt := a[0].Dtype()
	for _, t := range a[1:] {
		if t.Dtype() != dt {
			return nil, fmt.Errorf("features: mixed dtypes %v and %v", dt, t.Dtype())
		}
	}
	if a[2].Size() != g.c1.cout || a[4].Size() != g.c2.cout {
		return nil, fmt.Errorf("features: biases of %d and %d values for %d and %d filters", a[2].Size(), a[4].Size(), g.c1.cout, g.c2.cout)
	}
	st := op.st
	out := st.out.get(dt, g.outShape())
	var h1, z2 *tensor.Dense
	if st.keep {
		h1 = st.h1.get(dt, tensor.Shape{g.c1.b, g.c1.oh, g.c1.ow, g.c1.cout})
		z2 = st.z2.get(dt, tensor.Shape{g.c2.b, g.c2.oh, g.c2.ow, g.c2.cout})
	}
	var finite bool
	switch out.Dtype() {
	case tensor.Float32:
		finite = featForward[float32](st, out, h1, z2, a, g)
	case tensor.Float64:
		finite = featForward[float64](st, out, h1, z2, a, g)
	default:
		return nil, fmt.Errorf("features: unsupported dtype %v", dt)
	}
	if !finite {
		if st.nan != nil {
			st.nan.Store(true)
		}
		return nil, errNaNActivation
	}
	return out, nil
}

// featForward computes the features of a's images into out, keeping the
// activations in h1 and z2 when they are not nil, image by image on all
// cores, with st's pass; it reports whether conv1's and conv2's outputs
// were all finite.
func featForward[T float32 | float64](st *featState, out, h1, z2 *tensor.Dense, a []*tensor.Dense, g featGeom) bool {
	p, ok := st.fwd.(*featFwd[T])
	if !ok {
		p = &featFwd[T]{}
		p.fn = p.images
		st.fwd = p
	}
	data := func(i int) []T { return values[T](a[i]) }
	p.g, p.x, p.b1, p.b2, p.o = g, data(0), data(2), data(4), values[T](out)
	p.wm1, p.wm2 = borrow[T](g.c1.k()*g.c1.cout), borrow[T](g.c2.k()*g.c2.cout)
	defer giveBack(p.wm1)
	defer giveBack(p.wm2)
	filterRows(p.wm1, data(1), g.c1)
	filterRows(p.wm2, data(3), g.c2)
	p.h1s, p.z2s = nil, nil
	if h1 != nil {
		p.h1s, p.z2s = values[T](h1), values[T](z2)
	}
	p.bad.Store(false)
	forChunks(g.c1.b, chunks(g.c1.b), p.fn)
	return !p.bad.Load()
}

// featFwd is a forward pass's state (see featForward).
type featFwd[T float32 | float64] struct {
	g                      featGeom
	x, b1, b2, o, wm1, wm2 []T // images, biases, output, filters as rows
	h1s, z2s               []T // the kept activations, or nil
	bad                    atomic.Bool
	fn                     func(chunk, lo, hi int) // images, bound once
}

// images computes the features of the images [lo, hi).
func (p *featFwd[T]) images(_, lo, hi int) {
	g := p.g
	col := borrow[T](g.colSize())
	defer giveBack(col)
	var act []T // one image's activations, when not kept
	if p.h1s == nil {
		act = borrow[T](g.c1.outSize() + g.c2.outSize())
		defer giveBack(act)
	}
	for s := lo; s < hi; s++ {
		var a1, z []T
		if p.h1s != nil {
			a1 = p.h1s[s*g.c1.outSize():][:g.c1.outSize()]
			z = p.z2s[s*g.c2.outSize():][:g.c2.outSize()]
		} else {
			a1, z = act[:g.c1.outSize()], act[g.c1.outSize():][:g.c2.outSize()]
		}
		if !convImage(a1, col, p.x[s*g.c1.inSize():][:g.c1.inSize()], p.wm1, p.b1, g.c1, true) {
			p.bad.Store(true)
		}
		// conv2's bias is added by the max-pool, to a quarter of the
		// values (it commutes with the maximum): z is without it.
		convImage(z, col, a1, p.wm2, nil, g.c2, false)
		if !poolImage(p.o[s*g.pooled():][:g.pooled()], z, p.b2, g.c2.oh, g.c2.ow, g.c2.cout, true) {
			p.bad.Store(true)
		}
	}
}

// WriteHash implements G.Op.
func (featOp) WriteHash(h hash.Hash) {
	fmt.Fprint(h, "gahpo.features(conv3x3 relu, conv3x3, relu maxpool2x2)")
}

// Hashcode implements G.Op.
func (op featOp) Hashcode() uint32 { return opHash(op) }

// String implements G.Op.
func (featOp) String() string { return "Conv3x3ReLU→Conv3x3→ReLUMaxPool2x2" }

// DiffWRT implements G.SDOp: every weight, not the images.
func (featOp) DiffWRT(int) []bool { return []bool{false, true, true, true, true} }

// SymDiff implements G.SDOp. One featGradOp computes the four gradients
// (it returns conv1's filters'); featPickOps hand out the other three.
func (op featOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	if len(inputs) != 5 {
		return nil, fmt.Errorf("features: differentiate: %d inputs, want 5", len(inputs))
	}
	op.st.keep = true
	grads := make(G.Nodes, 5)
	var err error
	if grads[1], err = G.ApplyOp(featGradOp{st: op.st}, inputs[0], inputs[3], output, grad); err != nil {
		return nil, fmt.Errorf("features: differentiate: %w", err)
	}
	for i := 2; i < 5; i++ {
		if grads[i], err = G.ApplyOp(featPickOp{st: op.st, which: i - 1, shape: inputs[i].Shape().Clone()}, grads[1]); err != nil {
			return nil, fmt.Errorf("features: differentiate: %w", err)
		}
	}
	return grads, nil
}

// featGradOp computes the gradients of a featOp's weights from its images,
// conv2's filters, its output (whose signs are the ReLU's) and the
// gradient of its output, with the activations the featOp kept. It
// returns conv1's filters' gradient and keeps the others for featPickOps.
type featGradOp struct {
	goOp
	st *featState
}

// Arity implements G.Op.
func (featGradOp) Arity() int { return 4 }

// Type implements G.Op.
func (featGradOp) Type() hm.Type { return sameType(4) }

// InferShape implements G.Op: conv1's filters, (c1, cin, 3, 3).
func (featGradOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	s, err := shapes(in, 4)
	if err != nil {
		return nil, fmt.Errorf("features gradient: %w", err)
	}
	if len(s[0]) != 4 || len(s[1]) != 4 {
		return nil, fmt.Errorf("features gradient: images %v and filters %v must be 4-d", s[0], s[1])
	}
	return tensor.Shape{s[1][1], s[0][3], 3, 3}, nil
}

// errNotKept is returned by featGradOp when its featOp kept no activations.
var errNotKept = errors.New("features gradient: no activations kept by the forward pass")

// Do implements G.Op.
func (op featGradOp) Do(in ...G.Value) (G.Value, error) {
	var buf [maxArgs]*tensor.Dense
	a, err := denseArgs(&buf, in, 4)
	if err != nil {
		return nil, fmt.Errorf("features gradient: %w", err)
	}
	x, w2, y, dy := a[0], a[1], a[2], a[3]
	xs, ws := x.Shape(), w2.Shape()
	if len(xs) != 4 || len(ws) != 4 {
		return nil, fmt.Errorf("features gradient: images %v and filters %v must be 4-d", xs, ws)
	}
	g, err := featGeometry(xs, tensor.Shape{ws[1], xs[3], 3, 3}, ws)
	if err != nil {
		return nil, fmt.Errorf("features gradient: %w", err)
	}
	dt := x.Dtype()
	if w2.Dtype() != dt || dy.Dtype() != dt || !dy.Shape().Eq(g.outShape()) || y.Dtype() != dt || !y.Shape().Eq(g.outShape()) {
		return nil, fmt.Errorf("features gradient: output %v %v and its gradient %v %v, want %v %v", y.Shape(), y.Dtype(), dy.Shape(), dy.Dtype(), g.outShape(), dt)
	}
	st := op.st
	h1, z2 := st.h1.t, st.z2.t
	if !st.keep || h1 == nil || z2 == nil || h1.Dtype() != dt || h1.Size() != g.c1.b*g.c1.outSize() || z2.Size() != g.c2.b*g.c2.outSize() {
		return nil, errNotKept
	}
	shape := [4]tensor.Shape{
		{g.c1.cout, g.c1.cin, 3, 3}, {1, g.c1.cout, 1, 1},
		{g.c2.cout, g.c2.cin, 3, 3}, {1, g.c2.cout, 1, 1},
	}
	var out [4]*tensor.Dense
	for i := range out {
		out[i] = st.grads[i].get(dt, shape[i])
	}
	switch dt {
	case tensor.Float32:
		featBackward[float32](st, out, x, w2, y, dy, h1, z2, g)
	case tensor.Float64:
		featBackward[float64](st, out, x, w2, y, dy, h1, z2, g)
	default:
		return nil, fmt.Errorf("features gradient: unsupported dtype %v", dt)
	}
	return out[0], nil
}

// featBackward writes the gradients of conv1's filters and bias and of
// conv2's filters and bias into out, image by image on all cores with st's
// pass, the images of each chunk (see forChunks) summed into the chunk's
// own accumulators, which are then added in chunk order. y is the forward
// pass's output: its ReLU passes the gradient where y > 0 (z2 lacks the
// bias that decided it).
func featBackward[T float32 | float64](st *featState, out [4]*tensor.Dense, x, w2, y, dy, h1, z2 *tensor.Dense, g featGeom) {
	p, ok := st.bwd.(*featBwd[T])
	if !ok {
		p = &featBwd[T]{}
		p.fn = p.images
		st.bwd = p
	}
	p.g, p.xs, p.ys, p.dys, p.h1s, p.z2s = g, values[T](x), values[T](y), values[T](dy), values[T](h1), values[T](z2)
	c1, c2 := g.c1, g.c2
	p.wc = borrow[T](c2.cout * c2.k()) // conv2's filters, rows in im2col's column order
	defer giveBack(p.wc)
	filterCols(p.wc, values[T](w2), c2)
	// Each chunk's sums: conv1's filters (c1.cout×c1.k) and bias, conv2's
	// filters (c2.cout×c2.k) and bias.
	p.per = c1.cout*c1.k() + c1.cout + c2.cout*c2.k() + c2.cout
	n := chunks(c1.b)
	p.acc = borrow[T](n * p.per)
	defer giveBack(p.acc)
	clear(p.acc)
	forChunks(c1.b, n, p.fn)
	sum := p.acc[:p.per]
	for k := 1; k < n; k++ {
		add(sum, p.acc[k*p.per:][:p.per])
	}
	dw1, sum := sum[:c1.cout*c1.k()], sum[c1.cout*c1.k():]
	db1, sum := sum[:c1.cout], sum[c1.cout:]
	dw2, db2 := sum[:c2.cout*c2.k()], sum[c2.cout*c2.k():]
	filterLayout(values[T](out[0]), dw1, c1)
	copy(values[T](out[1]), db1)
	filterLayout(values[T](out[2]), dw2, c2)
	copy(values[T](out[3]), db2)
}

// featBwd is a backward pass's state (see featBackward).
type featBwd[T float32 | float64] struct {
	g                     featGeom
	xs, ys, dys, h1s, z2s []T // images, output and its gradient, kept activations
	wc                    []T // conv2's filters, rows in im2col's column order
	acc                   []T // the chunks' sums, per values each
	per                   int
	fn                    func(chunk, lo, hi int) // images, bound once
}

// images adds the gradients of the images [lo, hi) into the sums of
// chunk.
func (p *featBwd[T]) images(chunk, lo, hi int) {
	g := p.g
	c1, c2 := g.c1, g.c2
	a := p.acc[chunk*p.per:][:p.per]
	dw1, a := a[:c1.cout*c1.k()], a[c1.cout*c1.k():]
	db1, a := a[:c1.cout], a[c1.cout:]
	dw2, db2 := a[:c2.cout*c2.k()], a[c2.cout*c2.k():]
	scratch := borrow[T](g.colSize() + c2.outSize() + c1.outSize() + g.pooled())
	defer giveBack(scratch)
	col, dz2, dh1 := scratch[:g.colSize()], scratch[g.colSize():][:c2.outSize()], scratch[g.colSize()+c2.outSize():][:c1.outSize()]
	dp := scratch[g.colSize()+c2.outSize()+c1.outSize():][:g.pooled()]
	for s := lo; s < hi; s++ {
		a1 := p.h1s[s*c1.outSize():][:c1.outSize()]
		// conv2's ReLU, on the pooled output, then the max-pool.
		reluGrad(dp, p.ys[s*g.pooled():][:g.pooled()], p.dys[s*g.pooled():][:g.pooled()])
		poolGradImage(dz2, p.z2s[s*c2.outSize():][:c2.outSize()], dp, c2.oh, c2.ow, c2.cout, false)
		// conv2's filters.
		cl := col[:c2.pix()*c2.k()]
		im2col(cl, a1, c2)
		matmul(true, false, c2.cout, c2.k(), c2.pix(), dz2, c2.cout, cl, c2.k(), 1, dw2, c2.k())
		// conv2's input, then conv1's ReLU.
		clear(dh1)
		addInputGrad(dh1, dz2, p.wc, cl, c2)
		reluGrad(dh1, a1, dh1)
		// conv2's bias, from dz2, which is not needed any more.
		foldRows(db2, dz2, c2.cout)
		// conv1's filters, then its bias.
		cl = col[:c1.pix()*c1.k()]
		im2col(cl, p.xs[s*c1.inSize():][:c1.inSize()], c1)
		matmul(true, false, c1.cout, c1.k(), c1.pix(), dh1, c1.cout, cl, c1.k(), 1, dw1, c1.k())
		foldRows(db1, dh1, c1.cout)
	}
}

// foldRows adds the sum of the rows of m (rows of c values) to s,
// summing them pairwise in place, half the rows onto the other half, so
// that each pass is one long vector sum (a call per row of 64 values cost
// more than the sums): it overwrites m.
func foldRows[T float32 | float64](s, m []T, c int) {
	rows := len(m) / c
	for rows > 1 {
		half := rows / 2
		add(m[:half*c], m[half*c:2*half*c])
		if rows%2 == 1 {
			add(m[:c], m[2*half*c:rows*c])
		}
		rows = half
	}
	if rows == 1 {
		add(s, m[:c])
	}
}

// reluGrad writes into out the gradient g where y > 0, else 0, on the
// calling goroutine (out may be g).
func reluGrad[T float32 | float64](out, y, g []T) {
	if ys, ok := any(y).([]float32); ok {
		vec.ReLUGrad(any(out).([]float32), ys, any(g).([]float32))
		return
	}
	out, g = out[:len(y)], g[:len(y)]
	for i, v := range y {
		if v > 0 {
			out[i] = g[i]
		} else {
			out[i] = 0
		}
	}
}

// filterLayout rearranges m (cout, 9·cin), rows in im2col's column order,
// into filters w (cout, cin, 3, 3): the inverse of filterCols.
func filterLayout[T float32 | float64](w, m []T, g convGeom) {
	for o := range g.cout {
		for c := range g.cin {
			for kk := range 9 {
				w[(o*g.cin+c)*9+kk] = m[o*g.k()+kk*g.cin+c]
			}
		}
	}
}

// WriteHash implements G.Op.
func (featGradOp) WriteHash(h hash.Hash) { fmt.Fprint(h, "gahpo.featuresGrad") }

// Hashcode implements G.Op.
func (op featGradOp) Hashcode() uint32 { return opHash(op) }

// String implements G.Op.
func (featGradOp) String() string { return "FeaturesGrad" }

// featPickOp returns one of the gradients a featGradOp computed (which: 1
// conv1's bias, 2 conv2's filters, 3 conv2's bias); its input is the
// featGradOp's node, so that it runs after it.
type featPickOp struct {
	goOp
	st    *featState
	which int
	shape tensor.Shape
}

// Arity implements G.Op.
func (featPickOp) Arity() int { return 1 }

// Type implements G.Op.
func (featPickOp) Type() hm.Type { return sameType(1) }

// InferShape implements G.Op.
func (op featPickOp) InferShape(...G.DimSizer) (tensor.Shape, error) { return op.shape.Clone(), nil }

// Do implements G.Op.
func (op featPickOp) Do(...G.Value) (G.Value, error) {
	t := op.st.grads[op.which].t
	if t == nil || !t.Shape().Eq(op.shape) {
		return nil, fmt.Errorf("%v: no gradient of shape %v computed", op, op.shape)
	}
	return t, nil
}

// WriteHash implements G.Op.
func (op featPickOp) WriteHash(h hash.Hash) { fmt.Fprintf(h, "gahpo.featuresGrad[%d]", op.which) }

// Hashcode implements G.Op.
func (op featPickOp) Hashcode() uint32 { return opHash(op) }

// String implements G.Op.
func (op featPickOp) String() string {
	return [...]string{"", "FeaturesGradBias1", "FeaturesGradFilters2", "FeaturesGradBias2"}[op.which]
}
