//go:build amd64 && !purego

package gemm

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// TestPackATranspose compares the transposing packers with packAPanel.
func TestPackATranspose(t *testing.T) {
	if availableKernels()[0] != avx512 {
		t.Skip("no AVX-512")
	}
	for _, v := range avx512.variants {
		t.Run(fmt.Sprintf("mr%d", v.mr), func(t *testing.T) { testPackA(t, v) })
	}
}

func testPackA(t *testing.T, v *microKernel) {
	rng := rand.New(rand.NewPCG(5, 6))
	mr := v.mr
	for _, tc := range []struct{ lda, pc, kc int }{{1, 0, 1}, {9216, 0, 320}, {1024, 256, 256}, {300, 7, 13}, {40, 3, 37}} {
		a := make([]float32, (mr-1)*tc.lda+tc.pc+tc.kc)
		for i := range a {
			a[i] = rng.Float32()
		}
		p := &problem{a: a, lda: tc.lda, m: mr, k: tc.lda}
		want := make([]float32, mr*tc.kc)
		got := make([]float32, mr*tc.kc+1)
		got[len(got)-1] = -1
		packAPanel(want, p, mr, 0, mr, tc.pc, tc.kc)
		v.packA(&got[0], &a[tc.pc], tc.lda, tc.kc)
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
