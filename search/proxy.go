package search

import (
	"math"
	"slices"

	"github.com/gahpo/gahpo"
)

// Spearman returns the Spearman rank correlation of x and y (average ranks
// for ties), NaN for fewer than two pairs, a constant side or a NaN among
// them (which has no rank).
func Spearman(x, y []float64) float64 {
	n := len(x)
	if n < 2 || len(y) != n || slices.ContainsFunc(x, math.IsNaN) || slices.ContainsFunc(y, math.IsNaN) {
		return math.NaN()
	}
	rx, ry := ranks(x), ranks(y)
	var mx, my float64
	for i := range n {
		mx += rx[i]
		my += ry[i]
	}
	mx /= float64(n)
	my /= float64(n)
	var sxy, sxx, syy float64
	for i := range n {
		dx, dy := rx[i]-mx, ry[i]-my
		sxy += dx * dy
		sxx += dx * dx
		syy += dy * dy
	}
	if sxx == 0 || syy == 0 {
		return math.NaN()
	}
	return sxy / math.Sqrt(sxx*syy)
}

// ranks returns the 1-based ranks of v, ties sharing their average rank.
func ranks(v []float64) []float64 {
	idx := make([]int, len(v))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int {
		switch {
		case v[a] < v[b]:
			return -1
		case v[a] > v[b]:
			return 1
		}
		return a - b
	})
	out := make([]float64, len(v))
	for i := 0; i < len(idx); {
		j := i
		for j+1 < len(idx) && v[idx[j+1]] == v[idx[i]] {
			j++
		}
		r := float64(i+j)/2 + 1
		for k := i; k <= j; k++ {
			out[idx[k]] = r
		}
		i = j + 1
	}
	return out
}

// LowProxy is the correlation under which a rung is reported as a poor
// proxy of the top rung (with at least MinProxyGenomes pairs).
const (
	LowProxy        = 0.5
	MinProxyGenomes = 5
)

// proxy computes, for each rung below the top, the rank correlation of the
// fitness there with the fitness at the top rung, over the genomes with a
// finite fitness at both (successive halving's: no rung is inherited, so
// the genomes at the top rung are its order).
func (m *Machine) proxy() []gahpo.RungCorrelation {
	top := len(m.rungs) - 1
	ids := slices.Sorted(slices.Values(m.rungOrder(top))) // in id order, as the records
	var out []gahpo.RungCorrelation
	for k := range top {
		var x, y []float64
		for _, id := range ids {
			r := m.recs[id-1]
			a, b := float64(r.RungFitness[k]), float64(r.RungFitness[top])
			if finite(a) && finite(b) {
				x, y = append(x, a), append(y, b)
			}
		}
		if len(x) >= 2 {
			out = append(out, gahpo.RungCorrelation{Rung: k, Epochs: m.rungs[k], Genomes: len(x), Spearman: gahpo.Float(Spearman(x, y))})
		}
	}
	return out
}

func (m *Machine) updateProxy() {
	p := m.proxy()
	same := func(a, b gahpo.RungCorrelation) bool {
		return a.Rung == b.Rung && a.Epochs == b.Epochs && a.Genomes == b.Genomes &&
			(a.Spearman == b.Spearman || math.IsNaN(float64(a.Spearman)) && math.IsNaN(float64(b.Spearman)))
	}
	if !slices.EqualFunc(p, m.run.Proxy, same) {
		m.run.Proxy = p
		m.touchRun()
	}
}
