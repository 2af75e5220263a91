//go:build amd64 && !purego

package gemm

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// TestPackTranspose compares the transposing packers with a plain loop:
// dst[q·ldd+i] = src[i·ld+q], nothing written elsewhere.
func TestPackTranspose(t *testing.T) {
	if availableKernels()[0] != avx512 {
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
