package gemm

import (
	"sync"
	"unsafe"
)

// Cache blocking. A kc×nc block of op(B), packed into panels of nr columns
// or read in place, stays in L2 while the rows of op(A) stream past it, mr
// at a time; each mr×kc micro-panel of op(A), read in place or packed,
// stays in L1 while the kernel walks the B panels. Kernels prefetch the next
// micro-panel of A and the next k-block as they go.
var (
	// blockK is the largest kc; k is cut into equal blocks no larger.
	blockK = 320
	// blockBFloats bounds the packed B block (kc·nc floats), to fit L2.
	blockBFloats = 160 * 1024
	// parallelFlops is the least work (2·m·n·k) split across goroutines.
	parallelFlops = float64(1 << 20)
	// forcePackA packs every A micro-panel, even those the kernel could
	// read in place (for experiments).
	forcePackA = false
	// prefetchA has the kernel prefetch the next micro-panel of A, when
	// read in place, while it computes one.
	prefetchA = true
	// forcePackB packs op(B) even when it could be read in place.
	forcePackB = false
	// streamBytes is the size of C above which a C written once (beta 0,
	// one k-block) is stored around the caches, which could not keep it.
	streamBytes = 16 << 20
)

// problem is one C = alpha·op(A)·op(B) + beta·C with arguments checked.
type problem struct {
	aTrans, bTrans bool
	m, n, k        int
	alpha          float32
	a              []float32
	lda            int
	b              []float32
	ldb            int
	beta           float32
	c              []float32
	ldc            int
	// large is set on a product whose C, written once (beta 0), exceeds
	// streamBytes: decided on the whole product, before it is shared among
	// goroutines, and cleared for the private parts of a k-split.
	large bool
}

// sub returns the part of p with rows [i0,i1) and columns [j0,j1) of C and
// inner indices [p0,p1). The parts must not be empty.
func (p *problem) sub(i0, i1, j0, j1, p0, p1 int) problem {
	s := *p
	s.m, s.n, s.k = i1-i0, j1-j0, p1-p0
	if p.aTrans {
		s.a = p.a[p0*p.lda+i0:]
	} else {
		s.a = p.a[i0*p.lda+p0:]
	}
	if p.bTrans {
		s.b = p.b[j0*p.ldb+p0:]
	} else {
		s.b = p.b[p0*p.ldb+j0:]
	}
	s.c = p.c[i0*p.ldc+j0:]
	return s
}

// workspace holds one goroutine's packing buffers; reused through wsPool.
type workspace struct {
	bp   []float32 // packed B block: panels of nr columns, each kc×nr
	ap   []float32 // packed A micro-panel, kc×mr
	tile []float32 // mr×nr tile for the edges of C
	part []float32 // this goroutine's part of C in a split of k
	jobs []prefetchJob
}

// prefetchJob is what a kernel prefetches while it computes: the lines at
// ptr[p·k + (p mod mr)·row] for its steps p, into L1 (hint 0) for the next
// panel, into L2 (hint 1) for the next block, which would crowd L1.
type prefetchJob struct {
	ptr          *float32
	row, k, hint int
}

var wsPool = sync.Pool{New: func() any { return new(workspace) }}

// grow returns s resized to n elements, reallocated when too small.
func grow(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n)
	}
	return s[:n]
}

// blocks cuts n into equal blocks of at most limit (a multiple of align
// when n is cut) and returns the block size.
func blocks(n, limit, align int) int {
	if n <= limit {
		return n
	}
	nb := (n + limit - 1) / limit
	bs := (n + nb - 1) / nb
	return (bs + align - 1) / align * align
}

// streams tells whether p's C is stored around the caches: a large C
// written once (see problem.large) in one k-block, by a masked kernel,
// 64-byte aligned rows.
func (p *problem) streams(ker *microKernel, kc int) bool {
	return ker.masked && p.large && p.beta == 0 && p.k <= kc &&
		p.ldc%16 == 0 && uintptr(unsafe.Pointer(&p.c[0]))%64 == 0
}

