package cnn

import (
	"runtime"
	"sync"
	"sync/atomic"

	"gorgonia.org/tensor"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"

	"github.com/gahpo/gahpo/models/gemm"
)

// parts is how many goroutines share n images: GOMAXPROCS, at most n.
func parts(n int) int { return max(1, min(runtime.GOMAXPROCS(0), n)) }

// forParts splits the images [0, n) into parts(n) contiguous ranges and
// calls fn on each, part i on its own goroutine (part 0 on the caller's),
// and waits for all. The custom ops share their work this way: every
// image is independent, so whole layers (not only their matrix products)
// run on every core.
func forParts(n int, fn func(part, lo, hi int)) {
	t := parts(n)
	if t == 1 {
		fn(0, 0, n)
		return
	}
	var wg sync.WaitGroup
	for i := 1; i < t; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn(i, i*n/t, (i+1)*n/t)
		}()
	}
	fn(0, 0, n/t)
	wg.Wait()
}

// chunks is how many pieces forChunks cuts n images into for the
// current GOMAXPROCS: four per goroutine, at most one per image.
func chunks(n int) int { return max(1, min(n, 4*parts(n))) }

// forChunks cuts the images [0, n) into c contiguous chunks (1 <= c <= n)
// and calls fn on each; parts(n) goroutines (the caller's among them)
// claim the chunks one at a time from a shared counter, so that a core
// that another process slows down takes fewer of them instead of making
// the others wait. Which goroutine runs a chunk changes nothing in its
// result: a sum kept per chunk and added in chunk order is the same from
// run to run.
func forChunks(n, c int, fn func(chunk, lo, hi int)) {
	var next atomic.Int64
	work := func() {
		for {
			i := int(next.Add(1) - 1)
			if i >= c {
				return
			}
			fn(i, i*n/c, (i+1)*n/c)
		}
	}
	t := min(parts(n), c)
	var wg sync.WaitGroup
	for range t - 1 {
		wg.Go(work)
	}
	work()
	wg.Wait()
}

// matmul computes C = op(A)·op(B) + beta·C (row-major, op(X) = Xᵀ when
// the flag is set) on the calling goroutine: gemm's assembly kernels for
// float32, gonum for float64 (the precision of the gradient checks).
func matmul[T float32 | float64](tA, tB bool, m, n, k int, a []T, lda int, b []T, ldb int, beta T, c []T, ldc int) {
	ta, tb := blas.NoTrans, blas.NoTrans
	if tA {
		ta = blas.Trans
	}
	if tB {
		tb = blas.Trans
	}
	switch a := any(a).(type) {
	case []float32:
		gemm.SgemmSerial(ta, tb, m, n, k, 1, a, lda, any(b).([]float32), ldb, float32(beta), any(c).([]float32), ldc)
	case []float64:
		gonum.Implementation{}.Dgemm(ta, tb, m, n, k, 1, a, lda, any(b).([]float64), ldb, float64(beta), any(c).([]float64), ldc)
	}
}

// Scratch buffers of the custom ops, reused across batches: an im2col
// matrix of conv2 is 663 KB per image, allocated and zeroed afresh it
// would cost more than copying into it. One pool per length: a pool
// shared by buffers of several lengths hands out short ones where long
// ones are needed, which then have to be allocated anew.
var pool32, pool64 sizedPools

// sizedPools holds a sync.Pool per buffer length.
type sizedPools struct {
	mu    sync.Mutex
	pools map[int]*sync.Pool
}

// of returns the pool of buffers of n values.
func (s *sizedPools) of(n int) *sync.Pool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pools == nil {
		s.pools = map[int]*sync.Pool{}
	}
	p := s.pools[n]
	if p == nil {
		p = &sync.Pool{}
		s.pools[n] = p
	}
	return p
}

// borrow returns a buffer of n values (not zeroed) from the pool; give it
// back with giveBack.
func borrow[T float32 | float64](n int) []T {
	if b, ok := poolOf[T]().of(n).Get().(*[]T); ok && len(*b) == n {
		return *b
	}
	return make([]T, n)
}

// giveBack returns a buffer from borrow to the pool.
func giveBack[T float32 | float64](b []T) { poolOf[T]().of(len(b)).Put(&b) }

func poolOf[T float32 | float64]() *sizedPools {
	var zero T
	if _, ok := any(zero).(float32); ok {
		return &pool32
	}
	return &pool64
}

// outBuffer keeps the output tensor of one node of a graph from one run
// to the next, so that an op does not allocate (and Go zero) a new output
// of megabytes at every batch. A graph runs one batch at a time and an
// output is dead once the run ends, so the op may overwrite it; the op
// must then write every value of it. A nil *outBuffer allocates each
// time.
//
// Only activations and their gradients use one: the weights' gradients
// are kept by gorgonia's dual values across runs.
type outBuffer struct{ t *tensor.Dense }

// newBuffer returns an empty outBuffer, for one node.
func newBuffer() *outBuffer { return &outBuffer{} }

// get returns the kept tensor if it has dt and, after a reshape (a
// gorgonia Reshape downstream may have reshaped it in place), shape; else
// a new one, kept for the next run.
func (b *outBuffer) get(dt tensor.Dtype, shape tensor.Shape) *tensor.Dense {
	if b == nil {
		return tensor.New(tensor.Of(dt), tensor.WithShape(shape.Clone()...))
	}
	if t := b.t; t != nil && t.Dtype() == dt && t.DataSize() == shape.TotalSize() && !t.IsView() {
		if t.Shape().Eq(shape) || t.Reshape(shape.Clone()...) == nil {
			return t
		}
	}
	b.t = tensor.New(tensor.Of(dt), tensor.WithShape(shape.Clone()...))
	return b.t
}
