package ga

import (
	"math"
	"math/rand/v2"
)

// PerturbFactors are the factors of PBT's explore step (Jaderberg et al.
// 2017, as Ray Tune's PopulationBasedTraining does it): each gene is
// multiplied by one of them, with even odds.
var PerturbFactors = [2]float64{0.8, 1.2}

// Perturb returns a perturbed copy of genes, PBT's explore step: each gene,
// with probability resample, is drawn as Random draws it (Ray Tune's
// resample_probability, 0.25 by default there); otherwise a float or int
// gene is multiplied by 0.8 or 1.2 (an int gene that the factor leaves
// unchanged moves by one in the factor's direction) and a choice moves to
// a neighbouring value. The result is clamped to the bounds and canonical;
// it may equal genes (a gene at its bound, a resample that draws the same
// value). Genes are assumed to pass Check.
func (s *Space) Perturb(r *rand.Rand, genes []float64, resample float64) []float64 {
	s.mustLen(genes)
	random := s.Random(r)
	out := make([]float64, len(genes))
	for i, p := range s.Params {
		x := genes[i]
		redraw := r.Float64() < resample
		up := r.IntN(2) == 1
		f := PerturbFactors[0]
		if up {
			f = PerturbFactors[1]
		}
		step := -1.0
		if up {
			step = 1
		}
		switch {
		case redraw:
			x = random[i]
		case p.Kind == Choice:
			x += step
			if x < p.Min || x > p.Max {
				x -= 2 * step
			}
		case p.Kind == Int:
			y := math.Round(x * f)
			if y == x {
				y = x + step
			}
			x = y
		default:
			x *= f
		}
		out[i] = p.canonical(p.clamp(x))
	}
	return out
}
