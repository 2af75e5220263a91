package cnn

import (
	"fmt"
	"hash"
	"slices"
	"sync/atomic"

	"github.com/chewxy/hm"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

	"github.com/gahpo/gahpo/models/gemm"
	"github.com/gahpo/gahpo/models/vec"
)

// The convolutions of the network are custom gorgonia ops, written for
// speed where gorgonia's Conv2d is slow: Conv2d lays its output out
// through an extra transpose, adds the bias as a separate broadcast, runs
// im2col and col2im on one core, and computes a gradient for the input
// image that nothing uses. These ops keep activations in NHWC order
// (image, row, column, channel), in which im2col is three contiguous
// copies per output pixel and the product im2col × filters writes the
// output in place; they fuse the bias and the ReLU; and they share the
// images of a batch among all cores, one matrix product per image on each.
//
// The filters keep PyTorch's layout (out, in, 3, 3), so that weights move
// between both frameworks unchanged, and are rearranged on the fly into
// the (ky, kx, in) order of the im2col rows: 18,432 values for conv2.

// convGeom is the geometry of a 3×3 convolution, stride 1, no padding, on
// a batch of b images of h×w pixels with cin channels, giving cout
// channels of oh×ow pixels.
type convGeom struct {
	b, h, w, cin, cout int
	oh, ow             int
}

// k is the length of an im2col row: 3·3·cin.
func (g convGeom) k() int { return 9 * g.cin }

// pix is the number of output pixels of one image.
func (g convGeom) pix() int { return g.oh * g.ow }

// inSize is the number of input values of one image.
func (g convGeom) inSize() int { return g.h * g.w * g.cin }

// outSize is the number of output values of one image.
func (g convGeom) outSize() int { return g.oh * g.ow * g.cout }

// geometry derives the geometry from the shapes of the input (b, h, w, cin)
// and of the filters (cout, cin, 3, 3).
//
// Its errors print copies of the shapes: printing x itself would move
// every caller's shape literal to the heap.
func geometry(x, w tensor.Shape) (convGeom, error) {
	if len(x) != 4 || len(w) != 4 {
		return convGeom{}, fmt.Errorf("cnn: input %v and filters %v must both be 4-d", slices.Clone(x), slices.Clone(w))
	}
	if w[1] != x[3] || w[2] != 3 || w[3] != 3 {
		return convGeom{}, fmt.Errorf("cnn: filters %v do not fit an NHWC input %v (want (out, %d, 3, 3))", slices.Clone(w), slices.Clone(x), x[3])
	}
	if x[1] < 3 || x[2] < 3 {
		return convGeom{}, fmt.Errorf("cnn: input %v is smaller than a 3×3 filter", slices.Clone(x))
	}
	return convGeom{b: x[0], h: x[1], w: x[2], cin: x[3], cout: w[0], oh: x[1] - 2, ow: x[2] - 2}, nil
}

// im2col writes, for each output pixel of the image x (h, w, cin), the 3×3
// window under it as one row of col (pix, 9·cin), in (ky, kx, channel)
// order: for each ky the three pixels of the window are adjacent in x.
func im2col[T float32 | float64](col, x []T, g convGeom) {
	k, run := g.k(), 3*g.cin
	if g.cin == 1 { // conv1: nine values per row, too few for copy's call
		for oy := range g.oh {
			for ox := range g.ow {
				row := col[(oy*g.ow+ox)*9:][:9]
				for ky := range 3 {
					src := x[(oy+ky)*g.w+ox:][:3]
					row[3*ky], row[3*ky+1], row[3*ky+2] = src[0], src[1], src[2]
				}
			}
		}
		return
	}
	for oy := range g.oh {
		for ox := range g.ow {
			row := col[(oy*g.ow+ox)*k:][:k]
			for ky := range 3 {
				copy(row[ky*run:(ky+1)*run], x[((oy+ky)*g.w+ox)*g.cin:])
			}
		}
	}
}

