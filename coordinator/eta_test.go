package coordinator

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gahpo/gahpo"
	"github.com/gahpo/gahpo/ga"
	"github.com/gahpo/gahpo/models/problems"
	"github.com/gahpo/gahpo/models/regression"
	"github.com/gahpo/gahpo/search"
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
		// A resumed run had trainings end before its restart: it was told
		// none had (a newcomer's quick search after Ctrl-C).
		{"nothing trained since the run resumed", etaInput{State: gahpo.RunRunning, Config: oneEpoch, Trainings: 6, Parallel: 2, Resumed: true}, 0, etaNoTrainingResumed},
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

// TestETAOfATimeBudget: with --time-budget the ETA of the search goes no
// further than the budget's end and the trainings bred by then, not the
// whole budget of genomes; past the end, only the trainings bred.
func TestETAOfATimeBudget(t *testing.T) {
	const s = time.Second
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	steady := gahpo.RunConfig{Problem: "regression", Breeding: gahpo.BreedingSteadyState, TimeBudget: 100 * s}
	halving := gahpo.RunConfig{Problem: "regression", Fidelity: gahpo.FidelityHalving, MinEpochs: 1, MaxEpochs: 9, Eta: 3, TimeBudget: 60 * s}
	unlimited := steady
	unlimited.TimeBudget = 0
	// 100 trainings of 10 s left, two at once, 4 of them bred.
	running := func(rc gahpo.RunConfig, now time.Duration) etaInput {
		return etaInput{State: gahpo.RunRunning, Config: rc, Trainings: 100, Unbred: 96, Parallel: 2, Measured: 4, Time: 40 * s, Epochs: 4,
			Started: t0, Now: t0.Add(now)}
	}
	halvingAt := func(now time.Duration) etaInput {
		return etaInput{State: gahpo.RunRunning, Config: halving, Trainings: 30, Unbred: 20, Parallel: 1, Measured: 5, Time: 20 * s, Epochs: 10,
			EpochsLeft: 90, BredEpochs: 10, Started: t0, Now: t0.Add(now)}
	}
	tests := []struct {
		name string
		in   etaInput
		want time.Duration
	}{
		{"no time budget: every training left", running(unlimited, 80*s), 500 * s},
		{"20 s to the budget's end, then the 4 bred", running(steady, 80*s), 20*s + 20*s},
		{"past the end: the 4 bred only", running(steady, 150*s), 20 * s},
		{"early: the whole budget is further than the trainings left", running(steady, 0), 100*s + 20*s},
		{"halving: 5 s to the end, then the bred genomes' 10 epochs at 2 s", halvingAt(55 * s), 5*s + 20*s},
		{"halving without a budget: all 90 epochs", func() etaInput { in := halvingAt(55 * s); in.Config.TimeBudget = 0; return in }(), 180 * s},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, why := tt.in.eta(); got != tt.want || why != "" {
				t.Errorf("eta() = %v %q, want %v", got, why, tt.want)
			}
		})
	}
}

