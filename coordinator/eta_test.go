package coordinator

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/gahpo/gahpo"
)

// TestETA: the ETA of a run adds its final training's epochs left to the
// search's trainings left: before the final starts at this run's epoch
// time of a fitness training, once it reports epochs at its own; and it
// says why when there is nothing to estimate from.
func TestETA(t *testing.T) {
	const s = time.Second
	oneEpoch := gahpo.RunConfig{Problem: "regression", FinalEpochs: 6}
	noFinal := gahpo.RunConfig{Problem: "regression"}
	halving := gahpo.RunConfig{Problem: "regression", Fidelity: gahpo.FidelityHalving, MinEpochs: 1, MaxEpochs: 9, Eta: 3, FinalEpochs: 6}
	cnn := gahpo.RunConfig{Problem: "cnn", FinalEpochs: 14, TrainSubset: 6000}
	fileTwoEpochs := gahpo.RunConfig{Problem: "toy", FinalEpochs: 6, FitnessEpochs: 2}
	ep := func(durs ...time.Duration) []gahpo.EpochMetrics {
		var es []gahpo.EpochMetrics
		for i, d := range durs {
			es = append(es, gahpo.EpochMetrics{Epoch: i + 1, Duration: d})
		}
		return es
	}
	tests := []struct {
		name string
		in   etaInput
		want time.Duration
		why  string
	}{
		{"search only, no final training", etaInput{State: gahpo.RunRunning, Config: noFinal, Trainings: 4, Parallel: 2, Measured: 2, Time: 4 * s, Epochs: 2}, 4 * s, ""},
		{"search and the final's 6 epochs at 2 s", etaInput{State: gahpo.RunRunning, Config: oneEpoch, Trainings: 1, Parallel: 1, Measured: 3, Time: 6 * s, Epochs: 3}, 2*s + 12*s, ""},
		{"last training in flight: the final is most of it", etaInput{State: gahpo.RunRunning, Config: oneEpoch, Trainings: 0, Parallel: 1, Measured: 3, Time: 6 * s, Epochs: 3}, 12 * s, ""},
		{"fitness of 2 epochs: per-epoch time halves", etaInput{State: gahpo.RunRunning, Config: fileTwoEpochs, Trainings: 2, Parallel: 2, Measured: 4, Time: 16 * s, Epochs: 8}, 4*s + 12*s, ""},
		{"cnn final on 60,000 images, fitness on 6,000", etaInput{State: gahpo.RunRunning, Config: cnn, Trainings: 0, Parallel: 1, Measured: 1, Time: 3 * s, Epochs: 1}, 14 * 30 * s, ""},
		{"final running, no epoch reported: fitness epoch time", etaInput{State: gahpo.RunFinal, Config: oneEpoch, Measured: 3, Time: 6 * s, Epochs: 3}, 12 * s, ""},
		{"final running, its own epochs take over", etaInput{State: gahpo.RunFinal, Config: oneEpoch, Measured: 3, Time: 6 * s, Epochs: 3, Final: ep(3*s, 5*s)}, 4 * 4 * s, ""},
		{"final's epochs all reported: its result is coming", etaInput{State: gahpo.RunFinal, Config: oneEpoch, Final: ep(s, s, s, s, s, s)}, 0, ""},
		{"resumed in the final, nothing measured", etaInput{State: gahpo.RunFinal, Config: oneEpoch}, 0, etaNoEpoch},
		{"nothing trained yet", etaInput{State: gahpo.RunRunning, Config: oneEpoch, Trainings: 8, Parallel: 2}, 0, etaNoTraining},
		{"halving, its best trained again (weights lost): the top rung's 9 epochs", etaInput{State: gahpo.RunFinal, Config: halving, Measured: 4, Time: 8 * s, Epochs: 4}, 9 * 2 * s, ""},
		{"halving, trained again, its own epochs take over", etaInput{State: gahpo.RunFinal, Config: halving, Measured: 4, Time: 8 * s, Epochs: 4, Final: ep(3*s, 3*s, 3*s)}, 6 * 3 * s, ""},
		{"halving: no final training of its own", etaInput{State: gahpo.RunRunning, Config: halving, Trainings: 3, Parallel: 3, Measured: 1, Time: 2 * s, Epochs: 1}, 2 * s, ""},
		{"done: nothing left", etaInput{State: gahpo.RunDone, Config: oneEpoch, Measured: 3, Time: 6 * s, Epochs: 3}, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, why := tt.in.eta()
			if got != tt.want || why != tt.why {
				t.Errorf("eta() = %v %q, want %v %q", got, why, tt.want, tt.why)
			}
		})
	}
}