// col2im adds each row of dcol (pix, 9·cin) back onto the window of the
// image dx (h, w, cin) it came from: the transpose of im2col.
func col2im[T float32 | float64](dx, dcol []T, g convGeom) {
	k, run := g.k(), 3*g.cin
	for oy := range g.oh {
		for ox := range g.ow {
			row := dcol[(oy*g.ow+ox)*k:][:k]
			for ky := range 3 {
				add(dx[((oy+ky)*g.w+ox)*g.cin:][:run], row[ky*run:(ky+1)*run])
			}
		}
	}
}

// add adds src to dst, with vec.Add for float32.
func add[T float32 | float64](dst, src []T) {
	if d, ok := any(dst).([]float32); ok {
		vec.Add(d, any(src).([]float32))
		return
	}
	src = src[:len(dst)]
	for i, v := range src {
		dst[i] += v
	}
}

// filterRows rearranges filters w (cout, cin, 3, 3) into m (9·cin, cout),
// the right operand of im2col × filters.
func filterRows[T float32 | float64](m, w []T, g convGeom) {
	for o := range g.cout {
		for c := range g.cin {
			for kk := range 9 {
				m[(kk*g.cin+c)*g.cout+o] = w[(o*g.cin+c)*9+kk]
			}
		}
	}
}

// filterCols rearranges filters w (cout, cin, 3, 3) into m (cout, 9·cin),
// rows in im2col's column order.
func filterCols[T float32 | float64](m, w []T, g convGeom) {
	for o := range g.cout {
		for c := range g.cin {
			for kk := range 9 {
				m[o*g.k()+kk*g.cin+c] = w[(o*g.cin+c)*9+kk]
			}
		}
	}
}

// convOp is a 3×3 convolution (stride 1, no padding) with its bias, and
// with relu a ReLU, from an NHWC input (b, h, w, cin), filters (cout, cin,
// 3, 3) and a bias of cout values, to an NHWC output (b, h-2, w-2, cout).
// With relu, it fails with errNaNActivation, and raises nan, on a NaN or
// infinite output.
//
// inputGrad tells whether its input needs a gradient: not for the first
// layer, whose input is the image. Without relu, a following maxPoolOp
// can apply the ReLU where it is cheaper (on a quarter of the values).
type convOp struct {
	goOp
	relu      bool
	inputGrad bool
	nan       *atomic.Bool
	out       *outBuffer
}

var (
	_ G.Op   = convOp{}
	_ G.SDOp = convOp{}
	_ G.Op   = convGradOp{}
)

// Arity implements G.Op.
func (convOp) Arity() int { return 3 }

// Type implements G.Op.
func (convOp) Type() hm.Type { return sameType(3) }

// InferShape implements G.Op.
func (convOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	x, w, err := twoShapes(in)
	if err != nil {
		return nil, fmt.Errorf("cnn: conv: %w", err)
	}
	g, err := geometry(x, w)
	if err != nil {
		return nil, fmt.Errorf("cnn: conv: %w", err)
	}
	return tensor.Shape{g.b, g.oh, g.ow, g.cout}, nil
}

// Do implements G.Op.
func (op convOp) Do(in ...G.Value) (G.Value, error) {
	var buf [maxArgs]*tensor.Dense
	args, err := denseArgs(&buf, in, 3)
	if err != nil {
		return nil, fmt.Errorf("cnn: conv: %w", err)
	}
	x, w, b := args[0], args[1], args[2]
	g, err := geometry(x.Shape(), w.Shape())
	if err != nil {
		return nil, fmt.Errorf("cnn: conv: %w", err)
	}
	if b.Size() != g.cout || x.Dtype() != w.Dtype() || x.Dtype() != b.Dtype() {
		return nil, fmt.Errorf("cnn: conv: bias %v %v for %d filters of %v", b.Shape(), b.Dtype(), g.cout, x.Dtype())
	}
	out := op.out.get(x.Dtype(), tensor.Shape{g.b, g.oh, g.ow, g.cout})
	var bad bool
	switch x.Dtype() {
	case tensor.Float32:
		xs := values[float32](x)
		bad = convForward(values[float32](out), xs, values[float32](w), values[float32](b), g, op.relu)
	case tensor.Float64:
		xs := values[float64](x)
		bad = convForward(values[float64](out), xs, values[float64](w), values[float64](b), g, op.relu)
	default:
		return nil, fmt.Errorf("cnn: conv: unsupported dtype %v", x.Dtype())
	}
	if bad {
		if op.nan != nil {
			op.nan.Store(true)
		}
		return nil, errNaNActivation
	}
	return out, nil
}

