package gemm

import (
	"unsafe"

	"github.com/gahpo/gahpo/models/par"
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
	// win, when its image is set, is op(A), read from that image (see
	// windows); a and lda are then unused.
	win windows
	// cwin, when its image is set, is C, added onto that image's windows
	// (see Conv3x3Back); c and ldc are then unused, and every tile of C
	// is a whole one in one row of a window.
	cwin windows
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

// wsPool holds the workspaces not in use: more than the goroutines that
// compute products at once.
var wsPool = par.NewPool(64, func() *workspace { return new(workspace) })

// grow returns s resized to n elements, reallocated when too small.
func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
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

// gemm computes p on the calling goroutine: for each kc×nc block of op(B)
// (n-blocks outside, k-blocks inside), it readies the block (loadB), plans
// the prefetches for the next one (prefetchNext), then for each micro-panel
// of op(A) (directPanelA or packA) runs the kernel over the block's panels
// (panelB).
func (w *workspace) gemm(ker *microKernel, p *problem) {
	mr, nr := ker.mr, ker.nr
	bl := w.block(ker, p)
	if bl.stream {
		defer sfence()
	}
	for jc := 0; jc < p.n; jc += bl.nc {
		ncb := min(bl.nc, p.n-jc)
		for pc := 0; pc < p.k; pc += bl.kc {
			kcb := min(bl.kc, p.k-pc)
			beta := p.beta
			if pc > 0 {
				beta = 1
			}
			edgeInPlace := w.loadB(ker, p, &bl, jc, ncb, pc, kcb)
			jobs := w.prefetchNext(ker, p, &bl, jc, ncb, pc+kcb)
			for ir := 0; ir < p.m; ir += mr {
				mrb := min(mr, p.m-ir)
				// Where A comes from: a full micro-panel in place when the
				// blocking says so, else packed.
				var a prefetchJob
				if mrb == mr && bl.directA && p.inPlaceA(ir, mr) {
					a = bl.directPanelA(p, ir, pc)
				} else {
					a = w.packA(ker, p, ir, mrb, pc, kcb)
				}
				for jr := 0; jr < ncb; jr += nr {
					nrb := min(nr, ncb-jr)
					// The first kernel on this panel of A prefetches the
					// next one when it too is read in place; the others
					// touch this one again, or prefetch for the next block.
					pf := a
					switch {
					case jr == 0 && prefetchA && bl.directA && ir+2*mr <= p.m && p.inPlaceA(ir+mr, mr):
						pf = bl.directPanelA(p, ir+mr, pc)
					case len(jobs) > 0:
						pf, jobs = jobs[0], jobs[1:]
					}
					bPtr, bK := w.panelB(ker, p, &bl, jc, jr, nrb, pc, kcb, edgeInPlace)
					// The kernel writes the tile straight into C when it
					// can (the call stays here, in the innermost loop, for
					// speed on small k), else through w.tile (edgeTile).
					ci := ir*p.ldc + jc + jr
					fn, tnr := ker.fn, nr
					if nrb <= nr/2 && ker.narrow != nil {
						fn, tnr = ker.narrow, nr/2
					}
					if mrb == mr && (nrb == tnr || ker.masked) {
						hint := pf.hint
						if bl.stream && nrb == nr && tnr == nr {
							hint |= 2
						}
						cPtr, ldc := p.tileC(ir, jc+jr)
						fn(kcb, a.ptr, a.row, a.k, bPtr, bK, cPtr, ldc, p.alpha, beta, pf.ptr, pf.row, pf.k, hint, nrb)
						continue
					}
					w.edgeTile(fn, tnr, p, a, bPtr, bK, pf, ci, mrb, nrb, kcb, beta)
				}
			}
		}
	}
}

// blocking is how one goroutine cuts its product and reads its operands,
// decided once per product.
type blocking struct {
	kc, nc int // sizes of the k-blocks and n-blocks
	// packB: op(B) is packed block by block; otherwise read in place, but
	// for a last, partial panel that a kernel could not read there.
	packB bool
	// directA: full micro-panels of op(A) are read in place.
	directA bool
	// stream: C is stored around the caches (see problem.streams).
	stream bool
}

// block chooses the blocking of p and sizes the packing buffers for it.
func (w *workspace) block(ker *microKernel, p *problem) blocking {
	mr, nr := ker.mr, ker.nr
	kc := blocks(p.k, blockK, 8)
	if p.win.x != nil {
		kc = p.win.run() // a k-block is one row of the window
	}
	bl := blocking{kc: kc, nc: blocks(p.n, max(nr, blockBFloats/kc/nr*nr), nr)}
	w.ap = grow(w.ap, kc*mr)
	w.tile = grow(w.tile, mr*nr)
	// op(B) is read in place unless transposed or, when many panels of A
	// share it, its rows are a multiple of 4 KiB apart (they would fight for
	// the same cache sets).
	bl.packB = p.bTrans || forcePackB || (p.m > 2*mr && p.ldb%1024 == 0)
	if bl.packB {
		w.bp = grow(w.bp, kc*((bl.nc+nr-1)/nr*nr))
	} else {
		w.bp = grow(w.bp, kc*nr)
	}
	// op(A) is read in place unless its mr rows are a multiple of 1 KiB
	// apart: they would share one L1 set, more than its ways.
	bl.directA = !forcePackA && (p.aTrans || p.lda%256 != 0 || p.win.x != nil)
	bl.stream = p.streams(ker, kc)
	return bl
}

// loadB readies the block of op(B) at columns [jc, jc+ncb), steps
// [pc, pc+kcb): it packs the whole block, or only its last, partial panel
// when a kernel cannot read that one in place, and reports whether it can
// (edgeInPlace).
func (w *workspace) loadB(ker *microKernel, p *problem, bl *blocking, jc, ncb, pc, kcb int) (edgeInPlace bool) {
	nr := ker.nr
	// The last, partial panel of B is read in place as well by a masked
	// kernel (the columns past n only reach lanes it does not store) unless
	// that would read past the end of b.
	edge := ncb % nr
	edgeWidth := nr
	if edge <= nr/2 && ker.narrow != nil {
		edgeWidth = nr / 2
	}
	edgeInPlace = ker.masked && (pc+kcb-1)*p.ldb+jc+ncb-edge+edgeWidth <= len(p.b)
	if bl.packB {
		packBBlock(w.bp, p, ker, jc, ncb, pc, kcb)
	} else if edge != 0 && !edgeInPlace {
		packBPanel(w.bp, p, nr, jc+ncb-edge, edge, pc, kcb)
	}
	return edgeInPlace
}

// panelB is where the kernel reads the panel of nrb columns at jc+jr of the
// block that loadB readied: packed, in place, or the packed last panel.
func (w *workspace) panelB(ker *microKernel, p *problem, bl *blocking, jc, jr, nrb, pc, kcb int, edgeInPlace bool) (*float32, int) {
	switch {
	case bl.packB:
		return &w.bp[jr*kcb], ker.nr
	case nrb == ker.nr || edgeInPlace:
		return &p.b[pc*p.ldb+jc+jr], p.ldb
	}
	return &w.bp[0], ker.nr
}

// prefetchNext plans what kernels prefetch for the k-block starting at step
// next (none when it is the last): the block's first panel of A, when read
// in place, then each line of each panel of B read in place. The kernels
// whose own panel of A is not the one to prefetch next take these jobs in
// turn.
func (w *workspace) prefetchNext(ker *microKernel, p *problem, bl *blocking, jc, ncb, next int) []prefetchJob {
	jobs := w.jobs[:0]
	if prefetchA && next < p.k {
		if bl.directA && p.m >= ker.mr && p.inPlaceA(0, ker.mr) {
			pf := bl.directPanelA(p, 0, next)
			pf.hint = 1
			jobs = append(jobs, pf)
		}
		for jr := 0; !bl.packB && jr+ker.nr <= ncb; jr += ker.nr {
			for l := 0; l < ker.nr; l += 16 {
				jobs = append(jobs, prefetchJob{&p.b[next*p.ldb+jc+jr+l], 0, p.ldb, 1})
			}
		}
	}
	w.jobs = jobs
	return jobs
}

// tileC is where the tile of C at row i, column j is, and C's row stride
// there: in C, or in the image of a windows C (see Conv3x3Back), whose
// tiles are all whole.
func (p *problem) tileC(i, j int) (*float32, int) {
	if v := &p.cwin; v.x != nil {
		return &v.x[v.at(i, j)], v.cin
	}
	return &p.c[i*p.ldc+j], p.ldc
}

// inPlaceA tells whether the mr rows of op(A) from row i can be read in
// place: always, but for a windows operand (see windows.inPlace).
func (p *problem) inPlaceA(i, mr int) bool { return p.win.x == nil || p.win.inPlace(i, mr) }

// directPanelA is the micro-panel of op(A) at row ir, step pc, read in place
// (hint 0: into L1).
func (bl *blocking) directPanelA(p *problem, ir, pc int) prefetchJob {
	if v := &p.win; v.x != nil {
		return prefetchJob{&v.x[v.at(ir, pc)], v.cin, 1, 0}
	}
	if p.aTrans {
		return prefetchJob{&p.a[pc*p.lda+ir], 1, p.lda, 0}
	}
	return prefetchJob{&p.a[ir*p.lda+pc], p.lda, 1, 0}
}

// packA packs the micro-panel of op(A) of mrb rows at ir, steps
// [pc, pc+kcb), into w.ap, by the kernel family's own packer when it has
// one, and returns it.
func (w *workspace) packA(ker *microKernel, p *problem, ir, mrb, pc, kcb int) prefetchJob {
	mr := ker.mr
	if p.win.x != nil {
		packWindows(w.ap, &p.win, mr, ir, mrb, pc, kcb)
	} else if mrb == mr && !p.aTrans && ker.packA != nil {
		ker.packA(&w.ap[0], &p.a[ir*p.lda+pc], p.lda, kcb, mr)
	} else {
		packAPanel(w.ap, p, mr, ir, mrb, pc, kcb)
	}
	return prefetchJob{&w.ap[0], 1, mr, 0}
}

// edgeTile computes a tile of C that the kernel fn (tnr columns wide)
// cannot write in place, mrb×nrb at offset ci: into w.tile, then merged
// into C.
func (w *workspace) edgeTile(fn kernelFunc, tnr int, p *problem, a prefetchJob, bPtr *float32, bK int, pf prefetchJob, ci, mrb, nrb, kcb int, beta float32) {
	fn(kcb, a.ptr, a.row, a.k, bPtr, bK, &w.tile[0], tnr, 1, 0, pf.ptr, pf.row, pf.k, pf.hint, tnr)
	mergeTile(w.tile, tnr, mrb, nrb, p.alpha, beta, p.c[ci:], p.ldc)
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
