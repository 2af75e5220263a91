package search

import (
	"fmt"
	"testing"

	"github.com/gahpo/gahpo"
)

// TestBudgetEpochsStopsEveryBreeding: --budget-epochs stops breeding once
// N epoch-trainings are spent or under way, in every breeding: no genome
// is bred when those before it already spent or hold the budget (a
// generational halving search bred the rest of its generation past it).
func TestBudgetEpochsStopsEveryBreeding(t *testing.T) {
	for _, tt := range []struct {
		breeding string
		budget   int
	}{
		{gahpo.BreedingSteadyState, 14}, {gahpo.BreedingRandom, 14},
		{gahpo.BreedingGenerational, 14}, {gahpo.BreedingGenerational, 20}, {gahpo.BreedingGenerational, 30},
	} {
		t.Run(fmt.Sprintf("%s/budget %d", tt.breeding, tt.budget), func(t *testing.T) {
			rc := halving(runConfig(6, 10), tt.breeding)
			rc.BudgetEpochs, rc.InFlight = tt.budget, 6
			m, _ := testMachine(t, rc)
			queue := m.Ready().Publish
			for n := 0; len(queue) > 0 && n < 10000; n++ {
				task := queue[0]
				queue = queue[1:]
				bred := len(m.Records())
				if err := m.Result(answer(task), t0); err != nil {
					t.Fatal(err)
				}
				queue = append(queue, m.Ready().Publish...)
				after := m.Records()
				for id := bred + 1; id <= len(after); id++ {
					if spent := EpochsSpent(m.rungs, after[:id-1]); spent >= rc.BudgetEpochs {
						t.Errorf("genome %d bred with %d epoch-trainings spent or under way, budget %d", id, spent, rc.BudgetEpochs)
					}
				}
			}
			if m.Run().StoppedBy != gahpo.StopBudgetEpochs {
				t.Errorf("stopped by %q, want %q", m.Run().StoppedBy, gahpo.StopBudgetEpochs)
			}
		})
	}
}