// convForward computes out = im2col(x) × filters + bias, then the ReLU if
// relu, image by image on all cores. With relu, it tells whether an output
// was NaN or infinite; without, it does not look (a non-finite value
// reaches the next ReLU, or the loss).
func convForward[T float32 | float64](out, x, w, bias []T, g convGeom, relu bool) bool {
	wm := borrow[T](g.k() * g.cout)
	defer giveBack(wm)
	filterRows(wm, w, g)
	var bad atomic.Bool
	forParts(g.b, func(_, lo, hi int) {
		col := borrow[T](g.pix() * g.k())
		defer giveBack(col)
		for s := lo; s < hi; s++ {
			if !convImage(out[s*g.outSize():][:g.outSize()], col, x[s*g.inSize():][:g.inSize()], wm, bias, g, relu) {
				bad.Store(true)
			}
		}
	})
	return bad.Load()
}

// convImage computes the convolution of one image x into o: the bias (nil
// for none: a max-pool that follows adds it), then the product of x's
// windows with the filters wm (from filterRows), read from x by convDirect
// or else written out by im2col into col (at least pix·k values), then the
// ReLU if relu. With relu it reports whether every output is finite;
// without, it returns true.
func convImage[T float32 | float64](o, col, x, wm, bias []T, g convGeom, relu bool) (finite bool) {
	// The bias is the product's starting value: no pass of its own.
	var beta T
	if bias != nil {
		fillRows(o, bias)
		beta = 1
	}
	if !convDirect(o, x, wm, g, beta) {
		col = col[:g.pix()*g.k()]
		im2col(col, x, g)
		matmul(false, false, g.pix(), g.cout, g.k(), col, g.k(), wm, g.cout, beta, o, g.cout)
	}
	return !relu || reluSlice(o, o)
}

// convDirect writes the convolution of x by wm onto beta·o with
// gemm.Conv3x3, which reads the windows from x itself, and reports whether
// it did: only in float32, with a gemm kernel, and with 8 channels or more
// (conv1's single channel would make k-blocks of 3 steps, each a pass over
// C, where its im2col writes 9 values a row and one product does).
func convDirect[T float32 | float64](o, x, wm []T, g convGeom, beta T) bool {
	o32, ok := any(o).([]float32)
	if !ok || g.cin < 8 {
		return false
	}
	return gemm.Conv3x3(any(x).([]float32), g.w, g.cin, g.oh, g.ow, any(wm).([]float32), g.cout, float32(beta), o32, g.cout)
}

// fillRows writes row over and over into o (a whole number of rows),
// doubling what it has written at each copy: a few long copies, where one
// per row (a pixel's 32 or 64 channels) cost a call each.
func fillRows[T float32 | float64](o, row []T) {
	n := copy(o, row)
	for n > 0 && n < len(o) {
		n += copy(o[n:], o[:n])
	}
}

// positive is all ones when the float32 with these bits is greater than
// zero (or a NaN of sign 0), else zero; it compiles without branches.
func positive(bits uint32) uint32 {
	s := int32(bits)
	return uint32(((-s) & ^s) >> 31)
}

// WriteHash implements G.Op.
func (op convOp) WriteHash(h hash.Hash) {
	fmt.Fprintf(h, "gahpo.conv3x3(relu %v, input gradient %v)", op.relu, op.inputGrad)
}

// Hashcode implements G.Op.
func (op convOp) Hashcode() uint32 { return opHash(op) }

// String implements G.Op.
func (op convOp) String() string {
	if op.relu {
		return "Conv3x3ReLU"
	}
	return "Conv3x3"
}