// TestProgressLineETA: the progress line gives the run's ETA during the
// final training too, and says when there is none yet.
func TestProgressLineETA(t *testing.T) {
	tests := []struct {
		st   gahpo.Status
		want string
	}{
		{gahpo.Status{State: gahpo.RunFinal, RunETA: 12 * time.Second, Final: []gahpo.EpochMetrics{{Epoch: 2, TestLoss: 0.5}}}, "final training of the best genome: epoch 2, test loss 0.5000, ETA 12s"},
		{gahpo.Status{State: gahpo.RunFinal, NoETA: etaNoEpoch}, "final training of the best genome, no ETA yet: " + etaNoEpoch},
		{gahpo.Status{State: gahpo.RunFinal, RunETA: 12 * time.Second, Final: []gahpo.EpochMetrics{{Epoch: 3, TestLoss: gahpo.Float(math.NaN())}}}, "final training of the best genome: epoch 3, ETA 12s"},
		{gahpo.Status{State: gahpo.RunRunning, Generation: 1, Generations: 2, Population: 2, InFlight: 2, NoETA: etaNoTraining}, "no ETA yet: " + etaNoTraining},
		{gahpo.Status{State: gahpo.RunRunning, Generation: 2, Generations: 2, Population: 2, Done: 2, RunETA: 12 * time.Second}, "2/2 done, 0 running, 0 queued, ETA run 12s"},
	}
	for _, tt := range tests {
		if got := progressLine(tt.st); !strings.HasSuffix(got, tt.want) {
			t.Errorf("progressLine(%s) = %q, want it to end %q", tt.st.State, got, tt.want)
		}
	}
}

// TestHalvingEpochsLeft: the epoch-trainings a halving run (rungs 1, 3, 9;
// eta 3) is expected to train still, promotions to come included.
func TestHalvingEpochsLeft(t *testing.T) {
	rc := gahpo.RunConfig{Fidelity: gahpo.FidelityHalving, MinEpochs: 1, MaxEpochs: 9, Eta: 3}
	const fresh = 1 + 4.0/3 // rung 0, then (2 + (6)/3)/3 more
	tests := []struct {
		name   string
		recs   []gahpo.GenomeRecord
		unbred int
		reps   int
		want   float64
	}{
		{"three to breed", nil, 3, 0, 3 * fresh},
		{"one queued at rung 0", []gahpo.GenomeRecord{{ID: 1, Status: gahpo.GenomeQueued}}, 0, 0, fresh},
		{"one promoted to rung 1", []gahpo.GenomeRecord{{ID: 1, Status: gahpo.GenomePromoted, Rung: 1}}, 0, 0, 2 + 2},
		{"done at rung 1, may go on", []gahpo.GenomeRecord{{ID: 1, Status: gahpo.GenomeDone, Rung: 1}}, 0, 0, 2},
		{"done at rung 1, stopped", []gahpo.GenomeRecord{{ID: 1, Status: gahpo.GenomeDone, Rung: 1, Stopped: "ranked out"}}, 0, 0, 0},
		{"at the top, failed, a duplicate", []gahpo.GenomeRecord{{ID: 1, Status: gahpo.GenomeDone, Rung: 2}, {ID: 2, Status: gahpo.GenomeFailed},
			{ID: 3, Status: gahpo.GenomeQueued, DuplicateOf: 1}}, 0, 0, 0},
		{"two confirmation trainings", nil, 0, 2, 18},
	}
	for _, tt := range tests {
		if got := halvingEpochsLeft(rc, tt.recs, tt.unbred, tt.reps); math.Abs(got-tt.want) > 1e-9 {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
	// The ETA from it: the epochs left at the run's time per epoch,
	// spread over the trainings under way.
	in := etaInput{State: gahpo.RunRunning, Config: rc, Trainings: 1, Parallel: 2, Measured: 4, Time: 40 * time.Second, Epochs: 8, EpochsLeft: 10}
	if got, why := in.eta(); got != 25*time.Second || why != "" {
		t.Errorf("eta = %v %q, want 25s (10 epochs at 5 s, 2 at once)", got, why)
	}
}
