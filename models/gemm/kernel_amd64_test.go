//go:build amd64 && !purego

package gemm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"unsafe"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
)

// TestPackTranspose compares the transposing packers with a plain loop:
// dst[q·ldd+i] = src[i·ld+q], nothing written elsewhere.
func TestPackTranspose(t *testing.T) {
	if ks := availableKernels(); len(ks) == 0 || ks[0] != avx512 {
		t.Skip("no AVX-512")
	}
	packers := []struct {
		name      string
		rows, ldd int
		f         func(dst, src *float32, ld, kc, ldd int)
	}{
		{"packT14", 14, 14, packT14},
		{"packT8", 8, 8, packT8},
		{"packT16 in B panel", 16, 32, packT16},
	}
	rng := rand.New(rand.NewPCG(5, 6))
	for _, pk := range packers {
		for _, tc := range []struct{ ld, pc, kc int }{{1, 0, 1}, {9216, 0, 320}, {1024, 256, 256}, {300, 7, 13}, {40, 3, 37}} {
			t.Run(fmt.Sprintf("%s/ld%d_pc%d_kc%d", pk.name, tc.ld, tc.pc, tc.kc), func(t *testing.T) {
				src := make([]float32, (pk.rows-1)*tc.ld+tc.pc+tc.kc)
				for i := range src {
					src[i] = rng.Float32()
				}
				got := make([]float32, tc.kc*pk.ldd+1)
				for i := range got {
					got[i] = -1
				}
				pk.f(&got[0], &src[tc.pc], tc.ld, tc.kc, pk.ldd)
				for q := range tc.kc {
					for i := range pk.ldd {
						want := float32(-1)
						if i < pk.rows {
							want = src[i*tc.ld+tc.pc+q]
						}
						if g := got[q*pk.ldd+i]; g != want {
							t.Fatalf("dst[%d·%d+%d] = %g, want %g", q, pk.ldd, i, g, want)
						}
					}
				}
				if got[len(got)-1] != -1 {
					t.Error("wrote past the panel")
				}
			})
		}
	}
}

// TestSgemmStream checks the non-temporal stores of a C written once, on
// products small enough for a test: 64-byte aligned C (streamed) and
// misaligned (not), with full and partial tiles.
func TestSgemmStream(t *testing.T) {
	if ks := availableKernels(); len(ks) == 0 || ks[0] != avx512 {
		t.Skip("no AVX-512")
	}
	saved := streamBytes
	defer func() { streamBytes = saved }()
	streamBytes = 0
	rng := rand.New(rand.NewPCG(8, 9))
	for _, tc := range []struct{ m, n, k, ldc, offset int }{
		{300, 64, 40, 64, 0}, {300, 64, 40, 64, 3}, {37, 96, 200, 112, 0}, {29, 40, 17, 48, 0}, {64, 288, 64, 288, 0},
	} {
		t.Run(fmt.Sprintf("%dx%dx%d_ldc%d_off%d", tc.m, tc.n, tc.k, tc.ldc, tc.offset), func(t *testing.T) {
			a := make([]float32, tc.m*tc.k)
			b := make([]float32, tc.k*tc.n)
			for _, x := range [][]float32{a, b} {
				for i := range x {
					x[i] = 2*rng.Float32() - 1
				}
			}
			buf := make([]float32, tc.m*tc.ldc+32)
			start := 0
			for uintptr(unsafe.Pointer(&buf[start]))%64 != 0 {
				start++
			}
			c := buf[start+tc.offset : start+tc.offset+tc.m*tc.ldc]
			for i := range c {
				c[i] = float32(math.NaN()) // beta 0: never read
			}
			ker := avx512.pick(tc.m)
			p := problem{m: tc.m, n: tc.n, k: tc.k, c: c, ldc: tc.ldc, large: true}
			if got, wantStream := p.streams(ker, blocks(tc.k, blockK, 8)), tc.offset == 0; got != wantStream {
				t.Errorf("streams = %v, want %v", got, wantStream)
			}
			want := make([]float32, len(c))
			gonum.Implementation{}.Sgemm(blas.NoTrans, blas.NoTrans, tc.m, tc.n, tc.k, 1, a, tc.k, b, tc.n, 0, want, tc.ldc)
			Sgemm(blas.NoTrans, blas.NoTrans, tc.m, tc.n, tc.k, 1, a, tc.k, b, tc.n, 0, c, tc.ldc)
			for i := range tc.m {
				for j := tc.n; j < tc.ldc && i*tc.ldc+j < len(c); j++ {
					if !math.IsNaN(float64(c[i*tc.ldc+j])) {
						t.Fatalf("C padding [%d][%d] written: %g", i, j, c[i*tc.ldc+j])
					}
				}
				for j := range tc.n {
					if d := math.Abs(float64(c[i*tc.ldc+j] - want[i*tc.ldc+j])); !(d <= 1e-4) {
						t.Fatalf("C[%d][%d] = %g, want %g", i, j, c[i*tc.ldc+j], want[i*tc.ldc+j])
					}
				}
			}
		})
	}
}
