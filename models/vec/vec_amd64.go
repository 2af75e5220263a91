//go:build amd64 && !purego

package vec

import "golang.org/x/sys/cpu"

var useAVX2 = cpu.X86.HasAVX2 && cpu.X86.HasFMA

// Accelerated reports whether the assembly loops run on this CPU.
func Accelerated() bool { return useAVX2 }

// adadeltaAVX2 runs Adadelta on the first n values (n a multiple of 8),
// with c = lr, rho, 1-rho, eps, weight decay; it returns the sum of w·0
// over the new weights by lane: NaN in a lane that saw a non-finite one.
//
//go:noescape
func adadeltaAVX2(wp, gp, vp, up *float32, n int, c *[5]float32, bad *[8]float32)

// addAVX2 adds src to dst on the first n values (n a multiple of 8).
//
//go:noescape
func addAVX2(dst, src *float32, n int)

// adadeltaFast runs the assembly loop on the longest prefix of a multiple
// of 8 values and reports how many it did and whether they are finite.
func adadeltaFast(w, g, v, u []float32, p AdadeltaParams) (int, bool) {
	n := len(w) &^ 7
	if !useAVX2 || n == 0 {
		return 0, true
	}
	c := [5]float32{p.LR, p.Rho, 1 - p.Rho, p.Eps, p.WeightDecay}
	var bad [8]float32
	adadeltaAVX2(&w[0], &g[0], &v[0], &u[0], n, &c, &bad)
	for _, b := range bad {
		if b != 0 {
			return n, false
		}
	}
	return n, true
}

// addFast adds the longest prefix of a multiple of 8 values.
func addFast(dst, src []float32) int {
	n := len(dst) &^ 7
	if !useAVX2 || n == 0 {
		return 0
	}
	addAVX2(&dst[0], &src[0], n)
	return n
}

// mulAVX2 writes a·b into dst on the first n values (n a multiple of 8).
//
//go:noescape
func mulAVX2(dst, a, b *float32, n int)

// mulFast multiplies the longest prefix of a multiple of 8 values.
func mulFast(dst, a, b []float32) int {
	n := len(dst) &^ 7
	if !useAVX2 || n == 0 {
		return 0
	}
	mulAVX2(&dst[0], &a[0], &b[0], n)
	return n
}

// poolGradAVX2 is PoolGrad on n values (n a multiple of 8).
//
//go:noescape
func poolGradAVX2(d0, d1, d2, d3, x0, x1, x2, x3, gp *float32, n int, floor float32)

// poolGradFast runs PoolGrad's assembly loop on the longest prefix of a
// multiple of 8 values and returns how many it did.
func poolGradFast(d0, d1, d2, d3, x0, x1, x2, x3, g []float32, floor float32) int {
	n := len(x0) &^ 7
	if !useAVX2 || n == 0 {
		return 0
	}
	poolGradAVX2(&d0[0], &d1[0], &d2[0], &d3[0], &x0[0], &x1[0], &x2[0], &x3[0], &g[0], n, floor)
	return n
}

// reluAVX2 is ReLU on n values (n a multiple of 8); it returns the largest
// exponent field of src.
//
//go:noescape
func reluAVX2(dst, src *float32, n int) (exp uint32)

// reluFast runs ReLU's assembly loop on the longest prefix of a multiple
// of 8 values and returns how many it did and whether they were finite.
func reluFast(dst, src []float32) (int, bool) {
	n := len(src) &^ 7
	if !useAVX2 || n == 0 {
		return 0, true
	}
	return n, reluAVX2(&dst[0], &src[0], n) != 0x7f800000
}

// poolAVX2 is Pool on n values (n a multiple of 8; bias nil for none); it
// returns a lane mask, not 0 when an input was not finite.
//
//go:noescape
func poolAVX2(dst, x0, x1, x2, x3, bias *float32, n int, floor float32) (bad uint32)

// poolFast runs Pool's assembly loop on the longest prefix of a multiple
// of 8 values and returns how many it did and whether they were finite.
func poolFast(dst, x0, x1, x2, x3, bias []float32, floor float32) (int, bool) {
	n := len(x0) &^ 7
	if !useAVX2 || n == 0 {
		return 0, true
	}
	var b *float32
	if bias != nil {
		b = &bias[0]
	}
	return n, poolAVX2(&dst[0], &x0[0], &x1[0], &x2[0], &x3[0], b, n, floor) == 0
}

// reluGradAVX2 is ReLUGrad on n values (n a multiple of 8).
//
//go:noescape
func reluGradAVX2(out, y, gp *float32, n int)

// reluGradFast runs ReLUGrad's assembly loop on the longest prefix of a
// multiple of 8 values and returns how many it did.
func reluGradFast(out, y, g []float32) int {
	n := len(y) &^ 7
	if !useAVX2 || n == 0 {
		return 0
	}
	reluGradAVX2(&out[0], &y[0], &g[0], n)
	return n
}

// transposeAVX2 is Transpose for rows and cols multiples of 8.
//
//go:noescape
func transposeAVX2(dst, src *float32, rows, cols int)

// transposeFast runs the assembly loop when the shape allows and reports
// whether it did.
func transposeFast(dst, src []float32, rows, cols int) bool {
	if !useAVX2 || rows%8 != 0 || cols%8 != 0 || rows*cols == 0 {
		return false
	}
	transposeAVX2(&dst[0], &src[0], rows, cols)
	return true
}
