package main

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
	"text/tabwriter"
	"time"

	"gonum.org/v1/gonum/blas"

	"github.com/gahpo/gahpo/models/cnn"
	"github.com/gahpo/gahpo/models/gemm"
	"github.com/gahpo/gahpo/models/mnist"
)

// shape identifies the Sgemm calls of one kind.
type shape struct {
	tA, tB  blas.Transpose
	m, n, k int
}

// calls sums the Sgemm calls of one shape.
type calls struct {
	count int
	time  time.Duration
}

// recorder is gemm's BLAS timing every Sgemm by shape.
type recorder struct {
	gemm.Implementation
	mu     sync.Mutex
	shapes map[shape]*calls
}

// Sgemm runs gemm.Sgemm and records its shape and duration.
func (r *recorder) Sgemm(tA, tB blas.Transpose, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	start := time.Now()
	gemm.Sgemm(tA, tB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
	d := time.Since(start)
	r.mu.Lock()
	defer r.mu.Unlock()
	s := shape{tA, tB, m, n, k}
	if r.shapes[s] == nil {
		r.shapes[s] = &calls{}
	}
	r.shapes[s].count++
	r.shapes[s].time += d
}

// runCNN trains the CNN for m.Images images with each kernel as gorgonia's
// BLAS and reports the training speed and where Sgemm spent its time.
func (m *Main) runCNN(ctx context.Context) error {
	dir, err := mnist.FindDir()
	if err != nil {
		return fmt.Errorf("cnn: %w", err)
	}
	train, test, err := mnist.Load(dir)
	if err != nil {
		return fmt.Errorf("cnn: %w", err)
	}
	splits, err := mnist.NewSplits(train, test, m.Images)
	if err != nil {
		return fmt.Errorf("cnn: %w", err)
	}
	if m.Validation > 0 && m.Validation < splits.Val.N {
		splits.Val = splits.Val.Slice(0, m.Validation)
	}
	cfg := cnn.Config{BatchSize: m.Batch, LR: 1, Seed: 1}
	// Leave gorgonia's BLAS and the kernel as they were.
	defer cnn.UseGonum()()
	for _, k := range m.Kernels {
		if err := gemm.SetKernel(k); err != nil {
			return fmt.Errorf("cnn: %w", err)
		}
		rec := &recorder{shapes: map[shape]*calls{}}
		cnn.UseBLAS(rec)
		start := time.Now()
		ev, err := cnn.Fitness(ctx, splits, cfg)
		if err != nil {
			return fmt.Errorf("cnn with %s: %w", k, err)
		}
		wall := time.Since(start)
		var total time.Duration
		for _, c := range rec.shapes {
			total += c.time
		}
		fmt.Fprintf(m.Out, "\n%s: %d training images at batch %d, %.1f img/s; fitness %.4f (accuracy %.4f) in %v; gorgonia's Sgemm %v (%.0f%% of the run; the convolutions' per-image products are not through gorgonia)\n",
			k, ev.Images, m.Batch, ev.ImagesPerSec, ev.Loss, ev.Accuracy, wall.Round(time.Millisecond),
			total.Round(time.Millisecond), 100*total.Seconds()/wall.Seconds())
		type row struct {
			s shape
			c *calls
		}
		var rows []row
		for s, c := range rec.shapes {
			rows = append(rows, row{s, c})
		}
		slices.SortFunc(rows, func(a, b row) int { return cmp.Compare(b.c.time, a.c.time) })
		tw := tabwriter.NewWriter(m.Out, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintf(tw, "tA tB\tm\tn\tk\tcalls\ttime\tGFLOP/s\t\n")
		for _, r := range rows {
			flops := 2 * float64(r.s.m) * float64(r.s.n) * float64(r.s.k) * float64(r.c.count)
			fmt.Fprintf(tw, "%c %c\t%d\t%d\t%d\t%d\t%v\t%.1f\t\n", r.s.tA, r.s.tB, r.s.m, r.s.n, r.s.k,
				r.c.count, r.c.time.Round(time.Microsecond), flops/r.c.time.Seconds()/1e9)
		}
		if err := tw.Flush(); err != nil {
			return fmt.Errorf("cnn: report: %w", err)
		}
	}
	return nil
}
