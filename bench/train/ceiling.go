package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"time"

	"gonum.org/v1/gonum/blas"

	"github.com/gahpo/gahpo/models/gemm"
)

// product is one matrix product of a CNN training step, C = op(A)·op(B)
// with op(A) m×k and op(B) k×n.
type product struct {
	tA, tB  blas.Transpose
	m, n, k int
	beta    float32
}

// flops is the product's floating-point operation count, 2·m·n·k.
func (p product) flops() float64 { return 2 * float64(p.m) * float64(p.n) * float64(p.k) }

// Products of one training step of models/cnn (the list of bench/gemm):
// the convolutions' are one product per image, each on one goroutine
// (gemm.SgemmSerial); the dense layers' one per batch of b images, on all
// goroutines (gemm.Sgemm).
var imageProducts = []product{
	{blas.NoTrans, blas.NoTrans, 26 * 26, 32, 9, 1},   // conv1
	{blas.Trans, blas.NoTrans, 32, 9, 26 * 26, 1},     // conv1's filter gradient
	{blas.NoTrans, blas.NoTrans, 24 * 24, 64, 288, 1}, // conv2
	{blas.NoTrans, blas.NoTrans, 24 * 24, 288, 64, 0}, // conv2's input gradient
	{blas.Trans, blas.NoTrans, 64, 288, 24 * 24, 1},   // conv2's filter gradient
}

// batchProducts returns the dense layers' products of a step at batch b.
func batchProducts(b int) []product {
	return []product{
		{blas.NoTrans, blas.NoTrans, b, 128, 9216, 0}, // fc1
		{blas.NoTrans, blas.Trans, b, 9216, 128, 0},   // fc1's input gradient
		{blas.Trans, blas.NoTrans, 9216, 128, b, 1},   // fc1's weight gradient
		{blas.NoTrans, blas.NoTrans, b, 10, 128, 0},   // fc2
		{blas.NoTrans, blas.Trans, b, 128, 10, 0},     // fc2's input gradient
		{blas.Trans, blas.NoTrans, 128, 10, b, 1},     // fc2's weight gradient
	}
}

// stepFlops is the floating-point operations of the matrix products of one
// training step at batch b (about 72 MFLOP an image).
func stepFlops(b int) float64 {
	var f float64
	for _, p := range imageProducts {
		f += float64(b) * p.flops()
	}
	for _, p := range batchProducts(b) {
		f += p.flops()
	}
	return f
}

// operands holds the matrices of a list of products.
type operands struct{ a, b, c [][]float32 }

// newOperands returns random operands for ps.
func newOperands(ps []product, rng *rand.Rand) *operands {
	fill := func(n int) []float32 {
		s := make([]float32, n)
		for i := range s {
			s[i] = 2*rng.Float32() - 1
		}
		return s
	}
	o := &operands{}
	for _, p := range ps {
		o.a = append(o.a, fill(p.m*p.k))
		o.b = append(o.b, fill(p.k*p.n))
		o.c = append(o.c, fill(p.m*p.n))
	}
	return o
}

// compute runs product i of ps on o, on all goroutines or on the calling one.
func (o *operands) compute(ps []product, i int, serial bool) {
	p := ps[i]
	lda, ldb := p.k, p.n
	if p.tA != blas.NoTrans {
		lda = p.m
	}
	if p.tB != blas.NoTrans {
		ldb = p.k
	}
	f := gemm.Sgemm
	if serial {
		f = gemm.SgemmSerial
	}
	f(p.tA, p.tB, p.m, p.n, p.k, 1, o.a[i], lda, o.b[i], ldb, p.beta, o.c[i], p.n)
}

// ceiling measures how fast models/gemm computes the matrix products of a
// training step at one batch size, on every core at once: the products
// the workers compute, without anything else of a step. Its figure is the
// ceiling that a training step's speed is compared with.
type ceiling struct {
	batch   int
	threads int
	batchPs []product
	batchOp *operands
	imageOp []*operands // per goroutine
}

// newCeiling prepares the operands of the products at batch b for
// GOMAXPROCS goroutines.
func newCeiling(b int) *ceiling {
	rng := rand.New(rand.NewPCG(1, 2))
	c := &ceiling{batch: b, threads: runtime.GOMAXPROCS(0), batchPs: batchProducts(b)}
	c.batchOp = newOperands(c.batchPs, rng)
	for range c.threads {
		c.imageOp = append(c.imageOp, newOperands(imageProducts, rng))
	}
	return c
}

// steps computes the products of n training steps, as models/cnn shares
// them out: the images of a batch split among the goroutines, each
// computing its images' products one after another, then the dense
// layers' products on all goroutines. It returns the GFLOP/s achieved.
func (c *ceiling) steps(ctx context.Context, n int) (float64, error) {
	start := time.Now()
	for range n {
		if err := ctx.Err(); err != nil {
			return 0, fmt.Errorf("ceiling: %w", err)
		}
		t := min(c.threads, c.batch)
		var wg sync.WaitGroup
		for g := range t {
			lo, hi := g*c.batch/t, (g+1)*c.batch/t
			wg.Go(func() {
				o := c.imageOp[g]
				for range hi - lo {
					for i := range imageProducts {
						o.compute(imageProducts, i, true)
					}
				}
			})
		}
		wg.Wait()
		for i := range c.batchPs {
			c.batchOp.compute(c.batchPs, i, false)
		}
	}
	return float64(n) * stepFlops(c.batch) / time.Since(start).Seconds() / 1e9, nil
}
