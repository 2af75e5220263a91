package report_test

import (
	"fmt"
	"math"

	"github.com/gahpo/gahpo"
	"github.com/gahpo/gahpo/report"
)

// A generation's median is the fitness to read when a diverged genome has
// an enormous one; failed genomes count apart.
func ExampleGenerationStats() {
	fit := []float64{0.12, 0.10, 1.4e282, math.Inf(1), 0.11}
	var gs []gahpo.GenomeRecord
	for i, f := range fit {
		st := gahpo.GenomeDone
		if math.IsInf(f, 1) {
			st = gahpo.GenomeFailed
		}
		gs = append(gs, gahpo.GenomeRecord{ID: i + 1, Generation: 0, Status: st, Fitness: gahpo.Float(f)})
	}
	for _, s := range report.GenerationStats(gs) {
		fmt.Printf("generation %d: best genome %d (%.2f), median %.3f, mean %.3g, %d of %d failed\n",
			s.Generation, s.Best.ID, float64(s.Best.Fitness), float64(s.Median), float64(s.Mean), s.Failed, s.Evaluated)
	}
	// Output:
	// generation 1: best genome 2 (0.10), median 0.115, mean 3.5e+281, 1 of 5 failed
}
