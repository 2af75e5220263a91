package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"text/tabwriter"
	"time"

	"gonum.org/v1/gonum/blas"

	"github.com/gahpo/gahpo/models/gemm"
)

// product is one C = op(A)·op(B) with op(A) m×k and op(B) k×n.
type product struct {
	name    string
	tA, tB  blas.Transpose
	m, n, k int
	serial  bool // per image, through gemm.SgemmSerial
}

// flops is the product's floating-point operation count, 2·m·n·k.
func (p product) flops() float64 { return 2 * float64(p.m) * float64(p.n) * float64(p.k) }

// cnnProducts are the products of one CNN training step at batch b: the
// convolutions' (models/cnn's own ops) one per image on one goroutine
// each, im2col×filters with the gradients of filters and input; the dense
// layers' (gorgonia's) once per batch on all goroutines, x×W with theirs.
func cnnProducts(b int) []product {
	N, T := blas.NoTrans, blas.Trans
	return []product{
		{"conv1/img", N, N, 26 * 26, 32, 9, true},
		{"conv1_dW/img", T, N, 32, 9, 26 * 26, true},
		{"conv2/img", N, N, 24 * 24, 64, 288, true},
		{"conv2_dX/img", N, N, 24 * 24, 288, 64, true},
		{"conv2_dW/img", T, N, 64, 288, 24 * 24, true},
		{"fc1", N, N, b, 128, 9216, false},
		{"fc1_dX", N, T, b, 9216, 128, false},
		{"fc1_dW", T, N, 9216, 128, b, false},
		{"fc2", N, N, b, 10, 128, false},
		{"fc2_dX", N, T, b, 128, 10, false},
		{"fc2_dW", T, N, 128, 10, b, false},
	}
}

// timing is the result of running one product many times.
type timing struct {
	best, median time.Duration
	runs         int
}

// timeProduct runs p with the current kernel for about d and returns its
// timing.
func timeProduct(ctx context.Context, p product, d time.Duration) (timing, error) {
	rng := rand.New(rand.NewPCG(1, 2))
	fill := func(n int) []float32 {
		s := make([]float32, n)
		for i := range s {
			s[i] = 2*rng.Float32() - 1
		}
		return s
	}
	a, b, c := fill(p.m*p.k), fill(p.k*p.n), fill(p.m*p.n)
	lda, ldb := p.k, p.n
	if p.tA != blas.NoTrans {
		lda = p.m
	}
	if p.tB != blas.NoTrans {
		ldb = p.k
	}
	var runs []time.Duration
	var total time.Duration
	for total < d || len(runs) < 3 {
		if err := ctx.Err(); err != nil {
			return timing{}, fmt.Errorf("time %s: %w", p.name, err)
		}
		start := time.Now()
		if p.serial {
			gemm.SgemmSerial(p.tA, p.tB, p.m, p.n, p.k, 1, a, lda, b, ldb, 0, c, p.n)
		} else {
			gemm.Sgemm(p.tA, p.tB, p.m, p.n, p.k, 1, a, lda, b, ldb, 0, c, p.n)
		}
		t := time.Since(start)
		runs = append(runs, t)
		total += t
	}
	slices.Sort(runs)
	return timing{best: runs[0], median: runs[len(runs)/2], runs: len(runs)}, nil
}

// runProducts times 1024³ and the CNN's products with every kernel.
func (m *Main) runProducts(ctx context.Context) error {
	ps := append([]product{{"1024³", blas.NoTrans, blas.NoTrans, 1024, 1024, 1024, false}}, cnnProducts(m.Batch)...)
	tw := tabwriter.NewWriter(m.Out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "product\ttA tB\tm\tn\tk\tkernel\tbest GFLOP/s\tmedian GFLOP/s\truns\tbest vs gonum\t\n")
	// gonum first, so that the others can be compared with it.
	kernels := slices.Clone(m.Kernels)
	slices.SortStableFunc(kernels, func(a, b string) int {
		return boolInt(b == gemm.KernelGonum) - boolInt(a == gemm.KernelGonum)
	})
	for _, p := range ps {
		var gonumBest time.Duration
		for _, k := range kernels {
			if err := gemm.SetKernel(k); err != nil {
				return fmt.Errorf("products: %w", err)
			}
			t, err := timeProduct(ctx, p, m.Time)
			if err != nil {
				return err
			}
			ratio := "-"
			if k == gemm.KernelGonum {
				gonumBest = t.best
			} else if gonumBest > 0 {
				ratio = fmt.Sprintf("%.1f×", gonumBest.Seconds()/t.best.Seconds())
			}
			fmt.Fprintf(tw, "%s\t%c %c\t%d\t%d\t%d\t%s\t%.1f\t%.1f\t%d\t%s\t\n", p.name, p.tA, p.tB, p.m, p.n, p.k, k,
				p.flops()/t.best.Seconds()/1e9, p.flops()/t.median.Seconds()/1e9, t.runs, ratio)
		}
	}
	return tw.Flush()
}

// boolInt is 1 for true, 0 for false.
func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
