package report

import (
	"math"
	"slices"

	"github.com/gahpo/gahpo"
	"github.com/gahpo/gahpo/search"
)

// GenStats summarises one generation or, after population based
// training, one rung. Generation counts from 1, as every table and figure
// shown to users does; a rung (Rung) counts from 0, as in the JSON of
// genomes and queries.
type GenStats struct {
	Generation int `json:"generation"`
	// Epochs, when above 0, makes the row a population based training's
	// rung (Generation is the rung plus 1, Rung the rung): its genomes
	// trained that many epochs, and Best's fitness is its result at the
	// rung.
	Epochs    int                `json:"epochs,omitempty"`
	Genomes   int                `json:"genomes"`   // bred
	Evaluated int                `json:"evaluated"` // with a result (done, failed or duplicate)
	Failed    int                `json:"failed"`
	Best      gahpo.GenomeRecord `json:"best"`
	Median    gahpo.Float        `json:"median"` // of the finite fitnesses; NaN when none
	Mean      gahpo.Float        `json:"mean"`   // of the finite fitnesses; NaN when none
}

// RunStats is the table of "best genome per generation" of a run: a row
// per generation, or per rung after population based training, whose
// genomes train on together and are judged rung by rung (search.RungBest,
// the rows of gahpo query best).
func RunStats(run gahpo.Run, genomes []gahpo.GenomeRecord) []GenStats {
	if !run.Config.PBT() {
		return GenerationStats(genomes)
	}
	// RungBest reads records by id; a live snapshot may lack some (it is
	// read generation by generation, and a population based genome's
	// generation is its source's rung): a missing one is a record with no
	// result.
	byID := make([]gahpo.GenomeRecord, 0, len(genomes))
	for _, g := range genomes {
		if g.ID < 1 {
			continue
		}
		for len(byID) < g.ID {
			byID = append(byID, gahpo.GenomeRecord{ID: len(byID) + 1})
		}
		byID[g.ID-1] = g
	}
	var out []GenStats
	for _, e := range search.RungBest(run.Config, byID) {
		best := byID[e.GenomeID-1]
		best.Fitness, best.Accuracy = e.Fitness, e.Accuracy // at the rung, not its last
		out = append(out, GenStats{Generation: e.Rung + 1, Epochs: e.Epochs, Genomes: e.RungResults, Evaluated: e.RungResults,
			Failed: e.RungFailed, Best: best, Median: e.RungMedian, Mean: e.RungMean})
	}
	return out
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

// Rung is the rung of a population based training's row (Epochs above
// 0), from 0 as in the JSON of genomes and queries and in every table.
func (s GenStats) Rung() int { return s.Generation - 1 }

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
