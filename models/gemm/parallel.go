package gemm

import (
	"github.com/gahpo/gahpo/models/par"
)

// split is how one Sgemm is shared among goroutines.
type split int

const (
	splitNone split = iota // one goroutine
	splitM                 // each goroutine a band of rows of C
	splitN                 // each goroutine a band of columns of C
	splitK                 // each goroutine a range of k, summed at the end
)

// balance is the share of the goroutines' time spent working when tiles
// whole tiles are dealt to t goroutines.
func balance(tiles, t int) float64 {
	per := (tiles + t - 1) / t
	return float64(tiles) / float64(per*t)
}

// plan chooses how to share p among at most t goroutines and how many to
// use.
func plan(ker *microKernel, p *problem, t int) (split, int) {
	if t <= 1 || 2*float64(p.m)*float64(p.n)*float64(p.k) < parallelFlops {
		return splitNone, 1
	}
	tilesM := (p.m + ker.mr - 1) / ker.mr
	tilesN := (p.n + ker.nr - 1) / ker.nr
	bm, bn := balance(tilesM, t), balance(tilesN, t)
	// Bands of rows or columns when they share out evenly; otherwise a long
	// k is split, at the price of summing t-1 extra copies of C.
	switch {
	case bm >= 0.95 && tilesM >= t:
		return splitM, t
	case bn >= 0.95 && tilesN >= t:
		return splitN, t
	case p.k >= 128*t:
		return splitK, t
	case tilesM >= tilesN:
		return splitM, min(t, tilesM)
	default:
		return splitN, min(t, tilesN)
	}
}

// run computes p with the kernel ker on up to threads goroutines.
func run(ker *microKernel, threads int, p *problem) {
	how, t := plan(ker, p, threads)
	if how == splitNone {
		w := wsPool.Get()
		w.gemm(ker, p)
		wsPool.Put(w)
		return
	}
	sec := sections.Get()
	sec.ker = ker
	sec.parts, sec.subs = grow(sec.parts, t), grow(sec.subs, t)
	parts, subs := sec.parts, sec.subs
	for i := range t {
		switch how {
		case splitM:
			tiles := (p.m + ker.mr - 1) / ker.mr
			i0, i1 := i*tiles/t*ker.mr, min(p.m, (i+1)*tiles/t*ker.mr)
			subs[i] = p.sub(i0, i1, 0, p.n, 0, p.k)
		case splitN:
			tiles := (p.n + ker.nr - 1) / ker.nr
			j0, j1 := i*tiles/t*ker.nr, min(p.n, (i+1)*tiles/t*ker.nr)
			subs[i] = p.sub(0, p.m, j0, j1, 0, p.k)
		case splitK:
			subs[i] = p.sub(0, p.m, 0, p.n, i*p.k/t, (i+1)*p.k/t)
		}
		w := wsPool.Get()
		parts[i] = w
		if how == splitK && i > 0 {
			// Parts past the first sum into their own part of C.
			w.part = grow(w.part, p.m*p.n)
			subs[i].c, subs[i].ldc, subs[i].beta, subs[i].large = w.part, p.n, 0, false // summed at once: keep it cached
		}
	}
	// The caller and par's helpers claim the parts one at a time.
	par.For(t, t, sec.do)
	if how == splitK {
		for _, w := range parts[1:] {
			for i := range p.m {
				ci := p.c[i*p.ldc : i*p.ldc+p.n]
				for j, v := range w.part[i*p.n : i*p.n+p.n] {
					ci[j] += v
				}
			}
		}
	}
	for _, w := range parts {
		wsPool.Put(w)
	}
	clear(parts)
	clear(subs) // keep no caller's matrices reachable
	sec.ker = nil
	sections.Put(sec)
}

// section is the parts of one parallel product, kept in a pool with the
// function that computes one of them, so that a product allocates
// nothing (a closure over the parts would be a new object each time).
type section struct {
	ker   *microKernel
	parts []*workspace
	subs  []problem
	do    func(i int) // part, bound once
}

// sections holds the sections not in use.
var sections = par.NewPool(64, func() *section {
	s := &section{}
	s.do = s.part
	return s
})

// part computes part i of the section.
func (s *section) part(i int) { s.parts[i].gemm(s.ker, &s.subs[i]) }
