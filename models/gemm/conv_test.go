package gemm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// convRef is Conv3x3's product written out: the im2col matrix from its
// definition, then C = A·B + beta·C in float64.
func convRef(x []float32, w, cin, oh, ow int, b []float32, n int, beta float32, c []float32, ldc int) []float32 {
	k := 9 * cin
	out := append([]float32(nil), c...)
	for oy := range oh {
		for ox := range ow {
			row := make([]float64, k)
			for ky := range 3 {
				for kx := range 3 {
					for ch := range cin {
						row[(ky*3+kx)*cin+ch] = float64(x[((oy+ky)*w+ox+kx)*cin+ch])
					}
				}
			}
			i := oy*ow + ox
			for j := range n {
				var s float64
				for q, a := range row {
					s += a * float64(b[q*n+j])
				}
				out[i*ldc+j] = float32(s + float64(beta)*float64(c[i*ldc+j]))
			}
		}
	}
	return out
}

// TestConv3x3 compares Conv3x3 with the product written out, for every
// kernel and tile height, on the network's two convolutions and on shapes
// whose output rows are not a multiple of any tile height, with images
// wider than the convolution reads and C wider than n, for beta 0 and 1.
func TestConv3x3(t *testing.T) {
	cases := []struct{ oh, ow, w, cin, n, ldc int }{
		{24, 24, 26, 32, 64, 64}, // conv2
		{26, 26, 28, 1, 32, 32},  // conv1
		{5, 7, 9, 5, 13, 13},
		{3, 16, 18, 8, 40, 41},
		{4, 6, 10, 3, 33, 40},
		{1, 1, 3, 2, 1, 1},
	}
	forEachKernel(t, func(t *testing.T) {
		for _, tc := range cases {
			for _, beta := range []float32{0, 1} {
				t.Run(fmt.Sprintf("%dx%d_w%d_cin%d_n%d_beta%v", tc.oh, tc.ow, tc.w, tc.cin, tc.n, beta), func(t *testing.T) {
					r := rand.New(rand.NewPCG(uint64(tc.ow), uint64(tc.cin)))
					x := randomFloats(r, (tc.oh+2)*tc.w*tc.cin)
					b := randomFloats(r, 9*tc.cin*tc.n)
					c := randomFloats(r, tc.oh*tc.ow*tc.ldc)
					want := convRef(x, tc.w, tc.cin, tc.oh, tc.ow, b, tc.n, beta, c, tc.ldc)
					if !Conv3x3(x, tc.w, tc.cin, tc.oh, tc.ow, b, tc.n, beta, c, tc.ldc) {
						if Kernel() == KernelGonum {
							return // the caller's im2col does it
						}
						t.Fatalf("Conv3x3 refused with kernel %s", Kernel())
					}
					for i := range c {
						if i%tc.ldc >= tc.n {
							if c[i] != want[i] {
								t.Fatalf("C[%d], past n, changed", i)
							}
							continue
						}
						if d := math.Abs(float64(c[i] - want[i])); d > 1e-4*(1+math.Abs(float64(want[i]))) {
							t.Fatalf("C[%d] (row %d, column %d) = %v, want %v", i, i/tc.ldc, i%tc.ldc, c[i], want[i])
						}
					}
				})
			}
		}
	})
}

func randomFloats(r *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = float32(2*r.Float64() - 1)
	}
	return s
}

// convBackRef is Conv3x3Back written out: the product in float64, each of
// its values added onto its pixel of the window.
func convBackRef(dx []float32, w, cin, oh, ow int, a []float32, k int, b []float32) []float32 {
	out := append([]float32(nil), dx...)
	n := 9 * cin
	for oy := range oh {
		for ox := range ow {
			i := oy*ow + ox
			for q := range n {
				var s float64
				for p := range k {
					s += float64(a[i*k+p]) * float64(b[p*n+q])
				}
				ky, kx, ch := q/(3*cin), q/cin%3, q%cin
				out[((oy+ky)*w+ox+kx)*cin+ch] += float32(s)
			}
		}
	}
	return out
}

// TestConv3x3Back compares Conv3x3Back with the product added back by
// hand, for every kernel and tile height, on conv2's input gradient and on
// shapes no kernel's tiles fit (it must then refuse, leaving dx).
func TestConv3x3Back(t *testing.T) {
	cases := []struct{ oh, ow, w, cin, k int }{
		{24, 24, 26, 32, 64}, // conv2's input gradient
		{4, 24, 30, 64, 10},
		{6, 48, 50, 32, 7},
		{5, 7, 9, 5, 13},    // no kernel fits: refused
		{24, 24, 26, 8, 64}, // channels narrower than a tile: refused
	}
	forEachKernel(t, func(t *testing.T) {
		for _, tc := range cases {
			t.Run(fmt.Sprintf("%dx%d_w%d_cin%d_k%d", tc.oh, tc.ow, tc.w, tc.cin, tc.k), func(t *testing.T) {
				r := rand.New(rand.NewPCG(uint64(tc.ow), uint64(tc.k)))
				dx := randomFloats(r, (tc.oh+2)*tc.w*tc.cin)
				a := randomFloats(r, tc.oh*tc.ow*tc.k)
				b := randomFloats(r, tc.k*9*tc.cin)
				want := convBackRef(dx, tc.w, tc.cin, tc.oh, tc.ow, a, tc.k, b)
				// Whether a kernel it may use has tiles that fit.
				fit := false
				if fam := active.Load(); fam != nil {
					for i, v := range fam.variants {
						fit = fit || (forceVariant < 0 || forceVariant == i) && tc.ow%v.mr == 0 && tc.cin%v.nr == 0
					}
				}
				before := append([]float32(nil), dx...)
				if !Conv3x3Back(dx, tc.w, tc.cin, tc.oh, tc.ow, a, tc.k, b) {
					for i := range dx {
						if dx[i] != before[i] {
							t.Fatalf("refused, but dx[%d] changed", i)
						}
					}
					if fit {
						t.Fatalf("refused with kernel %s, whose tiles fit", Kernel())
					}
					return
				}
				if !fit {
					t.Fatal("accepted with no kernel whose tiles fit")
				}
				for i := range dx {
					if d := math.Abs(float64(dx[i] - want[i])); d > 1e-4*(1+math.Abs(float64(want[i]))) {
						t.Fatalf("dx[%d] = %v, want %v", i, dx[i], want[i])
					}
				}
			})
		}
	})
}