// DiffWRT implements G.SDOp: the filters and the bias, and the input when
// inputGrad is set.
func (op convOp) DiffWRT(int) []bool { return []bool{op.inputGrad, true, true} }

// SymDiff implements G.SDOp. With a ReLU, the gradient dz before it (dy
// where the output is positive) is computed once, by the ReLU's own
// gradient op, for the three gradients that need it.
func (op convOp) SymDiff(inputs G.Nodes, output, grad *G.Node) (G.Nodes, error) {
	if len(inputs) != 3 {
		return nil, fmt.Errorf("cnn: conv: differentiate: %d inputs, want 3", len(inputs))
	}
	x, w := inputs[0], inputs[1]
	dz := grad
	var err error
	if op.relu {
		if dz, err = G.ApplyOp(reluDiffOp{out: newBuffer()}, output, grad); err != nil {
			return nil, fmt.Errorf("cnn: conv: differentiate the ReLU: %w", err)
		}
	}
	grads := make(G.Nodes, 3)
	if op.inputGrad {
		if grads[0], err = G.ApplyOp(convGradOp{wrt: gradInput, out: newBuffer()}, w, dz); err != nil {
			return nil, fmt.Errorf("cnn: conv: differentiate: %w", err)
		}
	}
	if grads[1], err = G.ApplyOp(convGradOp{wrt: gradFilters}, x, dz); err != nil {
		return nil, fmt.Errorf("cnn: conv: differentiate: %w", err)
	}
	if grads[2], err = G.ApplyOp(convGradOp{wrt: gradBias}, dz); err != nil {
		return nil, fmt.Errorf("cnn: conv: differentiate: %w", err)
	}
	return grads, nil
}

// What a convGradOp differentiates with respect to.
const (
	gradInput   = iota // (w, dz) → dx, the shape of the input
	gradFilters        // (x, dz) → dw, the shape of the filters
	gradBias           // (dz) → db, (1, cout, 1, 1)
)

// convGradOp computes one gradient of a convOp from the gradient dz of
// its output before any ReLU.
type convGradOp struct {
	goOp
	wrt int
	out *outBuffer // for gradInput only: the others feed dual values
}

// Arity implements G.Op.
func (op convGradOp) Arity() int { return [...]int{2, 2, 1}[op.wrt] }

// Type implements G.Op.
func (op convGradOp) Type() hm.Type { return sameType(op.Arity()) }

// InferShape implements G.Op.
func (op convGradOp) InferShape(in ...G.DimSizer) (tensor.Shape, error) {
	shapes := make([]tensor.Shape, len(in))
	for i, d := range in {
		s, ok := d.(tensor.Shape)
		if !ok {
			return nil, fmt.Errorf("cnn: %v: input shape %v is not a tensor.Shape", op, d)
		}
		shapes[i] = s
	}
	if len(shapes) != op.Arity() {
		return nil, fmt.Errorf("cnn: %v: %d inputs, want %d", op, len(shapes), op.Arity())
	}
	dz := shapes[len(shapes)-1]
	if len(dz) != 4 {
		return nil, fmt.Errorf("cnn: %v: output gradient %v is not 4-d", op, dz)
	}
	switch op.wrt {
	case gradInput:
		w := shapes[0]
		if len(w) != 4 {
			return nil, fmt.Errorf("cnn: %v: filters %v are not 4-d", op, w)
		}
		return tensor.Shape{dz[0], dz[1] + 2, dz[2] + 2, w[1]}, nil
	case gradFilters:
		x := shapes[0]
		if len(x) != 4 {
			return nil, fmt.Errorf("cnn: %v: input %v is not 4-d", op, x)
		}
		return tensor.Shape{dz[3], x[3], 3, 3}, nil
	default:
		return tensor.Shape{1, dz[3], 1, 1}, nil
	}
}

