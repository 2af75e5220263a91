package gemm_test

import (
	"fmt"

	"gonum.org/v1/gonum/blas"

	"github.com/gahpo/gahpo/models/gemm"
)

func ExampleSgemm() {
	// C = A·Bᵀ with A 2×3 and B 2×3, all row-major.
	a := []float32{
		1, 2, 3,
		4, 5, 6,
	}
	b := []float32{
		1, 0, 1,
		0, 1, 0,
	}
	c := make([]float32, 2*2)
	gemm.Sgemm(blas.NoTrans, blas.Trans, 2, 2, 3, 1, a, 3, b, 3, 0, c, 2)
	fmt.Println(c)
	// Output: [4 2 10 5]
}

// Kernels lists what this CPU and build can run, fastest first; gonum's
// pure-Go Sgemm is always there, last.
func ExampleKernels() {
	ks := gemm.Kernels()
	fmt.Println(ks[len(ks)-1])
	// Output: gonum
}
