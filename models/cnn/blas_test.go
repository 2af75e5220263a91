package cnn

import (
	"github.com/gahpo/gahpo/models/gemm"
	"sync/atomic"
	"testing"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// countingBLAS is gonum's BLAS counting its float32 matrix products.
type countingBLAS struct {
	gonum.Implementation
	sgemm atomic.Int64
}

func (c *countingBLAS) Sgemm(tA, tB blas.Transpose, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, cm []float32, ldc int) {
	c.sgemm.Add(1)
	c.Implementation.Sgemm(tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, cm, ldc)
}

// TestUseBLAS checks that the BLAS given to UseBLAS does the training's
// matrix products.
func TestUseBLAS(t *testing.T) {
	if testing.Short() {
		t.Skip("trains the CNN with each BLAS: -short")
	}
	train := loadTrain(t)
	old := G.WhichBLAS()
	defer UseBLAS(old)
	c := &countingBLAS{}
	UseBLAS(c)
	tr, err := newTrainer(newParams(tensor.Float32, 1), Config{BatchSize: 4, LR: 1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tr.step(train, []int{0, 1, 2, 3}, 0); err != nil {
		t.Fatal(err)
	}
	// Forward: the 2 linear layers; backward: 2 more each (the
	// convolutions call models/gemm directly).
	if n := c.sgemm.Load(); n < 4 {
		t.Errorf("%d Sgemm calls through the installed BLAS in a training step, want at least 4", n)
	}
}

// TestDefaultBLAS checks that, on a CPU with a fast kernel, gorgonia uses
// models/gemm from the start, without a call to UseBLAS.
func TestDefaultBLAS(t *testing.T) {
	if gemm.Kernel() == gemm.KernelGonum {
		t.Skip("no AVX-512 or AVX2 kernel on this CPU: gonum's BLAS is the default")
	}
	if _, ok := G.WhichBLAS().(gemm.Implementation); !ok {
		t.Errorf("gorgonia's BLAS is a %T, want gemm.Implementation", G.WhichBLAS())
	}
}

// TestUseGonum checks that UseGonum switches gorgonia and the
// convolutions' kernel to gonum and that its restore puts both back.
func TestUseGonum(t *testing.T) {
	blas, kernel := G.WhichBLAS(), gemm.Kernel()
	restore := UseGonum()
	if _, ok := G.WhichBLAS().(gonum.Implementation); !ok || gemm.Kernel() != gemm.KernelGonum {
		restore()
		t.Fatalf("after UseGonum: BLAS %T, kernel %s", G.WhichBLAS(), gemm.Kernel())
	}
	restore()
	if G.WhichBLAS() != blas || gemm.Kernel() != kernel {
		t.Errorf("after restore: BLAS %T, kernel %s; want %T, %s", G.WhichBLAS(), gemm.Kernel(), blas, kernel)
	}
}
