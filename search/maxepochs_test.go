package search

import (
	"math"
	"testing"

	"github.com/gahpo/gahpo"
)

// TestTasksNameMaxEpochs: every fitness task of a halving or pbt run names
// the epochs its genome trains at the top rung, the same at each rung, so
// that a trainer's schedule keeps one length from a genome's first rung to
// its last (GAHPO_MAX_EPOCHS); a one-epoch run's tasks leave it unset, its
// trainings ending where they are asked to.
func TestTasksNameMaxEpochs(t *testing.T) {
	tests := []struct {
		name string
		rc   gahpo.RunConfig
		want int
	}{
		{"halving", halving(runConfig(9, 2), gahpo.BreedingGenerational), 0},
		{"halving, steady state", halving(runConfig(9, 2), gahpo.BreedingSteadyState), 0},
		{"pbt", pbt(runConfig(6, 1)), 0},
		{"one-epoch", runConfig(4, 2), -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := tt.rc.MaxEpochs
			if tt.want < 0 {
				want = 0
			}
			m, cfg := testMachine(t, tt.rc)
			s := &sim{stored: map[int]gahpo.GenomeRecord{}, created: map[string]bool{}, failAbove: math.Inf(1)}
			rungs := map[int]bool{}
			s.seen = func(tk gahpo.Task) {
				if tk.Kind != gahpo.KindFitness {
					return
				}
				rungs[tk.Rung] = true
				if tk.MaxEpochs != want {
					t.Errorf("genome %d's task at rung %d (epochs %d) names max epochs %d, want %d", tk.GenomeID, tk.Rung, tk.Epochs, tk.MaxEpochs, want)
				}
			}
			driveSim(t, s, m, cfg, 0)
			if tt.want == 0 && (len(rungs) < 2 || want < 2) {
				t.Errorf("tasks at rungs %v, max epochs %d: the test no longer reaches a promotion", rungs, want)
			}
		})
	}
}
