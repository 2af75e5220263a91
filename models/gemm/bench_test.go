package gemm

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/blas"
)

// benchCases are the products benchmarked: 1024³ and the CNN's at batch 64.
func benchCases() []gemmCase {
	cs := []gemmCase{{name: "1024x1024x1024", tA: blas.NoTrans, tB: blas.NoTrans, m: 1024, n: 1024, k: 1024, alpha: 1}}
	return append(cs, cnnCases(64)...)
}

// BenchmarkSgemm reports GFLOP/s (2·m·n·k per product) for each kernel this
// CPU can run, gonum included, with Threads() goroutines:
//
//	go test -run '^$' -bench Sgemm ./models/gemm/
func BenchmarkSgemm(b *testing.B) {
	saved := Kernel()
	defer func() {
		if err := SetKernel(saved); err != nil {
			b.Error(err)
		}
	}()
	for _, tc := range benchCases() {
		rng := rand.New(rand.NewPCG(1, 2))
		ar, ac := tc.m, tc.k
		if tc.tA != blas.NoTrans {
			ar, ac = ac, ar
		}
		br, bc := tc.k, tc.n
		if tc.tB != blas.NoTrans {
			br, bc = bc, br
		}
		a, lda := matrix(rng, ar, ac, 0, 0)
		bm, ldb := matrix(rng, br, bc, 0, 0)
		c, ldc := matrix(rng, tc.m, tc.n, 0, 0)
		flops := 2 * float64(tc.m) * float64(tc.n) * float64(tc.k)
		for _, name := range Kernels() {
			b.Run(fmt.Sprintf("%s/%s", tc.name, name), func(b *testing.B) {
				if err := SetKernel(name); err != nil {
					b.Fatal(err)
				}
				for b.Loop() {
					Sgemm(tc.tA, tc.tB, tc.m, tc.n, tc.k, tc.alpha, a, lda, bm, ldb, tc.beta, c, ldc)
				}
				b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}
