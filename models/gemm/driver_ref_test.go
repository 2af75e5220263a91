package gemm

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"gonum.org/v1/gonum/blas"
)

// gemmRef is workspace.gemm as it was before it was split into named
// steps (commit 0521fe2), kept to check that the split computes the same C
// bit for bit and to benchmark the two side by side (BenchmarkDriver).
func (w *workspace) gemmRef(ker *microKernel, p *problem) {
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

// refProblem builds the problem Sgemm would hand run for tc, with fresh
// operands; c is returned twice, for two drivers to write.
func refProblem(tc gemmCase, seed uint64) (p problem, c2 []float32) {
	rng := rand.New(rand.NewPCG(seed, 2))
	ar, ac := tc.m, tc.k
	if tc.tA != blas.NoTrans {
		ar, ac = ac, ar
	}
	br, bc := tc.k, tc.n
	if tc.tB != blas.NoTrans {
		br, bc = bc, br
	}
	a, lda := matrix(rng, ar, ac, tc.pad, 0)
	b, ldb := matrix(rng, br, bc, tc.pad, 0)
	c, ldc := matrix(rng, tc.m, tc.n, tc.pad, 0)
	p = problem{
		aTrans: tc.tA != blas.NoTrans, bTrans: tc.tB != blas.NoTrans,
		m: tc.m, n: tc.n, k: tc.k,
		alpha: tc.alpha, a: a, lda: lda,
		b: b, ldb: ldb,
		beta: tc.beta, c: c, ldc: ldc,
		large: tc.beta == 0 && 4*float64(tc.m)*float64(tc.n) > float64(streamBytes),
	}
	return p, slices.Clone(c)
}

// driverCases are the shapes of the Sgemm tests plus ones that take the
// driver's other paths: B rows 4 KiB apart (B packed), A rows 1 KiB apart
// (A packed), a C streamed around the caches, several k- and n-blocks.
func driverCases() []gemmCase {
	cs := shapeCases()
	for _, tA := range []blas.Transpose{blas.NoTrans, blas.Trans} {
		for _, tB := range []blas.Transpose{blas.NoTrans, blas.Trans} {
			for _, s := range [][3]int{{40, 1024, 256}, {100, 1000, 700}, {33, 2100, 650}} {
				cs = append(cs, gemmCase{name: fmt.Sprintf("%dx%dx%d/%c%c", s[0], s[1], s[2], tA, tB), tA: tA, tB: tB, m: s[0], n: s[1], k: s[2], alpha: 1.5, beta: 0.5})
			}
		}
	}
	return append(cs, gemmCase{name: "stream 2048x2048x64", tA: blas.NoTrans, tB: blas.NoTrans, m: 2048, n: 2048, k: 64, alpha: 1})
}

// TestDriverMatchesReference checks that workspace.gemm, split into named
// steps, computes the same C bit for bit as the function it replaced, with
// every kernel and tile height of this CPU, and the prefetch on and off.
func TestDriverMatchesReference(t *testing.T) {
	fams := availableKernels()
	if len(fams) == 0 {
		t.Skip("no assembly kernels on this CPU or build: Sgemm is gonum's")
	}
	defer func(saved bool) { prefetchA = saved }(prefetchA)
	for _, fam := range fams {
		for _, ker := range fam.variants {
			for _, pf := range []bool{true, false} {
				prefetchA = pf
				for i, tc := range driverCases() {
					if tc.m == 0 || tc.n == 0 || tc.k == 0 || tc.alpha == 0 {
						continue // Sgemm never hands these to the driver
					}
					p, c2 := refProblem(tc, uint64(i))
					q := p
					q.c = c2
					w, wRef := new(workspace), new(workspace)
					wRef.gemmRef(ker, &p)
					w.gemm(ker, &q)
					if !slices.Equal(p.c, q.c) {
						t.Errorf("%s %dx%d, prefetch %v, %s: C differs from the reference driver's", fam.name, ker.mr, ker.nr, pf, tc.name)
					}
				}
			}
		}
	}
}

// BenchmarkDriver times workspace.gemm against the reference (gemmRef) on
// the benchmark products, on one goroutine with the default kernel,
// alternating the two within each iteration so that a shared machine's
// load falls on both alike. It reports each one's best GFLOP/s and the
// ratios new/ref of the best times (below 1: the new is faster) and of the
// total times (which a busy machine's bursts disturb far more):
//
//	go test -run '^$' -bench Driver -benchtime 20x ./models/gemm/
func BenchmarkDriver(b *testing.B) {
	fams := availableKernels()
	if len(fams) == 0 {
		b.Skip("no assembly kernels on this CPU or build")
	}
	for _, tc := range benchCases() {
		b.Run(tc.name, func(b *testing.B) {
			ker := fams[0].pick(tc.m)
			p, c2 := refProblem(tc, 1)
			q := p
			q.c = c2
			w, wRef := new(workspace), new(workspace)
			w.gemm(ker, &q) // warm both up
			wRef.gemmRef(ker, &p)
			var tNew, tRef time.Duration
			bestNew, bestRef := time.Hour, time.Hour
			i := 0
			for b.Loop() {
				for j := range 2 {
					st := time.Now()
					if (i+j)%2 == 0 {
						w.gemm(ker, &q)
						d := time.Since(st)
						tNew, bestNew = tNew+d, min(bestNew, d)
					} else {
						wRef.gemmRef(ker, &p)
						d := time.Since(st)
						tRef, bestRef = tRef+d, min(bestRef, d)
					}
				}
				i++
			}
			flops := 2 * float64(tc.m) * float64(tc.n) * float64(tc.k)
			b.ReportMetric(flops/bestNew.Seconds()/1e9, "GFLOP/s-new")
			b.ReportMetric(flops/bestRef.Seconds()/1e9, "GFLOP/s-ref")
			b.ReportMetric(bestNew.Seconds()/bestRef.Seconds(), "new/ref-best")
			b.ReportMetric(tNew.Seconds()/tRef.Seconds(), "new/ref-total")
		})
	}
}
