package cnn

import (
	"sync/atomic"
	"unsafe"

	"github.com/gahpo/gahpo/models/par"
)

// spans is an elementwise parallel section: a kernel called on the same
// range of every slice, the ranges cut from units (images, rows or parts)
// shared among the cores. Its state comes from a pool with the section's
// function bound to it once, so that a section allocates nothing (a
// closure over the slices would be a new object at every call, several a
// step; so would a generic kernel's function value, which binds its type's
// dictionary: the kernel is named by a constant).
type spans[T float32 | float64] struct {
	kernel spanKernel
	s      [4][]T    // the slices, cut alike
	opt    *Adadelta // the optimiser, for adadeltaSpan
	units  int       // what forParts shares out
	size   int       // the slices' common length
	bad    atomic.Bool
	fn     func(chunk, lo, hi int) // run, bound once
}

// spanKernel names what a spans computes over a range of its slices, on
// the calling goroutine; each reports false on a non-finite value.
type spanKernel int

const (
	spanReLU     spanKernel = iota // reluSpan
	spanReLUGrad                   // reluGradSpan
	spanMul                        // mulSpan
	spanAdadelta                   // adadeltaSpan
)

var spans32, spans64 = newSpansPool[float32](), newSpansPool[float64]()

func newSpansPool[T float32 | float64]() *par.Pool[spans[T]] {
	return par.NewPool(64, func() *spans[T] {
		s := &spans[T]{}
		s.fn = s.run
		return s
	})
}

// forSpans calls kernel on s0..s3 (of equal length; unused ones nil) cut
// into the ranges of units shared among the cores, and reports whether
// every call returned true.
func forSpans[T float32 | float64](units int, kernel spanKernel, opt *Adadelta, s0, s1, s2, s3 []T) bool {
	var pools any = spans64
	var zero T
	if unsafe.Sizeof(zero) == 4 {
		pools = spans32
	}
	pool := pools.(*par.Pool[spans[T]])
	s := pool.Get()
	s.kernel, s.opt, s.units, s.size = kernel, opt, units, len(s0)
	s.s = [4][]T{s0, s1, s2, s3}
	s.bad.Store(false)
	forParts(units, s.fn)
	ok := !s.bad.Load()
	s.opt, s.s = nil, [4][]T{} // keep nothing of the caller's reachable
	pool.Put(s)
	return ok
}

// run is the section's function: units [lo, hi) as a range of the slices.
func (s *spans[T]) run(_, lo, hi int) {
	lo, hi = lo*s.size/s.units, hi*s.size/s.units
	var ok bool
	switch s.kernel {
	case spanReLU:
		ok = reluSpan(s, lo, hi)
	case spanReLUGrad:
		ok = reluGradSpan(s, lo, hi)
	case spanMul:
		ok = mulSpan(s, lo, hi)
	case spanAdadelta:
		ok = adadeltaSpan(s, lo, hi)
	}
	if !ok {
		s.bad.Store(true)
	}
}

// cut returns slice i over [lo, hi), or nil when it is unused.
func (s *spans[T]) cut(i, lo, hi int) []T {
	if s.s[i] == nil {
		return nil
	}
	return s.s[i][lo:hi]
}
