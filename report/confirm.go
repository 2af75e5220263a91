package report

import (
	"math"
	"slices"

	"github.com/gahpo/gahpo"
)

// Confirmed is a genome confirmed on more seeds (gahpo.RunConfig.ConfirmSeeds):
// its own top-rung training first, then its replicates, and the mean fitness
// over them (NaN until every training is back, +Inf when one failed).
type Confirmed struct {
	Genome    gahpo.GenomeRecord
	Trainings []Training
	Mean      gahpo.Float
	Chosen    bool // the run's result
}

// Training is one training of a confirmed genome.
type Training struct {
	Seed     uint64
	Status   gahpo.GenomeStatus
	Fitness  gahpo.Float
	Accuracy float64
	Worker   string
}

// Back tells whether the training's result came back.
func (t Training) Back() bool { return t.Status != gahpo.GenomeQueued }

// Confirmations lists the run's confirmed genomes, the lowest mean first
// (those still training last, by their first training).
func Confirmations(run gahpo.Run, genomes []gahpo.GenomeRecord) []Confirmed {
	var out []Confirmed
	for _, g := range genomes {
		if len(g.Replicates) == 0 || len(g.RungFitness) == 0 {
			continue
		}
		c := Confirmed{Genome: g, Chosen: run.Best == g.ID && g.ConfirmedFitness != nil, Mean: gahpo.Float(math.NaN())}
		c.Trainings = append(c.Trainings, Training{Seed: g.Seed, Status: gahpo.GenomeDone, Fitness: g.RungFitness[len(g.RungFitness)-1], Accuracy: g.Accuracy, Worker: g.Worker})
		for _, r := range g.Replicates {
			c.Trainings = append(c.Trainings, Training{Seed: r.Seed, Status: r.Status, Fitness: r.Fitness, Accuracy: r.Accuracy, Worker: r.Worker})
		}
		if mean, _, all := g.TrainingsMean(); all {
			c.Mean = gahpo.Float(mean)
		}
		out = append(out, c)
	}
	slices.SortStableFunc(out, func(a, b Confirmed) int {
		am, bm := float64(a.Mean), float64(b.Mean)
		switch {
		case math.IsNaN(am) != math.IsNaN(bm):
			if math.IsNaN(am) {
				return 1
			}
			return -1
		case !math.IsNaN(am) && am != bm:
			if am < bm {
				return -1
			}
			return 1
		}
		if gahpo.Better(a.Genome, b.Genome) {
			return -1
		}
		if gahpo.Better(b.Genome, a.Genome) {
			return 1
		}
		return 0
	})
	return out
}