// gemm computes p on the calling goroutine.
func (w *workspace) gemm(ker *microKernel, p *problem) {
	mr, nr := ker.mr, ker.nr
	kc := blocks(p.k, blockK, 8)
	nc := blocks(p.n, max(nr, blockBFloats/kc/nr*nr), nr)
	w.ap = grow(w.ap, kc*mr)
	w.tile = grow(w.tile, mr*nr)
	// op(B) is read in place unless transposed or, when many panels of A
	// share it, its rows are a multiple of 4 KiB apart (they would fight for
	// the same cache sets).
	packB := p.bTrans || forcePackB || (p.m > 2*mr && p.ldb%1024 == 0)
	if packB {
		w.bp = grow(w.bp, kc*((nc+nr-1)/nr*nr))
	} else {
		w.bp = grow(w.bp, kc*nr)
	}
	// op(A) is read in place unless its mr rows are a multiple of 1 KiB
	// apart: they would share one L1 set, more than its ways.
	directA := !forcePackA && (p.aTrans || p.lda%256 != 0)
	stream := p.streams(ker, kc)
	if stream {
		defer sfence()
	}
	for jc := 0; jc < p.n; jc += nc {
		ncb := min(nc, p.n-jc)
		for pc := 0; pc < p.k; pc += kc {
			kcb := min(kc, p.k-pc)
			beta := p.beta
			if pc > 0 {
				beta = 1
			}
			// The last, partial panel of B is read in place as well by a
			// masked kernel (the columns past n only reach lanes it does not
			// store) unless that would read past the end of b.
			edge := ncb % nr
			edgeWidth := nr
			if edge <= nr/2 && ker.narrow != nil {
				edgeWidth = nr / 2
			}
			edgeInPlace := ker.masked && (pc+kcb-1)*p.ldb+jc+ncb-edge+edgeWidth <= len(p.b)
			if packB {
				packBBlock(w.bp, p, ker, jc, ncb, pc, kcb)
			} else if edge != 0 && !edgeInPlace {
				packBPanel(w.bp, p, nr, jc+ncb-edge, edge, pc, kcb)
			}
			// Kernels whose own panel of A is not the one to prefetch next
			// prefetch the start of the next block: its first panel of A,
			// then each line of each panel of B read in place.
			jobs := w.jobs[:0]
			if next := pc + kcb; prefetchA && next < p.k {
				if directA && p.m >= mr {
					if p.aTrans {
						jobs = append(jobs, prefetchJob{&p.a[next*p.lda], 1, p.lda, 1})
					} else {
						jobs = append(jobs, prefetchJob{&p.a[next], p.lda, 1, 1})
					}
				}
				for jr := 0; !packB && jr+nr <= ncb; jr += nr {
					for l := 0; l < nr; l += 16 {
						jobs = append(jobs, prefetchJob{&p.b[next*p.ldb+jc+jr+l], 0, p.ldb, 1})
					}
				}
			}
			w.jobs = jobs
			for ir := 0; ir < p.m; ir += mr {
				mrb := min(mr, p.m-ir)
				var (
					aPtr     *float32
					aRow, aK int
				)
				switch {
				case mrb == mr && directA && p.aTrans:
					aPtr, aRow, aK = &p.a[pc*p.lda+ir], 1, p.lda
				case mrb == mr && directA:
					aPtr, aRow, aK = &p.a[ir*p.lda+pc], p.lda, 1
				case mrb == mr && !p.aTrans && ker.packA != nil:
					ker.packA(&w.ap[0], &p.a[ir*p.lda+pc], p.lda, kcb, mr)
					aPtr, aRow, aK = &w.ap[0], 1, mr
				default:
					packAPanel(w.ap, p, mr, ir, mrb, pc, kcb)
					aPtr, aRow, aK = &w.ap[0], 1, mr
				}
				for jr := 0; jr < ncb; jr += nr {
					nrb := min(nr, ncb-jr)
					// The first kernel on this panel prefetches the next one
					// when it too is read in place; the others touch this one
					// again, or prefetch for the next block.
					pf := prefetchJob{aPtr, aRow, aK, 0}
					switch {
					case jr == 0 && prefetchA && directA && ir+2*mr <= p.m && p.aTrans:
						pf.ptr = &p.a[pc*p.lda+ir+mr]
					case jr == 0 && prefetchA && directA && ir+2*mr <= p.m:
						pf.ptr = &p.a[(ir+mr)*p.lda+pc]
					case len(jobs) > 0:
						pf, jobs = jobs[0], jobs[1:]
					}
					var (
						bPtr *float32
						bK   int
					)
					switch {
					case packB:
						bPtr, bK = &w.bp[jr*kcb], nr
					case nrb == nr || edgeInPlace:
						bPtr, bK = &p.b[pc*p.ldb+jc+jr], p.ldb
					default:
						bPtr, bK = &w.bp[0], nr
					}
					ci := ir*p.ldc + jc + jr
					fn, tnr := ker.fn, nr
					if nrb <= nr/2 && ker.narrow != nil {
						fn, tnr = ker.narrow, nr/2
					}
					if mrb == mr && (nrb == tnr || ker.masked) {
						hint := pf.hint
						if stream && nrb == nr && tnr == nr {
							hint |= 2
						}
						fn(kcb, aPtr, aRow, aK, bPtr, bK, &p.c[ci], p.ldc, p.alpha, beta, pf.ptr, pf.row, pf.k, hint, nrb)
						continue
					}
					fn(kcb, aPtr, aRow, aK, bPtr, bK, &w.tile[0], tnr, 1, 0, pf.ptr, pf.row, pf.k, pf.hint, tnr)
					mergeTile(w.tile, tnr, mrb, nrb, p.alpha, beta, p.c[ci:], p.ldc)
				}
			}
		}
	}
}

// mergeTile sets the mrb×nrb corner of C to alpha·T + beta·C, where T is a
// tile with row stride nr; C is not read when beta is 0.
func mergeTile(t []float32, nr, mrb, nrb int, alpha, beta float32, c []float32, ldc int) {
	for i := range mrb {
		ti := t[i*nr : i*nr+nrb]
		ci := c[i*ldc : i*ldc+nrb]
		if beta == 0 {
			for j, v := range ti {
				ci[j] = alpha * v
			}
			continue
		}
		for j, v := range ti {
			ci[j] = alpha*v + beta*ci[j]
		}
	}
}