// Do implements G.Op.
func (op convGradOp) Do(in ...G.Value) (G.Value, error) {
	var buf [maxArgs]*tensor.Dense
	args, err := denseArgs(&buf, in, op.Arity())
	if err != nil {
		return nil, fmt.Errorf("cnn: %v: %w", op, err)
	}
	dz := args[len(args)-1]
	zs := dz.Shape()
	if len(zs) != 4 {
		return nil, fmt.Errorf("cnn: %v: output gradient %v is not 4-d", op, zs)
	}
	var g convGeom
	switch op.wrt {
	case gradInput:
		w := args[0].Shape()
		if len(w) != 4 {
			return nil, fmt.Errorf("cnn: %v: filters %v are not 4-d", op, w)
		}
		g, err = geometry(tensor.Shape{zs[0], zs[1] + 2, zs[2] + 2, w[1]}, w)
	case gradFilters:
		x := args[0].Shape()
		if len(x) != 4 {
			return nil, fmt.Errorf("cnn: %v: input %v is not 4-d", op, x)
		}
		g, err = geometry(x, tensor.Shape{zs[3], x[3], 3, 3})
	default:
		g = convGeom{b: zs[0], h: zs[1] + 2, w: zs[2] + 2, cout: zs[3], oh: zs[1], ow: zs[2]}
	}
	if err != nil {
		return nil, fmt.Errorf("cnn: %v: %w", op, err)
	}
	if zs[0] != g.b || zs[1] != g.oh || zs[2] != g.ow || zs[3] != g.cout {
		return nil, fmt.Errorf("cnn: %v: output gradient %v does not match the convolution %+v", op, zs, g)
	}
	for _, a := range args {
		if a.Dtype() != dz.Dtype() {
			return nil, fmt.Errorf("cnn: %v: mixed dtypes %v and %v", op, a.Dtype(), dz.Dtype())
		}
	}
	shape := [...]tensor.Shape{
		gradInput:   {g.b, g.h, g.w, g.cin},
		gradFilters: {g.cout, g.cin, 3, 3},
		gradBias:    {1, g.cout, 1, 1},
	}[op.wrt]
	out := op.out.get(dz.Dtype(), shape)
	switch out.Dtype() {
	case tensor.Float32:
		convGrad[float32](op.wrt, out, args, g)
	case tensor.Float64:
		convGrad[float64](op.wrt, out, args, g)
	default:
		return nil, fmt.Errorf("cnn: %v: unsupported dtype %v", op, dz.Dtype())
	}
	return out, nil
}

func convGrad[T float32 | float64](wrt int, out *tensor.Dense, args []*tensor.Dense, g convGeom) {
	data := func(i int) []T { return values[T](args[i]) }
	o := values[T](out)
	switch wrt {
	case gradInput:
		convGradInput(o, data(0), data(1), g)
	case gradFilters:
		convGradFilters(o, data(0), data(1), g)
	default:
		convGradBias(o, data(0), g)
	}
}

// convGradInput computes dx = col2im(dz × filters), image by image on all
// cores.
func convGradInput[T float32 | float64](dx, w, dz []T, g convGeom) {
	wm := borrow[T](g.cout * g.k())
	defer giveBack(wm)
	filterCols(wm, w, g)
	forParts(g.b, func(_, lo, hi int) {
		dcol := borrow[T](g.pix() * g.k())
		defer giveBack(dcol)
		for s := lo; s < hi; s++ {
			d := dx[s*g.inSize():][:g.inSize()]
			clear(d) // a kept buffer holds the last batch's
			addInputGrad(d, dz[s*g.outSize():][:g.outSize()], wm, dcol, g)
		}
	})
}

// addInputGrad adds the input gradient of one image, dz × filters wm (from
// filterCols) put back on the windows, onto dx: with gemm.Conv3x3Back,
// which adds each tile of the product onto the windows in place, or else
// through dcol (at least pix·k values) and col2im.
func addInputGrad[T float32 | float64](dx, dz, wm, dcol []T, g convGeom) {
	if dx32, ok := any(dx).([]float32); ok && gemm.Conv3x3Back(dx32, g.w, g.cin, g.oh, g.ow, any(dz).([]float32), g.cout, any(wm).([]float32)) {
		return
	}
	dcol = dcol[:g.pix()*g.k()]
	matmul(false, false, g.pix(), g.k(), g.cout, dz, g.cout, wm, g.k(), 0, dcol, g.k())
	col2im(dx, dcol, g)
}

