package gemm

// windows is the left operand of a 3×3 convolution's product read from the
// image itself, never written out (an implicit im2col): row i is output
// pixel (oy, ox) = (i / ow, i % ow), step q = ky·3·cin + j (j < 3·cin) is
// x[((oy+ky)·w + ox)·cin + j], the three pixels of the window's row ky
// being adjacent in x.
type windows struct {
	x          []float32 // the image, (h, w, cin) row-major
	w, cin, ow int
}

// run is the number of steps of one row of the window: 3·cin.
func (v *windows) run() int { return 3 * v.cin }

// at returns the offset in x of row i, step q.
func (v *windows) at(i, q int) int {
	oy, ox := i/v.ow, i%v.ow
	ky, j := q/v.run(), q%v.run()
	return ((oy+ky)*v.w+ox)*v.cin + j
}

// inPlace tells whether the mr rows from i can be read in place: they
// are pixels of one output row, so that consecutive rows are cin apart.
func (v *windows) inPlace(i, mr int) bool { return i%v.ow+mr <= v.ow }

// Conv3x3 computes C = A·B + beta·C on the calling goroutine, where A
// (oh·ow × 9·cin) is the im2col matrix of a 3×3 convolution of the image x
// (h ≥ oh+2 rows, w ≥ ow+2 pixels of cin channels, row-major): row
// oy·ow+ox holds the window under output pixel (oy, ox) in (ky, kx,
// channel) order. B is 9·cin × n (row-major, ldb n), C is oh·ow × n. A is
// read from x, never written out: the micro-kernels read its panels in
// place (each panel's rows in one output row) or pack them from x.
//
// It computes nothing and returns false when it cannot do so (gonum's
// kernel, or a row of the window, 3·cin, longer than a k-block): the
// caller then builds the im2col matrix and calls SgemmSerial.
func Conv3x3(x []float32, w, cin, oh, ow int, b []float32, n int, beta float32, c []float32, ldc int) bool {
	fam := active.Load()
	if fam == nil || 3*cin > blockK || oh <= 0 || ow <= 0 || n <= 0 || cin <= 0 {
		return false
	}
	m, k := oh*ow, 9*cin
	if w < ow+2 || len(x) < ((oh+1)*w+ow+2)*cin || len(b) < k*n || ldc < n || len(c) < (m-1)*ldc+n {
		panic("gemm: Conv3x3: operands too short for their sizes")
	}
	// A kernel whose panels fit the output rows reads them all in place.
	ker := fam.pick(m)
	for _, v := range fam.variants {
		if ow%v.mr == 0 && forceVariant < 0 {
			ker = v
			break
		}
	}
	p := &problem{
		m: m, n: n, k: k,
		alpha: 1, b: b, ldb: n,
		beta: beta, c: c, ldc: ldc,
		win: windows{x: x, w: w, cin: cin, ow: ow},
	}
	run(ker, 1, p) // one goroutine: the tiles of a windows C overlap
	return true
}

// Conv3x3Back adds the product A·B onto the windows of the image dx: the
// transpose of Conv3x3's reading, as a convolution's input gradient needs.
// A is oh·ow × k (row-major, lda k: the output pixels' gradients), B is
// k × 9·cin (row-major: the filters, rows in Conv3x3's column order); row
// oy·ow+ox, column (ky, kx, channel) of the product is added to dx at
// pixel (oy+ky, ox+kx), that channel. dx has h ≥ oh+2 rows of w ≥ ow+2
// pixels of cin channels. It runs on the calling goroutine, without the
// product ever written out: each tile of it is added in place, the
// windows overlapping across tiles, which run one after the other.
//
// It computes nothing and returns false when it cannot do so: gonum's
// kernel, or no kernel whose tiles fit the windows (tile rows in one
// output row, tile columns no wider than cin and within one row of the
// window); the caller then computes the product and adds it back itself.
func Conv3x3Back(dx []float32, w, cin, oh, ow int, a []float32, k int, b []float32) bool {
	fam := active.Load()
	if fam == nil || oh <= 0 || ow <= 0 || k <= 0 || cin <= 0 {
		return false
	}
	m, n := oh*ow, 9*cin
	if w < ow+2 || len(dx) < ((oh+1)*w+ow+2)*cin || len(a) < m*k || len(b) < k*n {
		panic("gemm: Conv3x3Back: operands too short for their sizes")
	}
	var ker *microKernel
	for _, v := range fam.variants {
		if (forceVariant < 0 || v == fam.pick(m)) && ow%v.mr == 0 && cin%v.nr == 0 {
			ker = v
			break
		}
	}
	if ker == nil {
		return false
	}
	p := &problem{
		m: m, n: n, k: k,
		alpha: 1, a: a, lda: k, b: b, ldb: n,
		beta: 1, cwin: windows{x: dx, w: w, cin: cin, ow: ow},
	}
	run(ker, 1, p) // one goroutine: the tiles of a windows C overlap
	return true
}

// packWindows packs the micro-panel of rows [ir, ir+mrb), steps
// [pc, pc+kcb) of a windows operand into dst (kcb×mr, rows past mrb 0).
// The k-block lies in one row of the window (block makes k-blocks of 3·cin
// steps), so each row's steps are adjacent in x.
func packWindows(dst []float32, v *windows, mr, ir, mrb, pc, kcb int) {
	dst = dst[:kcb*mr]
	for i := range mrb {
		for q, val := range v.x[v.at(ir+i, pc):][:kcb] {
			dst[q*mr+i] = val
		}
	}
	if mrb < mr {
		for q := range kcb {
			clear(dst[q*mr+mrb : q*mr+mr])
		}
	}
}
