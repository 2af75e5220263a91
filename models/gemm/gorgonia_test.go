package gemm_test

import (
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/blas/gonum"
	"gorgonia.org/tensor"

	"github.com/gahpo/gahpo/models/gemm"
)

// Implementation is what tensor.Use and gorgonia.Use take.
var _ tensor.BLAS = gemm.Implementation{}

// TestTensorMatMul multiplies gorgonia tensors, transposed as gorgonia's
// Conv2d and its gradients do, with tensor using this package's BLAS, and
// compares with tensor using gonum's.
func TestTensorMatMul(t *testing.T) {
	saved := tensor.WhichBLAS()
	defer tensor.Use(saved)
	rng := rand.New(rand.NewPCG(3, 4))
	random := func(shape ...int) *tensor.Dense {
		data := make([]float32, shape[0]*shape[1])
		for i := range data {
			data[i] = 2*rng.Float32() - 1
		}
		return tensor.New(tensor.WithShape(shape...), tensor.WithBacking(data))
	}
	tests := []struct {
		name           string
		a, b           *tensor.Dense
		transA, transB bool
	}{
		{name: "conv2 im2col×filterᵀ", a: random(10*24*24, 288), b: random(64, 288), transB: true},
		{name: "conv2 dZᵀ×im2col", a: random(10*24*24, 64), b: random(10*24*24, 288), transA: true},
		{name: "fc1", a: random(10, 9216), b: random(9216, 128)},
		{name: "odd ᵀ×ᵀ", a: random(37, 13), b: random(29, 37), transA: true, transB: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			product := func(impl tensor.BLAS) []float32 {
				tensor.Use(impl)
				a, b := tc.a.Clone().(*tensor.Dense), tc.b.Clone().(*tensor.Dense)
				if tc.transA {
					if err := a.T(); err != nil {
						t.Fatal(err)
					}
				}
				if tc.transB {
					if err := b.T(); err != nil {
						t.Fatal(err)
					}
				}
				c, err := tensor.MatMul(a, b)
				if err != nil {
					t.Fatalf("MatMul: %v", err)
				}
				return c.Data().([]float32)
			}
			want := product(gonum.Implementation{})
			got := product(gemm.Implementation{})
			if _, ok := tensor.WhichBLAS().(gemm.Implementation); !ok {
				t.Fatalf("tensor.WhichBLAS() = %T, want gemm.Implementation", tensor.WhichBLAS())
			}
			if len(got) != len(want) {
				t.Fatalf("len = %d, want %d", len(got), len(want))
			}
			var maxDiff, maxWant float64
			for i := range want {
				maxDiff = max(maxDiff, math.Abs(float64(got[i]-want[i])))
				maxWant = max(maxWant, math.Abs(float64(want[i])))
			}
			if maxDiff > 1e-5*maxWant {
				t.Errorf("max|got-want| = %g, max|want| = %g", maxDiff, maxWant)
			}
		})
	}
}
