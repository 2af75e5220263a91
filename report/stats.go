package report

import (
	"math"
	"slices"

	"github.com/gahpo/gahpo"
)

// GenStats summarises one generation. Generation counts from 1, as every
// table and figure shown to users does.
type GenStats struct {
	Generation int                `json:"generation"`
	Genomes    int                `json:"genomes"`   // bred
	Evaluated  int                `json:"evaluated"` // with a result (done, failed or duplicate)
	Failed     int                `json:"failed"`
	Best       gahpo.GenomeRecord `json:"best"`
	Median     gahpo.Float        `json:"median"` // of the finite fitnesses; NaN when none
	Mean       gahpo.Float        `json:"mean"`   // of the finite fitnesses; NaN when none
}

// GenerationStats summarises every generation that has genomes, in order:
// the best genome, the median and the mean of the finite fitnesses (the
// median is the one to read when diverged genomes have huge ones).
func GenerationStats(genomes []gahpo.GenomeRecord) []GenStats {
	idx := map[int]int{}
	var out []GenStats
	vals := map[int][]float64{}
	for _, g := range genomes {
		i, ok := idx[g.Generation]
		if !ok {
			i = len(out)
			idx[g.Generation] = i
			out = append(out, GenStats{Generation: g.Generation + 1})
		}
		st := &out[i]
		st.Genomes++
		if !g.Evaluated() {
			continue
		}
		st.Evaluated++
		if failed(g) {
			st.Failed++
		} else {
			vals[g.Generation] = append(vals[g.Generation], float64(g.Fitness))
		}
		if st.Evaluated == 1 || gahpo.Better(g, st.Best) {
			st.Best = g
		}
	}
	for i := range out {
		v := vals[out[i].Generation-1]
		out[i].Median, out[i].Mean = gahpo.Float(median(v)), gahpo.Float(mean(v))
	}
	slices.SortFunc(out, func(a, b GenStats) int { return a.Generation - b.Generation })
	return out
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if n := len(s); n%2 == 1 {
		return s[n/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func mean(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	sum := 0.0
	for _, x := range v {
		sum += x
	}
	return sum / float64(len(v))
}
