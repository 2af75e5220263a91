//go:build amd64 && !purego

package gemm

import (
	"math/rand/v2"
	"testing"
)

// TestPackA14 compares the gathering packer with packAPanel.
func TestPackA14(t *testing.T) {
	if avx512 != nil && availableKernels()[0] != avx512 {
		t.Skip("no AVX-512")
	}
	rng := rand.New(rand.NewPCG(5, 6))
	for _, tc := range []struct{ lda, pc, kc int }{{1, 0, 1}, {9216, 0, 320}, {1024, 256, 256}, {300, 7, 13}} {
		a := make([]float32, 14*tc.lda+tc.pc+tc.kc)
		for i := range a {
			a[i] = rng.Float32()
		}
		p := &problem{a: a, lda: tc.lda, m: 14, k: tc.lda}
		want := make([]float32, 14*tc.kc)
		got := make([]float32, 14*tc.kc+1)
		got[len(got)-1] = -1
		packAPanel(want, p, 14, 0, 14, tc.pc, tc.kc)
		packA14(&got[0], &a[tc.pc], tc.lda, tc.kc)
		for i, w := range want {
			if got[i] != w {
				t.Fatalf("lda %d pc %d kc %d: dst[%d] = %g, want %g", tc.lda, tc.pc, tc.kc, i, got[i], w)
			}
		}
		if got[len(got)-1] != -1 {
			t.Errorf("lda %d: wrote past the panel", tc.lda)
		}
	}
}
