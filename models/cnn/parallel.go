package cnn

import (
	"runtime"
	"sync"

	"gorgonia.org/tensor"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"

	"github.com/gahpo/gahpo/models/gemm"
	"github.com/gahpo/gahpo/models/par"
)

// parts is how many goroutines share n images: GOMAXPROCS, at most n.
func parts(n int) int { return max(1, min(runtime.GOMAXPROCS(0), n)) }

// forParts splits the images [0, n) into parts(n) contiguous ranges and
// calls fn on each (forChunks with a chunk a goroutine), and waits for
// all. The custom ops share their work this way: every image is
// independent, so whole layers (not only their matrix products) run on
// every core.
func forParts(n int, fn func(part, lo, hi int)) { forChunks(n, parts(n), fn) }

// chunks is how many pieces forChunks cuts n images into for the
// current GOMAXPROCS: four per goroutine, at most one per image.
func chunks(n int) int { return max(1, min(n, 4*parts(n))) }

// forChunks cuts the images [0, n) into c contiguous chunks (1 <= c <= n)
// and calls fn on each; the caller's goroutine and up to parts(n)-1 of
// par's helpers claim the chunks one at a time from a shared counter, so
// that a core that another process slows down takes fewer of them instead
// of making the others wait. Which goroutine runs a chunk changes nothing
// in its result: a sum kept per chunk and added in chunk order is the same
// from run to run.
func forChunks(n, c int, fn func(chunk, lo, hi int)) { par.Chunks(n, c, parts(n), fn) }

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
// would cost more than copying into it. Free buffers are kept by length:
// buffers of several lengths in one list would hand out short ones where
// long ones are needed, which then have to be allocated anew. A list, not
// a sync.Pool: putting a slice into a sync.Pool allocates its header, two
// allocations per image per op; the lengths are few (they follow the
// network's shapes, not the batch size) and a list keeps at most
// maxFree buffers of each.
var free32 freeLists[float32]
var free64 freeLists[float64]

// maxFree is the most free buffers of one length kept: more than the
// goroutines that borrow at once.
const maxFree = 64

// freeLists holds the free buffers of each length.
type freeLists[T float32 | float64] struct {
	mu   sync.Mutex
	bufs map[int][][]T
}

// get returns a free buffer of n values, or nil.
func (f *freeLists[T]) get(n int) []T {
	f.mu.Lock()
	defer f.mu.Unlock()
	l := f.bufs[n]
	if len(l) == 0 {
		return nil
	}
	b := l[len(l)-1]
	f.bufs[n] = l[:len(l)-1]
	return b
}

// put keeps b for a later get, unless maxFree of its length are kept.
func (f *freeLists[T]) put(b []T) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.bufs == nil {
		f.bufs = map[int][][]T{}
	}
	if l := f.bufs[len(b)]; len(l) < maxFree {
		f.bufs[len(b)] = append(l, b)
	}
}

// borrow returns a buffer of n values (not zeroed), a free one when there
// is one; give it back with giveBack.
func borrow[T float32 | float64](n int) []T {
	if b := freeOf[T]().get(n); b != nil {
		return b
	}
	return make([]T, n)
}

// giveBack returns a buffer from borrow for later borrows.
func giveBack[T float32 | float64](b []T) { freeOf[T]().put(b) }

func freeOf[T float32 | float64]() *freeLists[T] {
	if f, ok := any(&free32).(*freeLists[T]); ok {
		return f
	}
	return any(&free64).(*freeLists[T])
}

// outBuffer keeps the output tensor of one node of a graph from one run
// to the next, so that an op does not allocate (and Go zero) a new output
// of megabytes at every batch. A graph runs one batch at a time and an
// output is dead once the run ends, so the op may overwrite it; the op
// must then write every value of it. A nil *outBuffer allocates each
// time.
//
// Activations, their gradients and the weights' gradients use one (the
// optimiser reads the weights' gradients after the run, before the next).
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
