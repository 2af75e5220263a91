package gemm

import (
	"errors"
	"fmt"
	"runtime"
	"sync/atomic"
)

// Names of the kernels that Kernel reports and SetKernel accepts.
const (
	// KernelAVX512 is the 14×32 and 8×32 AVX-512F micro-kernels under the
	// Go driver.
	KernelAVX512 = "avx512"
	// KernelAVX2 is the 6×16 AVX2+FMA micro-kernel under the Go driver.
	KernelAVX2 = "avx2"
	// KernelGonum is gonum's pure-Go Sgemm, used when the CPU has neither
	// AVX-512F nor AVX2+FMA, outside amd64, and with the purego build tag.
	KernelGonum = "gonum"
)

// ErrKernelUnavailable is returned by SetKernel for a kernel name that is
// unknown or that this CPU (or build) cannot run.
var ErrKernelUnavailable = errors.New("gemm: kernel unavailable")

// kernelFunc computes one mr×nr tile: C = alpha·A·B + beta·C, with A(i,p) at
// a[i·aRow + p·aK], B(p,j) at b[p·bK + j] and C(i,j) at c[i·ldc + j]; C is not
// read when beta is 0. All nr columns of B and all mr rows of A are read.
// Meanwhile it prefetches one cache line a step, at pf[p·pfK + (p mod mr)·pfRow]
// in step p, into L1 (hint bit 1 clear) or L2 (set): the next mr×k panel of
// A laid out like this one, or a column of the next block of B (pfRow 0).
// Masked kernels write (and read) only the first cols columns of C; the
// others ignore cols and write all nr. With hint bit 2, beta 0 and a
// 64-byte aligned C, masked kernels store the whole tile with non-temporal
// stores (then call sfence).
type kernelFunc func(k int, a *float32, aRow, aK int, b *float32, bK int, c *float32, ldc int, alpha, beta float32, pf *float32, pfRow, pfK, hint, cols int)

// microKernel is one assembly micro-kernel and its tile size.
type microKernel struct {
	mr, nr int
	// masked kernels honour cols: they can write the last columns of C;
	// they also store around the caches on request (hint bit 2).
	masked bool
	fn     kernelFunc
	// narrow computes mr×(nr/2) tiles, for the last columns of C.
	narrow kernelFunc
	// packA, when not nil, packs a full micro-panel of a row-major A:
	// dst[q·ldd+i] = src[i·ld+q] for i < mr, q < kc (ldd = mr).
	packA func(dst, src *float32, ld, kc, ldd int)
	// packB, when not nil, packs 16 columns of a transposed B the same way
	// (i < 16, ldd = nr).
	packB func(dst, src *float32, ld, kc, ldd int)
}

// family is the micro-kernels of one instruction set: tiles of different
// heights, the first the default.
type family struct {
	name     string
	variants []*microKernel
}

// pick returns the variant for a C of m rows: the default unless another
// wastes clearly fewer rows in the last, partial tile.
func (f *family) pick(m int) *microKernel {
	if v := forceVariant; v >= 0 && v < len(f.variants) {
		return f.variants[v]
	}
	use := func(mr int) float64 { return float64(m) / float64((m+mr-1)/mr*mr) }
	best := f.variants[0]
	for _, v := range f.variants[1:] {
		if use(v.mr) > use(best.mr)+0.02 {
			best = v
		}
	}
	return best
}

var (
	// active is the kernel family Sgemm uses; nil means gonum.
	active atomic.Pointer[family]
	// threads is the goroutine count set by SetThreads; 0 means GOMAXPROCS.
	threads atomic.Int64
	// forceVariant, when not negative, makes pick return that variant (for
	// tests).
	forceVariant = -1
)

func init() {
	if ks := availableKernels(); len(ks) > 0 {
		active.Store(ks[0])
	}
}

// Kernel reports what Sgemm runs on this CPU: KernelAVX512, KernelAVX2 or
// KernelGonum. It is the fastest available one unless SetKernel chose
// another.
func Kernel() string {
	if k := active.Load(); k != nil {
		return k.name
	}
	return KernelGonum
}

// Kernels lists the kernels this CPU and build can run, fastest first;
// KernelGonum is always last.
func Kernels() []string {
	var names []string
	for _, k := range availableKernels() {
		names = append(names, k.name)
	}
	return append(names, KernelGonum)
}

// SetKernel makes Sgemm use the named kernel, one of Kernels(). It is meant
// for tests and benchmarks that compare kernels; it must not be called while
// a Sgemm runs. It returns ErrKernelUnavailable (wrapped) for any other name.
func SetKernel(name string) error {
	if name == KernelGonum {
		active.Store(nil)
		return nil
	}
	for _, k := range availableKernels() {
		if k.name == name {
			active.Store(k)
			return nil
		}
	}
	return fmt.Errorf("set kernel %q (available: %v): %w", name, Kernels(), ErrKernelUnavailable)
}

// SetThreads sets how many goroutines one Sgemm call may use; n <= 0 means
// runtime.GOMAXPROCS(0), the default.
func SetThreads(n int) {
	if n < 0 {
		n = 0
	}
	threads.Store(int64(n))
}

// Threads reports how many goroutines one Sgemm call may use.
func Threads() int {
	if n := threads.Load(); n > 0 {
		return int(n)
	}
	return runtime.GOMAXPROCS(0)
}
