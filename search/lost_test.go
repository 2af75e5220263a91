package search

import (
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

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
			// The epochs spent are those trained: the lost checkpoints'
			// epochs twice.
			if got.run.EpochsSpent != got.trained || want.run.EpochsSpent != want.trained {
				t.Errorf("epochs spent %d, trained %d (the uninterrupted run: %d, %d)", got.run.EpochsSpent, got.trained, want.run.EpochsSpent, want.trained)
			}
			g, w := got.records(), want.records()
			if len(g) != len(w) {
				t.Fatalf("%d genomes, the uninterrupted run %d", len(g), len(w))
			}
			retrained := 0
			for i := range g {
				retrained += g[i].Retrained
				g[i].Issued, w[i].Issued = 0, 0 // a resume issues its outstanding tasks again
				g[i].Retrained = 0
				if !reflect.DeepEqual(g[i], w[i]) {
					t.Fatalf("genome %d differs from the uninterrupted run's:\n got %+v\nwant %+v", i+1, g[i], w[i])
				}
			}
			if retrained != got.trained-want.trained || retrained == 0 {
				t.Errorf("the records count %d epochs trained again, the trainings %d", retrained, got.trained-want.trained)
			}
			if got.run.Best != want.run.Best || fmt.Sprint(got.final) != fmt.Sprint(want.final) { // NaN != NaN
				t.Errorf("best %d, final %+v; the uninterrupted run: %d, %+v", got.run.Best, got.final, want.run.Best, want.final)
			}
		})
	}
}

// TestLostWeightsTrainedAgain loses the object store after the run's best
// genome reached the top rung, with its weights: the run does not end on
// figures alone, its best is trained again from scratch to the top rung
// (under population based training replaying its schedule), and that
// training, equal to the search's, is the final with its weights. The
// records stay the uninterrupted run's. When the training again fails, the
// run ends with the search's figures and says why there are no weights.
func TestLostWeightsTrainedAgain(t *testing.T) {
	steady := halving(runConfig(9, 3), gahpo.BreedingSteadyState)
	steady.InFlight = 3
	for _, tc := range []struct {
		name string
		rc   gahpo.RunConfig
		fail bool
	}{
		{"halving", steady, false},
		{"halving generational", halving(runConfig(9, 3), gahpo.BreedingGenerational), false},
		{"pbt", pbt(runConfig(8, 1)), false},
		{"halving, training again fails", steady, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			top := len(tc.rc.RungEpochs()) - 1
			m, cfg := testMachine(t, tc.rc)
			at := map[string]int{} // "genome/rung" → results before its answer
			var first *sim
			first = &sim{stored: map[int]gahpo.GenomeRecord{}, created: map[string]bool{}, failAbove: math.Inf(1),
				seen: func(task gahpo.Task) { at[fmt.Sprintf("%d/%d", task.GenomeID, task.Rung)] = first.results }}
			want := driveSim(t, first, m, cfg, 0)
			best := want.run.Best
			loseAt := at[fmt.Sprintf("%d/%d", best, top)] + 1
			if want.weights == nil || loseAt >= want.results {
				t.Fatalf("best genome %d's top rung was result %d of %d (weights %v): nothing to lose before the end", best, loseAt, want.results, want.weights)
			}

			m, _ = testMachine(t, tc.rc)
			var again []gahpo.Task
			s := &sim{stored: map[int]gahpo.GenomeRecord{}, created: map[string]bool{}, failAbove: math.Inf(1), loseAt: loseAt, loseWeights: true}
			s.seen = func(task gahpo.Task) {
				if task.Token == m.Token(best, -1) {
					again = append(again, task)
				}
			}
			if tc.fail {
				s.edit = func(r *gahpo.Result) {
					if r.Token == m.Token(best, -1) {
						r.Failure, r.WeightsObject = "trainer crashed", ""
					}
				}
			}
			got := driveSim(t, s, m, cfg, 0)
			if !slices.Contains(got.lostWeights, best) {
				t.Fatalf("weights of %v lost after %d results: not the best's (%d)", got.lostWeights, loseAt, best)
			}
			if len(again) != 1 {
				t.Fatalf("best genome %d trained again %d times, want once", best, len(again))
			}
			task := again[0]
			if task.Kind != gahpo.KindFitness || task.Rung != top || task.Epochs != want.final.Epochs[len(want.final.Epochs)-1].Epoch ||
				task.Checkpoint != nil || task.FromEpochs != 0 || task.FromGenome != 0 || task.WeightsTo == "" || task.CheckpointTo != "" {
				t.Errorf("training again: %+v; want a fitness task to the top rung from scratch, storing weights", task)
			}
			if tc.rc.PBT() && len(want.final.Schedule) > 1 && len(task.Schedule) != len(want.final.Schedule) {
				t.Errorf("training again replays %d schedule steps, the genome trained %d", len(task.Schedule), len(want.final.Schedule))
			}
			// Its top rung trained again is spent again, even when it
			// failed (with the lost checkpoints' epochs).
			if got.run.EpochsSpent != got.trained || got.trained < want.trained+task.Epochs || want.run.EpochsSpent != want.trained {
				t.Errorf("epochs spent %d, trained %d; the uninterrupted run %d, %d; trained again %d", got.run.EpochsSpent, got.trained, want.run.EpochsSpent, want.trained, task.Epochs)
			}
			g, w := got.records(), want.records()
			for i := range g {
				g[i].Issued, w[i].Issued = 0, 0
				g[i].Retrained = 0 // checked by the sum above
				if !reflect.DeepEqual(g[i], w[i]) {
					t.Fatalf("genome %d differs from the uninterrupted run's:\n got %+v\nwant %+v", i+1, g[i], w[i])
				}
			}
			if got.run.Status != gahpo.RunDone || got.run.Best != best {
				t.Fatalf("run %s, best %d; want done, best %d", got.run.Status, got.run.Best, best)
			}
			f, wf := *got.final, *want.final
			if tc.fail {
				if got.weights != nil || f.Retrained || !strings.Contains(f.WeightsLost, "trainer crashed") {
					t.Errorf("final weights %v, retrained %v, lost %q: want none, saying the training again failed", got.weights, f.Retrained, f.WeightsLost)
				}
				f.WeightsLost = ""
			} else {
				if got.weights == nil || got.weights.Name == "" || !f.Retrained || f.WeightsLost != "" {
					t.Errorf("final weights %v, retrained %v, lost %q: want the new training's", got.weights, f.Retrained, f.WeightsLost)
				}
				// One training's time and worker (answer's 1 s), not the
				// search's rungs' sum and workers.
				if f.Duration != time.Second || f.Workers != nil {
					t.Errorf("final trained again: duration %v, workers %v; want its own training's 1s, on its worker alone", f.Duration, f.Workers)
				}
				f.Retrained, f.Duration, wf.Duration, wf.Workers = false, 0, 0, nil
			}
			f.Finished, wf.Finished = time.Time{}, time.Time{}
			if fmt.Sprint(f) != fmt.Sprint(wf) { // NaN != NaN
				t.Errorf("final\n got %+v\nwant %+v", f, wf)
			}
		})
	}
}