// convGradFilters computes dw = Σ over images of dzᵀ × im2col(x), in the
// filters' own layout; each core sums its images, then the partial sums
// are added.
func convGradFilters[T float32 | float64](dw, x, dz []T, g convGeom) {
	n := parts(g.b)
	acc := borrow[T](n * g.cout * g.k())
	defer giveBack(acc)
	clear(acc)
	forChunks(g.b, n, func(part, lo, hi int) { // n parts, as acc holds, whatever GOMAXPROCS is now
		col := borrow[T](g.pix() * g.k())
		defer giveBack(col)
		a := acc[part*g.cout*g.k():][:g.cout*g.k()]
		for s := lo; s < hi; s++ {
			im2col(col, x[s*g.inSize():][:g.inSize()], g)
			matmul(true, false, g.cout, g.k(), g.pix(), dz[s*g.outSize():], g.cout, col, g.k(), 1, a, g.k())
		}
	})
	sum := acc[:g.cout*g.k()]
	for p := 1; p < n; p++ {
		add(sum, acc[p*len(sum):][:len(sum)])
	}
	for o := range g.cout {
		for c := range g.cin {
			for kk := range 9 {
				dw[(o*g.cin+c)*9+kk] = sum[o*g.k()+kk*g.cin+c]
			}
		}
	}
}

// convGradBias computes db = Σ over images and pixels of dz.
func convGradBias[T float32 | float64](db, dz []T, g convGeom) {
	n := parts(g.b)
	acc := borrow[T](n * g.cout)
	defer giveBack(acc)
	clear(acc)
	forChunks(g.b, n, func(part, lo, hi int) {
		a := acc[part*g.cout:][:g.cout]
		ds := dz[lo*g.outSize() : hi*g.outSize()]
		for p := 0; p < len(ds); p += g.cout {
			add(a, ds[p:p+g.cout])
		}
	})
	copy(db, acc[:g.cout])
	for p := 1; p < n; p++ {
		add(db, acc[p*g.cout:][:g.cout])
	}
}

// WriteHash implements G.Op.
func (op convGradOp) WriteHash(h hash.Hash) { fmt.Fprintf(h, "gahpo.convGrad(%d)", op.wrt) }

// Hashcode implements G.Op.
func (op convGradOp) Hashcode() uint32 { return opHash(op) }

// String implements G.Op.
func (op convGradOp) String() string {
	return [...]string{"Conv3x3GradInput", "Conv3x3GradFilters", "Conv3x3GradBias"}[op.wrt]
}

// twoShapes returns the first two input shapes of an op.
func twoShapes(in []G.DimSizer) (tensor.Shape, tensor.Shape, error) {
	if len(in) < 2 {
		return nil, nil, fmt.Errorf("cnn: %d input shapes, want at least 2", len(in))
	}
	a, ok1 := in[0].(tensor.Shape)
	b, ok2 := in[1].(tensor.Shape)
	if !ok1 || !ok2 {
		return nil, nil, fmt.Errorf("cnn: input shapes %v, %v are not tensor.Shapes", in[0], in[1])
	}
	return a, b, nil
}

// denseArgs returns the n arguments of an op as dense tensors in order,
// in buf: an op keeps buf on its stack, so that its call allocates nothing.
func denseArgs(buf *[maxArgs]*tensor.Dense, in []G.Value, n int) ([]*tensor.Dense, error) {
	if len(in) != n || n > maxArgs {
		return nil, fmt.Errorf("cnn: got %d arguments, want %d", len(in), n)
	}
	for i := range n {
		d, err := denseArg(in, i)
		if err != nil {
			return nil, err
		}
		buf[i] = d
	}
	return buf[:n], nil
}

// maxArgs is the most arguments an op of this package takes (the
// features' five).
const maxArgs = 5
