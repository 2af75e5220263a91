//go:build linux

package gemm

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
)

// guarded returns n floats that end where an inaccessible page begins, so
// that reading one float past them crashes the test. free unmaps them.
func guarded(t *testing.T, n int) (s []float32, free func()) {
	t.Helper()
	page := unix.Getpagesize()
	size := (n*4+page-1)/page*page + page
	mem, err := unix.Mmap(-1, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANON)
	if err != nil {
		t.Fatalf("mmap: %v", err)
	}
	if err := unix.Mprotect(mem[size-page:], unix.PROT_NONE); err != nil {
		t.Fatalf("mprotect: %v", err)
	}
	end := size - page
	s = unsafe.Slice((*float32)(unsafe.Pointer(&mem[end-n*4])), n)
	return s, func() {
		if err := unix.Munmap(mem); err != nil {
			t.Errorf("munmap: %v", err)
		}
	}
}

// TestSgemmNoOverread runs products whose A, B and C are exactly as long as
// gonum requires and end at an inaccessible page: a kernel or packer that
// reads past the matrices crashes.
func TestSgemmNoOverread(t *testing.T) {
	shapes := [][3]int{{1, 1, 1}, {13, 9, 37}, {14, 32, 16}, {15, 47, 300}, {64, 10, 40}, {40, 17, 1}, {9, 100, 33}}
	trans := []blas.Transpose{blas.NoTrans, blas.Trans}
	forEachKernel(t, func(t *testing.T) {
		for _, s := range shapes {
			for _, tA := range trans {
				for _, tB := range trans {
					m, n, k := s[0], s[1], s[2]
					t.Run(fmt.Sprintf("%dx%dx%d/%c%c", m, n, k, tA, tB), func(t *testing.T) {
						overread(t, tA, tB, m, n, k)
					})
				}
			}
		}
	})
}

// overread checks one product on guarded matrices with leading dimensions
// one more than their widths.
func overread(t *testing.T, tA, tB blas.Transpose, m, n, k int) {
	rng := rand.New(rand.NewPCG(7, uint64(m*n*k)))
	ar, ac := m, k
	if tA != blas.NoTrans {
		ar, ac = k, m
	}
	br, bc := k, n
	if tB != blas.NoTrans {
		br, bc = n, k
	}
	lda, ldb, ldc := ac+1, bc+1, n+1
	a, freeA := guarded(t, (ar-1)*lda+ac)
	defer freeA()
	b, freeB := guarded(t, (br-1)*ldb+bc)
	defer freeB()
	c, freeC := guarded(t, (m-1)*ldc+n)
	defer freeC()
	for _, x := range [][]float32{a, b, c} {
		for i := range x {
			x[i] = 2*rng.Float32() - 1
		}
	}
	want := append([]float32(nil), c...)
	gonum.Implementation{}.Sgemm(tA, tB, m, n, k, 1.5, a, lda, b, ldb, 0.5, want, ldc)
	Sgemm(tA, tB, m, n, k, 1.5, a, lda, b, ldb, 0.5, c, ldc)
	for i := range m {
		for j := range n {
			if d := c[i*ldc+j] - want[i*ldc+j]; d > 1e-4 || d < -1e-4 {
				t.Fatalf("C[%d][%d] = %g, want %g", i, j, c[i*ldc+j], want[i*ldc+j])
			}
		}
	}
}

// TestConv3x3NoOverread runs Conv3x3 and Conv3x3Back on images exactly as
// long as their windows reach, ending at an inaccessible page: a kernel or
// packer that reads or writes past the last window crashes.
func TestConv3x3NoOverread(t *testing.T) {
	shapes := []struct{ oh, ow, w, cin, n int }{{24, 24, 26, 32, 64}, {5, 7, 9, 5, 13}, {4, 8, 12, 3, 33}, {2, 16, 18, 32, 20}}
	forEachKernel(t, func(t *testing.T) {
		for _, s := range shapes {
			t.Run(fmt.Sprintf("%dx%d_w%d_cin%d", s.oh, s.ow, s.w, s.cin), func(t *testing.T) {
				r := rand.New(rand.NewPCG(1, uint64(s.cin)))
				x, free := guarded(t, ((s.oh+1)*s.w+s.ow+2)*s.cin)
				defer free()
				for i := range x {
					x[i] = float32(r.Float64())
				}
				b := make([]float32, 9*s.cin*s.n)
				c := make([]float32, s.oh*s.ow*s.n)
				Conv3x3(x, s.w, s.cin, s.oh, s.ow, b, s.n, 0, c, s.n)
				// The transpose writes where Conv3x3 reads.
				Conv3x3Back(x, s.w, s.cin, s.oh, s.ow, c, s.n, make([]float32, s.n*9*s.cin))
			})
		}
	})
}
