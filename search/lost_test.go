package search

import (
	"fmt"
	"math"
	"reflect"
	"testing"

	"github.com/gahpo/gahpo"
)

// TestLostCheckpointsTrainFromScratch loses every checkpoint halfway
// through a run (its NATS server's store deleted, the run resumed on a new
// one): the tasks that would go on from them train from scratch, under
// population based training replaying their schedules, and the run ends
// as the uninterrupted run did, record for record (the synthetic trainings
// give from scratch what they give from a checkpoint, as real ones do).
func TestLostCheckpointsTrainFromScratch(t *testing.T) {
	steady := halving(runConfig(9, 3), gahpo.BreedingSteadyState)
	steady.InFlight = 3
	for _, tc := range []struct {
		name string
		rc   gahpo.RunConfig
	}{
		{"halving", steady},
		{"halving generational", halving(runConfig(9, 3), gahpo.BreedingGenerational)},
		{"pbt", pbt(runConfig(8, 1))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, cfg := testMachine(t, tc.rc)
			want := drive(t, m, cfg, 0)

			m, _ = testMachine(t, tc.rc)
			var scratch, replays int
			s := &sim{stored: map[int]gahpo.GenomeRecord{}, created: map[string]bool{}, failAbove: math.Inf(1), loseAt: want.results / 2}
			s.seen = func(task gahpo.Task) {
				if s.lost != nil && task.Rung > 0 && task.Checkpoint == nil {
					scratch++
					if len(task.Schedule) > 0 {
						replays++
						if task.FromEpochs != 0 || task.FromParams != nil || task.Schedule[0].Epoch != 1 {
							t.Errorf("genome %d replays %+v from epoch %d with FromParams %v", task.GenomeID, task.Schedule, task.FromEpochs, task.FromParams)
						}
						// Each step with the seed its genome trained it
						// with, the last the genome's own.
						r := s.stored[task.GenomeID]
						for i, st := range task.Schedule {
							if g := s.stored[r.Schedule[i].Genome]; st.Seed != g.Seed || st.Seed == 0 {
								t.Errorf("genome %d replays step %d on seed %d; genome %d trained it with %d", task.GenomeID, i+1, st.Seed, g.ID, g.Seed)
							}
						}
						if last := task.Schedule[len(task.Schedule)-1]; last.Seed != r.Seed || task.Seed != r.Seed {
							t.Errorf("genome %d: last step's seed %d, task's %d; its own %d", task.GenomeID, last.Seed, task.Seed, r.Seed)
						}
					}
				}
			}
			got := driveSim(t, s, m, cfg, 0)
			if len(got.lost) == 0 || scratch == 0 {
				t.Fatalf("%d checkpoints lost, %d tasks trained from scratch: the test lost nothing", len(got.lost), scratch)
			}
			if tc.rc.PBT() && replays == 0 {
				t.Error("no schedule was replayed")
			}
			t.Logf("%d checkpoints lost after %d of %d results; %d tasks trained from scratch, %d of them schedules", len(got.lost), got.loseAt, want.results, scratch, replays)
			if got.results != want.results { // every result counted once
				t.Errorf("%d results, the uninterrupted run %d", got.results, want.results)
			}
			g, w := got.records(), want.records()
			if len(g) != len(w) {
				t.Fatalf("%d genomes, the uninterrupted run %d", len(g), len(w))
			}
			for i := range g {
				g[i].Issued, w[i].Issued = 0, 0 // a resume issues its outstanding tasks again
				if !reflect.DeepEqual(g[i], w[i]) {
					t.Fatalf("genome %d differs from the uninterrupted run's:\n got %+v\nwant %+v", i+1, g[i], w[i])
				}
			}
			if got.run.Best != want.run.Best || fmt.Sprint(got.final) != fmt.Sprint(want.final) { // NaN != NaN
				t.Errorf("best %d, final %+v; the uninterrupted run: %d, %+v", got.run.Best, got.final, want.run.Best, want.final)
			}
		})
	}
}
