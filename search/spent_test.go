package search

import (
	"fmt"
	"math"
	"testing"
	"time"

	gahpo "github.com/gahpo/gahpo"
)

func TestEpochsSpent(t *testing.T) {
	halving := []int{1, 3, 9, 14}
	pbt := []int{1, 2, 3, 4}
	fit := func(n int) []gahpo.Float { return make([]gahpo.Float, n) }
	reps := func(n int) []gahpo.Replicate { return make([]gahpo.Replicate, n) }
	tests := []struct {
		name  string
		rungs []int
		recs  []gahpo.GenomeRecord
		want  int
	}{
		{"nothing", halving, nil, 0},
		{"one-epoch GA: one epoch each, a failure too", []int{1}, []gahpo.GenomeRecord{
			{Status: gahpo.GenomeDone, RungFitness: fit(1)},
			{Status: gahpo.GenomeFailed, RungFitness: fit(1)},
			{Status: gahpo.GenomeDone, RungFitness: fit(1)},
		}, 3},
		{"a copy costs nothing", []int{1}, []gahpo.GenomeRecord{
			{Status: gahpo.GenomeDone, RungFitness: fit(1)},
			{Status: gahpo.GenomeDuplicate, DuplicateOf: 1, RungFitness: fit(1)},
		}, 1},
		{"halving: the last rung reached counts, not their sum", halving, []gahpo.GenomeRecord{
			{Status: gahpo.GenomeDone, RungFitness: fit(1)},
			{Status: gahpo.GenomeDone, RungFitness: fit(2)},
			{Status: gahpo.GenomeDone, RungFitness: fit(4)},
		}, 1 + 3 + 14},
		{"under way: queued costs the first rung, promoted the next", halving, []gahpo.GenomeRecord{
			{Status: gahpo.GenomeQueued},
			{Status: gahpo.GenomePromoted, Rung: 1, RungFitness: fit(2)},
		}, 1 + 9},
		{"a failure without a result costs nothing", halving, []gahpo.GenomeRecord{
			{Status: gahpo.GenomeFailed},
		}, 0},
		{"confirmation trainings cost the top rung each, queued ones too", halving, []gahpo.GenomeRecord{
			{Status: gahpo.GenomeDone, RungFitness: fit(4), Replicates: reps(2)},
		}, 14 + 2*14},
		{"PBT: the epochs of an exploited checkpoint are not paid again", pbt, []gahpo.GenomeRecord{
			{Status: gahpo.GenomeDone, RungFitness: fit(4)},
			{Status: gahpo.GenomeDone, RungFitness: fit(4), Inherited: 2},
			{Status: gahpo.GenomePromoted, Rung: 2, RungFitness: fit(3), Inherited: 2},
			{Status: gahpo.GenomeQueued, Inherited: 3}, // not started: costs its first rung only
		}, 4 + (4 - 2) + (4 - 2) + 1},
		{"a record beyond the run's rungs is clamped, not a panic", []int{1, 3}, []gahpo.GenomeRecord{
			{Status: gahpo.GenomePromoted, Rung: 5, RungFitness: fit(6)},
			{Status: gahpo.GenomeDone, RungFitness: fit(7), Inherited: 9},
		}, 3}, // promoted beyond: the top rung, 3; inheriting beyond: 3 - 3
		{"epochs trained again from scratch cost again", halving, []gahpo.GenomeRecord{
			{Status: gahpo.GenomeDone, RungFitness: fit(3), Retrained: 3},      // its 3-epoch checkpoint lost: 9 from scratch
			{Status: gahpo.GenomeDone, RungFitness: fit(4), Retrained: 3 + 14}, // and its lost weights trained again
			{Status: gahpo.GenomeDuplicate, DuplicateOf: 1, RungFitness: fit(3)},
		}, (9 + 3) + (14 + 3 + 14)},
		{"no rungs", nil, []gahpo.GenomeRecord{{Status: gahpo.GenomeQueued}}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := EpochsSpent(tt.rungs, tt.recs); got != tt.want {
				t.Errorf("EpochsSpent = %d, want %d", got, tt.want)
			}
		})
	}
}