// TestETACountsDown: between results the ETA goes down by the time the
// trainings under way have trained, each up to what it is expected to
// take, rather than staying where the last result left it.
func TestETACountsDown(t *testing.T) {
	const s = time.Second
	noFinal := gahpo.RunConfig{Problem: "regression"}
	halving := gahpo.RunConfig{Problem: "regression", Fidelity: gahpo.FidelityHalving, MinEpochs: 1, MaxEpochs: 9, Eta: 3}
	// 4 trainings of 2 s left, two at once: 4 s.
	at := func(under ...underWay) etaInput {
		return etaInput{State: gahpo.RunRunning, Config: noFinal, Trainings: 4, Parallel: 2, Measured: 2, Time: 4 * s, Epochs: 2, UnderWay: under}
	}
	tests := []struct {
		name string
		in   etaInput
		want time.Duration
	}{
		{"just started", at(underWay{}, underWay{}), 4 * s},
		{"both a second in", at(underWay{Elapsed: s}, underWay{Elapsed: s}), 3 * s},
		{"one beyond its expected 2 s counts 2 s", at(underWay{Elapsed: 9 * s}), 3 * s},
		{"halving: a 3-epoch rung 3 s in, at 2 s an epoch", etaInput{State: gahpo.RunRunning, Config: halving, Trainings: 3, Parallel: 1, Measured: 2, Time: 8 * s, Epochs: 4,
			EpochsLeft: 9, UnderWay: []underWay{{Elapsed: 3 * s, Epochs: 3}}}, 18*s - 3*s},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, _ := tt.in.eta(); got != tt.want {
				t.Errorf("eta() = %v, want %v", got, tt.want)
			}
		})
	}
	if got := at(underWay{Elapsed: s}, underWay{Elapsed: s}).genETA(4); got != 3*s {
		t.Errorf("genETA(4) with two trainings a second in = %v, want 3s", got)
	}
	// The trainings under way as the coordinator sees them: the epochs of
	// the rung each trains (a genome promoted from rung 1, 3 epochs, trains
	// rung 2, to 9), a confirmation training the top rung's.
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	recs := []gahpo.GenomeRecord{{ID: 1, Status: gahpo.GenomeQueued}, {ID: 2, Status: gahpo.GenomePromoted, Rung: 1}}
	holders := []gahpo.Holder{{GenomeID: 1, Since: t0}, {GenomeID: 2, Since: t0.Add(s)}, {GenomeID: 2, Replicate: 1, Since: t0}}
	got := underWayOf(halving, recs, holders, t0.Add(5*s))
	want := []underWay{{5 * s, 1}, {4 * s, 6}, {5 * s, 9}}
	if !slices.Equal(got, want) {
		t.Errorf("underWayOf = %v, want %v", got, want)
	}
}

