// Package vec holds the float32 vector loops of the CNN's training step
// that Go does not vectorise: the Adadelta update, a vector sum, an
// element-wise product, the max-pool, the ReLU and their gradients. On
// amd64 CPUs with AVX2 and FMA they run as Go assembly on 8 floats at a
// time; elsewhere (and with the purego build tag) as plain Go, with the
// same results up to the rounding of fused multiply-adds.
package vec

import "math"

// AdadeltaParams are the constants of one Adadelta step.
type AdadeltaParams struct {
	LR, Rho, Eps, WeightDecay float32
}

// Adadelta updates the weights w from their gradients g and the running
// averages v (of g²) and u (of the squared updates), as PyTorch does:
//
//	g += WeightDecay·w
//	v  = Rho·v + (1-Rho)·g²
//	d  = √((u+Eps) / (v+Eps)) · g
//	u  = Rho·u + (1-Rho)·d²
//	w -= LR·d
//
// (PyTorch divides √(u+Eps) by √(v+Eps): the same value, one square root
// more), then zeroes g. It reports whether every new weight is finite. The
// four slices must have the same length.
func Adadelta(w, g, v, u []float32, p AdadeltaParams) (finite bool) {
	if len(g) != len(w) || len(v) != len(w) || len(u) != len(w) {
		panic("vec: Adadelta on slices of different lengths")
	}
	done, finite := adadeltaFast(w, g, v, u, p)
	return adadeltaGo(w[done:], g[done:], v[done:], u[done:], p) && finite
}

// adadeltaGo is Adadelta in plain Go.
func adadeltaGo(w, g, v, u []float32, p AdadeltaParams) bool {
	return AdadeltaGo(w, g, v, u, p.LR, p.Rho, p.Eps, p.WeightDecay)
}

// AdadeltaGo is Adadelta's update in plain Go, in the precision of the
// weights: the loop behind Adadelta where there is no assembly, and the
// float64 update of gradient checks.
func AdadeltaGo[T float32 | float64](w, g, v, u []T, lr, rho, eps, weightDecay T) (finite bool) {
	g, v, u = g[:len(w)], v[:len(w)], u[:len(w)]
	omr := 1 - rho
	finite = true
	for j, gj := range g {
		gj += weightDecay * w[j]
		v[j] = rho*v[j] + omr*gj*gj
		d := sqrt((u[j]+eps)/(v[j]+eps)) * gj
		u[j] = rho*u[j] + omr*d*d
		w[j] -= lr * d
		if w[j]-w[j] != 0 { // NaN or ±Inf
			finite = false
		}
		g[j] = 0
	}
	return finite
}

// Add adds src to dst, element by element; src must be at least as long
// as dst.
func Add(dst, src []float32) {
	src = src[:len(dst)]
	done := addFast(dst, src)
	for i, v := range src[done:] {
		dst[done+i] += v
	}
}

// Mul writes a[i]·b[i] into dst[i]; a and b must be at least as long as
// dst.
func Mul(dst, a, b []float32) {
	a, b = a[:len(dst)], b[:len(dst)]
	done := mulFast(dst, a, b)
	for i := done; i < len(dst); i++ {
		dst[i] = a[i] * b[i]
	}
}

// Pool is a 2×2 max-pool window, lane by lane, over len(x0) lanes
// (channels): dst = max(max(x0, x1, x2, x3) + bias, floor), floor 0 for a
// max-pool of ReLU'd values (the ReLU commutes with the maximum), -Inf for
// a plain one; bias, a per-lane constant (a convolution's bias, which
// commutes with the maximum too), may be nil. It reports whether every
// input was finite; a NaN input makes dst unspecified. All slices but a
// nil bias must be at least as long as x0.
func Pool(dst, x0, x1, x2, x3, bias []float32, floor float32) (finite bool) {
	n := len(x0)
	dst, x1, x2, x3 = dst[:n], x1[:n], x2[:n], x3[:n]
	if bias != nil {
		bias = bias[:n]
	}
	done, finite := poolFast(dst, x0, x1, x2, x3, bias, floor)
	for i := done; i < n; i++ {
		v0, v1, v2, v3 := x0[i], x1[i], x2[i], x3[i]
		if (v0-v0)+(v1-v1)+(v2-v2)+(v3-v3) != 0 { // NaN: an input is NaN or ±Inf
			finite = false
		}
		m := max(v0, v1, v2, v3)
		if bias != nil {
			m += bias[i]
		}
		dst[i] = max(m, floor)
	}
	return finite
}

// PoolGrad is the gradient of a 2×2 max-pool window, lane by lane, over
// len(x0) lanes (channels): x0..x3 are the window's four inputs in row
// order, g the gradient of its maximum m. It writes g into d0..d3 at the
// first input equal to m and 0 at the others; where m is not above floor
// (0 for a max-pool of ReLU'd values, -Inf for a plain one) every
// gradient is 0. All slices must be at least as long as x0.
func PoolGrad(d0, d1, d2, d3, x0, x1, x2, x3, g []float32, floor float32) {
	n := len(x0)
	d0, d1, d2, d3 = d0[:n], d1[:n], d2[:n], d3[:n]
	x1, x2, x3, g = x1[:n], x2[:n], x3[:n], g[:n]
	for i := poolGradFast(d0, d1, d2, d3, x0, x1, x2, x3, g, floor); i < n; i++ {
		v0, v1, v2, v3 := x0[i], x1[i], x2[i], x3[i]
		m := max(v0, v1, v2, v3)
		gi := g[i]
		if !(m > floor) {
			gi = 0
		}
		d0[i], d1[i], d2[i], d3[i] = 0, 0, 0, 0
		switch m {
		case v0:
			d0[i] = gi
		case v1:
			d1[i] = gi
		case v2:
			d2[i] = gi
		default:
			d3[i] = gi
		}
	}
}

// ReLU writes max(src[i], 0) into dst[i] (+0 for -0) and reports whether
// every value of src is finite (not a NaN nor an infinity); what it writes
// for a NaN is unspecified. dst must be at least as long as src and may
// be src.
func ReLU(dst, src []float32) (finite bool) {
	dst = dst[:len(src)]
	done, finite := reluFast(dst, src)
	for i, v := range src[done:] {
		if v-v != 0 {
			finite = false
		}
		dst[done+i] = max(v, 0)
	}
	return finite
}

// ReLUGrad writes into out[i] the gradient g[i] where y[i] > 0 and 0
// elsewhere: the gradient of a ReLU given its output y. A NaN in y passes
// g when its sign bit is clear, as an integer comparison of the bits
// decides. out and g must be at least as long as y; out may be g.
func ReLUGrad(out, y, g []float32) {
	out, g = out[:len(y)], g[:len(y)]
	done := reluGradFast(out, y, g)
	for i, v := range y[done:] {
		if int32(math.Float32bits(v)) > 0 {
			out[done+i] = g[done+i]
		} else {
			out[done+i] = 0
		}
	}
}

// Transpose writes the rows×cols matrix src (row-major) into dst as its
// cols×rows transpose; dst and src must hold rows·cols values and not
// overlap. With AVX2 and both sizes multiples of 8 it goes by 8×8 blocks
// in registers.
func Transpose(dst, src []float32, rows, cols int) {
	dst, src = dst[:rows*cols], src[:rows*cols]
	if transposeFast(dst, src, rows, cols) {
		return
	}
	for r := range rows {
		for c, v := range src[r*cols:][:cols] {
			dst[c*rows+r] = v
		}
	}
}
