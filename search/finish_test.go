package search

import (
	"math"
	"testing"

	"github.com/gahpo/gahpo"
)

// TestTopRungFailuresPromoteFromBelow: the genomes promoted to the top rung
// fail there (a high learning rate that diverges late). The best genome
// of the highest rung below is promoted until one reaches the top, from
// scratch, since its checkpoint was dropped once its rank could no longer
// promote it; the run's result is a top-rung genome with its weights, not
// a lower rung's with none.
func TestTopRungFailuresPromoteFromBelow(t *testing.T) {
	for _, breeding := range []string{gahpo.BreedingGenerational, gahpo.BreedingSteadyState} {
		t.Run(breeding, func(t *testing.T) {
			rc := halving(runConfig(9, 1), breeding)
			rc.InFlight = 3
			m, cfg := testMachine(t, rc)
			s := &sim{stored: map[int]gahpo.GenomeRecord{}, created: map[string]bool{}, failAbove: math.Inf(1)}
			failed := 0
			s.edit = func(r *gahpo.Result) {
				if r.Rung == 2 && failed < 2 {
					failed++
					r.Failure, r.Fitness = "diverged", gahpo.Float(math.NaN())
				}
			}
			var scratch []int // genomes sent to a rung above 0 from scratch
			s.seen = func(tk gahpo.Task) {
				if tk.Rung > 0 && tk.FromEpochs > 0 && tk.Checkpoint == nil {
					t.Errorf("genome %d goes on to rung %d from epoch %d without a checkpoint", tk.GenomeID, tk.Rung, tk.FromEpochs)
				}
				if tk.Rung > 0 && tk.FromEpochs == 0 {
					scratch = append(scratch, tk.GenomeID)
				}
			}
			driveSim(t, s, m, cfg, 0)
			if failed != 2 {
				t.Fatalf("%d top-rung trainings failed, want 2", failed)
			}
			if s.run.Best == 0 {
				t.Fatal("the run has no result")
			}
			best := s.records()[s.run.Best-1]
			if best.Rung != 2 || best.Status != gahpo.GenomeDone || s.weights == nil || len(s.final.Epochs) != rc.MaxEpochs {
				t.Errorf("the run's result is genome %d at rung %d (%s), %d final epochs, weights %v; want a top-rung genome trained to %d epochs with its weights",
					best.ID, best.Rung, best.Status, len(s.final.Epochs), s.weights, rc.MaxEpochs)
			}
			if len(scratch) == 0 {
				t.Error("no promotion from scratch: the test no longer reaches the case it is for")
			}
		})
	}
}

// TestRandomFailuresEndAtTopRung: halving runs of many shapes, trainings
// failing at random at every rung (more at the higher ones). No task goes
// on from a checkpoint it lacks, and every run that has a result has it
// from the top rung.
func TestRandomFailuresEndAtTopRung(t *testing.T) {
	for seed := uint64(1); seed <= 300; seed++ {
		for _, breeding := range []string{gahpo.BreedingGenerational, gahpo.BreedingSteadyState} {
			rc := halving(runConfig(int(4+seed%9), int(1+seed%4)), breeding)
			rc.InFlight = int(1 + seed%5)
			rc.GA.Seed = seed
			m, cfg := testMachine(t, rc)
			s := &sim{stored: map[int]gahpo.GenomeRecord{}, created: map[string]bool{}, failAbove: math.Inf(1)}
			h := seed * 0x9e3779b97f4a7c15
			s.edit = func(r *gahpo.Result) {
				h ^= h << 13
				h ^= h >> 7
				h ^= h << 17
				if h%100 < uint64(10+20*r.Rung) {
					r.Failure, r.Fitness = "diverged", gahpo.Float(math.NaN())
				}
			}
			s.seen = func(tk gahpo.Task) {
				if tk.Rung > 0 && tk.FromEpochs > 0 && tk.Checkpoint == nil {
					t.Fatalf("seed %d %s: genome %d goes on to rung %d without a checkpoint", seed, breeding, tk.GenomeID, tk.Rung)
				}
			}
			driveSim(t, s, m, cfg, 0)
			if b := s.run.Best; b != 0 {
				if r := s.records()[b-1]; r.Rung != len(rc.RungEpochs())-1 {
					t.Fatalf("seed %d %s: the run's result is genome %d at rung %d, below the top", seed, breeding, b, r.Rung)
				}
			}
		}
	}
}