// TestProgressLineETA: the progress line gives the run's ETA during the
// final training too, and says when there is none yet.
func TestProgressLineETA(t *testing.T) {
	tests := []struct {
		st   gahpo.Status
		want string
	}{
		{gahpo.Status{State: gahpo.RunFinal, RunETA: 12 * time.Second, Final: []gahpo.EpochMetrics{{Epoch: 2, TestLoss: 0.5}}}, "final training of the best genome: epoch 2, test loss 0.5000, ETA 12 s"},
		{gahpo.Status{State: gahpo.RunFinal, RunETA: 12 * time.Second, Objective: "val_acc", Maximize: true, FinalObjective: map[int]gahpo.Float{2: 0.94},
			Final: []gahpo.EpochMetrics{{Epoch: 2, TestLoss: gahpo.Float(math.NaN())}}}, "final training of the best genome: epoch 2, val_acc 0.94, ETA 12 s"},
		{gahpo.Status{State: gahpo.RunFinal, NoETA: etaNoEpoch}, "final training of the best genome, no ETA yet: " + etaNoEpoch},
		{gahpo.Status{State: gahpo.RunFinal, RunETA: 12 * time.Second, Final: []gahpo.EpochMetrics{{Epoch: 3, TestLoss: gahpo.Float(math.NaN())}}}, "final training of the best genome: epoch 3, ETA 12 s"},
		{gahpo.Status{State: gahpo.RunRunning, Generation: 1, Generations: 2, Population: 2, InFlight: 2, NoETA: etaNoTraining}, "no ETA yet: " + etaNoTraining},
		{gahpo.Status{State: gahpo.RunRunning, Generation: 2, Generations: 2, Population: 2, Done: 2, RunETA: 12 * time.Second}, "2/2 done, 0 running, 0 queued, ETA run 12 s"},
		{gahpo.Status{State: gahpo.RunRunning, Generation: 1, Generations: 2, Population: 2, InFlight: 2, GenETA: 192 * time.Second, RunETA: 109 * time.Minute}, "2 running, 0 queued, ETA gen 3 min 12 s run 1 h 49 min"},
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
		{"one promoted to rung 1", []gahpo.GenomeRecord{{ID: 1, Status: gahpo.GenomePromoted, Rung: 0}}, 0, 0, 2 + 2},
		{"one promoted to rung 2", []gahpo.GenomeRecord{{ID: 1, Status: gahpo.GenomePromoted, Rung: 1}}, 0, 0, 6},
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

// TestUnderWayEpochsOfTheTasks: the epochs the ETA counts for a genome in
// training are those of the task the search machine published for it: a
// genome promoted from rung k (its record's Rung stays k until its result)
// trains rung k+1, from rungs[k] to rungs[k+1] epochs, not rung k again.
func TestUnderWayEpochsOfTheTasks(t *testing.T) {
	rc := gahpo.RunConfig{Problem: problems.Regression, GA: ga.DefaultConfig(), MaxAttempts: 3, AckWait: time.Minute,
		Fidelity: gahpo.FidelityHalving, Breeding: gahpo.BreedingSteadyState, MinEpochs: 1, MaxEpochs: 9, Eta: 3, InFlight: 9,
		BudgetGene: regression.ParamEpochs}
	rc.GA.Population, rc.GA.Generations = 9, 2
	full, err := problems.Space(rc.Problem)
	if err != nil {
		t.Fatal(err)
	}
	space, err := full.Without(rc.BudgetGene)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	m, err := search.New(search.Config{Run: gahpo.Run{ID: "r", Config: rc, Status: gahpo.RunRunning, Started: t0}, Secret: "s",
		CheckpointBucket: "ckpt", WeightsBucket: "weights"}, space)
	if err != nil {
		t.Fatal(err)
	}
	// Answer the tasks one by one, best genome first, until some of the
	// tasks published train a rung above the first.
	queue := m.Ready().Publish
	promoted := false
	for len(queue) > 0 && !promoted {
		tk := queue[0]
		queue = queue[1:]
		r := gahpo.Result{V: gahpo.MessageVersion, Kind: tk.Kind, RunID: tk.RunID, GenomeID: tk.GenomeID, Worker: "w", Attempt: 1,
			Token: tk.Token, Rung: tk.Rung, EpochsDone: tk.Epochs, Fitness: gahpo.Float(float64(tk.GenomeID) / 100), Duration: time.Second}
		for e := tk.FromEpochs + 1; e <= tk.Epochs; e++ {
			r.Curve = append(r.Curve, gahpo.EpochReport{Epoch: e, Metrics: map[string]gahpo.Float{"val_loss": r.Fitness}})
		}
		r.Checkpoint = &gahpo.ObjectRef{Bucket: "ckpt", Name: fmt.Sprintf("r-%d-e%d-n", tk.GenomeID, tk.Epochs), Size: 1}
		if err := m.Result(r, t0.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		for _, p := range m.Ready().Publish {
			queue = append(queue, p)
			promoted = promoted || p.Rung > 0
		}
	}
	if !promoted {
		t.Fatal("no genome was promoted")
	}
	recs := m.Records()
	var holders []gahpo.Holder
	for _, tk := range queue {
		holders = append(holders, gahpo.Holder{GenomeID: tk.GenomeID, Since: t0})
	}
	got := underWayOf(rc, recs, holders, t0)
	rungs, beyond := halvingBeyond(rc)
	for i, tk := range queue {
		if want := tk.Epochs - tk.FromEpochs; got[i].Epochs != want {
			t.Errorf("genome %d (%s at rung %d) trains rung %d, epochs %d to %d: underWayOf counts %d epochs, want %d",
				tk.GenomeID, recs[tk.GenomeID-1].Status, recs[tk.GenomeID-1].Rung, tk.Rung, tk.FromEpochs, tk.Epochs, got[i].Epochs, want)
		}
		// What halvingEpochsLeft counts of it: its task's epochs and,
		// with chance 1/eta at each rung above, the rungs beyond.
		one := []gahpo.GenomeRecord{recs[tk.GenomeID-1]}
		one[0].ID = 1
		if got, want := halvingEpochsLeft(rc, one, 0, 0), float64(tk.Epochs-tk.FromEpochs)+beyond[tk.Rung]; math.Abs(got-want) > 1e-9 {
			t.Errorf("genome %d training rung %d: halvingEpochsLeft %v, want %v (rungs %v)", tk.GenomeID, tk.Rung, got, want, rungs)
		}
	}
}
