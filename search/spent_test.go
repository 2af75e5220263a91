package search

import (
	"testing"

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
