package ga

import (
	"math"
	"math/rand/v2"
)

// Random returns a genome drawn uniformly in each parameter's own scale:
// uniform integers for a linear int; a uniform index for a choice; log-uniform for a log float; a
// discretised log-uniform for a log int (each integer k weighted by
// log((k+0.5)/(k-0.5))); uniform in logit(p) for a logit float.
func (s *Space) Random(r *rand.Rand) []float64 {
	genes := make([]float64, len(s.Params))
	for i, p := range s.Params {
		switch {
		case p.Kind != Float && p.Scale == Linear: // int or choice index
			genes[i] = p.Min + float64(r.Int64N(int64(p.Max-p.Min)+1))
		case p.Kind == Int: // log scale, Min >= 1
			lo, hi := math.Log(p.Min-0.5), math.Log(p.Max+0.5)
			genes[i] = p.finish(lo + r.Float64()*(hi-lo))
		default:
			lo, hi := p.scaleBounds()
			genes[i] = p.finish(lo + r.Float64()*(hi-lo))
		}
	}
	return genes
}

// Mutate returns a copy of genes in which each gene, with probability
// MutationRate, receives a Gaussian step of standard deviation MutationSigma
// times the parameter's range in its own scale. A step that leaves the range
// is reflected at the bound it crossed (then clamped). Int genes are rounded;
// a mutated int gene whose step rounds to no change moves by one in the step's
// direction (away from a bound it would cross), so a mutation of an int is
// never lost. A mutated choice gene takes another of its values, uniformly.
// changed reports whether any gene differs from genes.
func (s *Space) Mutate(r *rand.Rand, genes []float64) (child []float64, changed bool) {
	s.mustLen(genes)
	child = append([]float64(nil), genes...)
	for i, p := range s.Params {
		if r.Float64() >= s.MutationRate {
			continue
		}
		if p.Kind == Choice {
			if n := len(p.Values); n > 1 {
				// Another value, uniformly: skip over the current one.
				k := float64(r.IntN(n - 1))
				if k >= genes[i] {
					k++
				}
				child[i], changed = k, true
			}
			continue
		}
		lo, hi := p.scaleBounds()
		step := r.NormFloat64() * s.MutationSigma * (hi - lo)
		x := genes[i]
		nx := p.back(mirror(p.toScale(x)+step, lo, hi), x)
		if p.Kind == Int && nx == x && step != 0 {
			d := 1.0
			if step < 0 {
				d = -1
			}
			switch {
			case x+d >= p.Min && x+d <= p.Max:
				nx = x + d
			case x-d >= p.Min && x-d <= p.Max:
				nx = x - d
			}
		}
		if nx != x {
			child[i] = nx
			changed = true
		}
	}
	return child, changed
}

// Crossover returns a child of a and b made by the space's CrossoverKind,
// gene by gene in each parameter's own scale, inside the bounds. BLX draws
// each gene uniformly in [lo-alpha*d, hi+alpha*d] where [lo, hi] is the
// parents' interval and d its length; SBX draws one of the two SBX children
// with distribution index eta; Uniform takes each gene from a or b with
// probability 1/2. Values outside the range are reflected, ints rounded. A
// choice gene is always taken from a or b with probability 1/2.
func (s *Space) Crossover(r *rand.Rand, a, b []float64) []float64 {
	s.mustLen(a)
	s.mustLen(b)
	child := make([]float64, len(a))
	for i, p := range s.Params {
		switch {
		case s.CrossoverKind == Uniform || p.Kind == Choice:
			if r.IntN(2) == 0 {
				child[i] = a[i]
			} else {
				child[i] = b[i]
			}
		case s.CrossoverKind == SBX:
			child[i] = p.sbx(r, a[i], b[i], s.SBXEta)
		default:
			child[i] = p.blx(r, a[i], b[i], s.BLXAlpha)
		}
	}
	return child
}

// CrossoverName returns the crossover kind's name ("blx", "sbx", "uniform").
func (s *Space) CrossoverName() string { return s.CrossoverKind.String() }

func (p Param) blx(r *rand.Rand, x, y, alpha float64) float64 {
	lo, hi := p.scaleBounds()
	tx, ty := p.toScale(x), p.toScale(y)
	a, b := min(tx, ty), max(tx, ty)
	d := b - a
	t := a - alpha*d + r.Float64()*(1+2*alpha)*d
	if t == ty {
		return y
	}
	return p.back(mirror(t, lo, hi), x)
}

// sbx is simulated binary crossover (Deb and Agrawal 1995) on one gene: the
// spread factor beta has density concentrated near 1 for a large eta; one of
// the two symmetric children is returned at random.
func (p Param) sbx(r *rand.Rand, x, y, eta float64) float64 {
	lo, hi := p.scaleBounds()
	tx, ty := p.toScale(x), p.toScale(y)
	u, pick := r.Float64(), r.IntN(2)
	var beta float64
	if u <= 0.5 {
		beta = math.Pow(2*u, 1/(eta+1))
	} else {
		beta = math.Pow(1/(2*(1-u)), 1/(eta+1))
	}
	mid, half := (tx+ty)/2, (ty-tx)/2
	t := mid - beta*half
	if pick == 1 {
		t = mid + beta*half
	}
	if math.IsInf(t, 0) || math.IsNaN(t) { // beta overflows only for u ~ 1
		t = tx
	}
	if t == ty {
		return y
	}
	return p.back(mirror(t, lo, hi), x)
}

// back maps t of the parameter's own scale to natural units like finish, but
// returns x itself when t is x's own-scale value, so that a step of zero does
// not change a gene through the rounding of log and exp.
func (p Param) back(t, x float64) float64 {
	if t == p.toScale(x) {
		return x
	}
	return p.finish(t)
}