// TestRunRecordsWhyItStopped: every run records in its run record why
// breeding stopped and the epoch-trainings it spent (by EpochsSpent, over
// its stored genome records, confirmation trainings included), a machine
// restored on the way the same.
func TestRunRecordsWhyItStopped(t *testing.T) {
	pbt := runConfig(4, 1)
	pbt.Fidelity, pbt.MinEpochs, pbt.MaxEpochs = gahpo.FidelityPBT, 1, 3
	tests := []struct {
		name string
		rc   func() gahpo.RunConfig
		want string
	}{
		{"one-epoch generational: its generations", func() gahpo.RunConfig { return runConfig(4, 3) }, gahpo.StopGenerations},
		{"halving: its generations", func() gahpo.RunConfig { return halving(runConfig(6, 2), gahpo.BreedingSteadyState) }, gahpo.StopGenerations},
		{"halving: the epoch budget", func() gahpo.RunConfig {
			rc := halving(runConfig(6, 10), gahpo.BreedingRandom)
			rc.BudgetEpochs, rc.InFlight = 40, 2
			return rc
		}, gahpo.StopBudgetEpochs},
		{"halving: the time budget", func() gahpo.RunConfig {
			rc := halving(runConfig(6, 10), gahpo.BreedingSteadyState)
			rc.TimeBudget, rc.InFlight = 15*time.Second, 2
			return rc
		}, gahpo.StopTimeBudget},
		{"halving, confirmed: its generations, the replicates spent", func() gahpo.RunConfig {
			rc := halving(runConfig(6, 2), gahpo.BreedingSteadyState)
			rc.ConfirmSeeds, rc.ConfirmTop = 3, 2
			return rc
		}, gahpo.StopGenerations},
		{"population based: its max epochs", func() gahpo.RunConfig { return pbt }, gahpo.StopMaxEpochs},
	}
	for _, tt := range tests {
		for _, restoreEvery := range []int{0, 5} {
			t.Run(fmt.Sprintf("%s/restore every %d", tt.name, restoreEvery), func(t *testing.T) {
				rc := tt.rc()
				m, cfg := testMachine(t, rc)
				s := drive(t, m, cfg, restoreEvery)
				recs := s.records()
				if s.run.StoppedBy != tt.want {
					t.Errorf("stopped by %q, want %q", s.run.StoppedBy, tt.want)
				}
				want := EpochsSpent(rc.RungEpochs(), recs)
				if s.run.EpochsSpent != want || want == 0 {
					t.Errorf("run record: %d epochs spent, its genomes %d", s.run.EpochsSpent, want)
				}
				reps := 0
				for _, r := range recs {
					reps += len(r.Replicates)
				}
				if rc.ConfirmSeeds > 1 && reps == 0 {
					t.Error("no confirmation training to count")
				}
			})
		}
	}
}

// TestConfirmCounts: the genomes confirmed, and those that reached the top
// rung (not a failure, a copy or one still training there).
func TestConfirmCounts(t *testing.T) {
	rc := halving(runConfig(6, 2), gahpo.BreedingSteadyState) // rungs 1, 3, 9
	top := func(f float64) []gahpo.Float { return []gahpo.Float{1, 1, gahpo.Float(f)} }
	inf := math.Inf(1)
	tests := []struct {
		name               string
		recs               []gahpo.GenomeRecord
		confirmed, reached int
	}{
		{"none", nil, 0, 0},
		{"one reached, confirmed", []gahpo.GenomeRecord{
			{Status: gahpo.GenomeDone, RungFitness: top(0.1), Replicates: make([]gahpo.Replicate, 2)},
			{Status: gahpo.GenomeDone, RungFitness: []gahpo.Float{1, 1}},
			{Status: gahpo.GenomePromoted, Rung: 1, RungFitness: []gahpo.Float{1, 1}},
		}, 1, 1},
		{"a failure, a copy: not reached", []gahpo.GenomeRecord{
			{Status: gahpo.GenomeDone, RungFitness: top(0.1), Replicates: make([]gahpo.Replicate, 2)},
			{Status: gahpo.GenomeFailed, RungFitness: top(inf)},
			{Status: gahpo.GenomeDuplicate, DuplicateOf: 1, RungFitness: top(0.1)},
			{Status: gahpo.GenomeDone, RungFitness: top(0.2), Replicates: make([]gahpo.Replicate, 2)},
		}, 2, 2},
	}
	for _, tt := range tests {
		if c, r := ConfirmCounts(rc, tt.recs); c != tt.confirmed || r != tt.reached {
			t.Errorf("%s: %d confirmed, %d reached; want %d, %d", tt.name, c, r, tt.confirmed, tt.reached)
		}
	}
}
