package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gahpo/gahpo"
	"github.com/gahpo/gahpo/models/problems"
	"github.com/gahpo/gahpo/report"
	"github.com/gahpo/gahpo/store"
)

// TestPrintStatus: a generational run reports its generation; a
// steady-state or halving run, which has none to wait for, its budget,
// its results per rung, the epoch each held genome reached, and the epochs
// of the best genome; during a confirmation, its mean over the trainings
// back so far.
func TestPrintStatus(t *testing.T) {
	mean2 := gahpo.Float(0.0302)
	best := &gahpo.BestEntry{GenomeID: 1, Generation: 1, Fitness: 0.0375, Epochs: 9, Params: map[string]float64{"lr": 1}}
	tests := []struct {
		name     string
		st       gahpo.Status
		want     []string
		wantNone []string
	}{
		{"a final of a problem without test figures", gahpo.Status{RunID: "r", Problem: "m", State: gahpo.RunFinal,
			Final: []gahpo.EpochMetrics{{Epoch: 1, TestLoss: gahpo.Float(math.NaN())}, {Epoch: 2, TestLoss: 0.25, TestAccuracy: 0.9}}},
			[]string{"final epoch 1: done", "final epoch 2: test loss 0.25, accuracy 90.00%"},
			[]string{"NaN", "accuracy 0.00%"}},
		{"a final of a problem file: its objective, named, in its own sign", gahpo.Status{RunID: "r", Problem: "m", State: gahpo.RunFinal,
			Objective: "val_acc", Maximize: true, FinalObjective: map[int]gahpo.Float{1: 0.91, 3: 0.94},
			Final: []gahpo.EpochMetrics{{Epoch: 1, TestLoss: gahpo.Float(math.NaN())}, {Epoch: 2, TestLoss: gahpo.Float(math.NaN())}, {Epoch: 3, TestLoss: 0.25}}},
			[]string{"final epoch 1: val_acc 0.91\n", "final epoch 2: done\n", "final epoch 3: val_acc 0.94, test loss 0.25\n"},
			[]string{"-0.9"}},
		{"a final whose objective is the test loss: named once", gahpo.Status{RunID: "r", Problem: "m", State: gahpo.RunFinal,
			Objective: "test_loss", FinalObjective: map[int]gahpo.Float{1: 0.25},
			Final: []gahpo.EpochMetrics{{Epoch: 1, TestLoss: 0.25}}},
			[]string{"final epoch 1: test_loss 0.25\n"}, []string{"test loss"}},
		{"generational", gahpo.Status{RunID: "r", Problem: "cnn", State: gahpo.RunRunning, Generation: 2, Generations: 6,
			Population: 12, Done: 5, InFlight: 2, Best: best},
			[]string{"generation 2/6", "5/12 done, 2 in flight", "best so far: genome 1 (generation 1) fitness 0.0375"},
			[]string{"bred", "rung"}},
		{"halving, steady state", gahpo.Status{RunID: "r", Problem: "cnn", State: gahpo.RunRunning, Generation: 2, Generations: 6,
			Fidelity: gahpo.FidelityHalving, Breeding: gahpo.BreedingSteadyState, Bred: 17, Budget: 72, InFlight: 2, Queued: 1,
			Outstanding: 3, Rungs: []int{17, 7, 1}, Best: best,
			Holders: []gahpo.Holder{{GenomeID: 9, Worker: "local-2", Attempt: 1, Since: time.Now()}},
			Curves:  map[int][]gahpo.EpochReport{9: {{Epoch: 6}, {Epoch: 7}}}},
			[]string{"steady-state breeding, halving fidelity", "17/72 genomes bred, 2 in flight, 1 queued, 3 outstanding",
				"results per rung: 17 / 7 / 1", "genome 9 on local-2 (attempt 1)", "epoch 7 done", "best so far: genome 1 (9 epochs)"},
			[]string{"generation 2/6", "5/12", "confirming"}},
		{"halving, its best at the first rung: 1 epoch", gahpo.Status{RunID: "r", Problem: "m", State: gahpo.RunRunning, Fidelity: gahpo.FidelityHalving,
			Bred: 6, Budget: 6, Rungs: []int{2}, Best: &gahpo.BestEntry{GenomeID: 3, Fitness: 1.835, Epochs: 1}},
			[]string{"best so far: genome 3 (1 epoch) fitness 1.835"}, []string{"1 epochs"}},
		{"confirming", gahpo.Status{RunID: "r", Problem: "cnn", State: gahpo.RunRunning, Fidelity: gahpo.FidelityHalving,
			Breeding: gahpo.BreedingSteadyState, Bred: 72, Budget: 72, InFlight: 2, Confirming: 4, Rungs: []int{72, 24, 8, 4},
			Best: &gahpo.BestEntry{GenomeID: 5, Fitness: 0.0291, Epochs: 14, Seeds: 2, ConfirmedFitness: &mean2}},
			[]string{"best so far: genome 5 (14 epochs) mean fitness 0.0302 over 2 trainings (its own: 0.0291)",
				"confirming the best genomes on other seeds: 4 trainings left"},
			[]string{"fitness 0.0291 "}},
		{"pbt", gahpo.Status{RunID: "r", Problem: "cnn", State: gahpo.RunRunning, Population: 8, Generations: 1,
			Fidelity: gahpo.FidelityPBT, Bred: 13, Budget: 8, InFlight: 2, Queued: 4, Outstanding: 6, Rungs: []int{8, 8, 3}, Best: best},
			[]string{"population based training of 8 genomes", "13 genomes (5 took the place of one of the worst quarter), 2 in flight",
				"results per rung: 8 / 8 / 3"},
			[]string{"13/8", "breeding", "generation"}},
		{"budgeted, stopped", gahpo.Status{RunID: "r", Problem: "regression", State: gahpo.RunRunning, Fidelity: gahpo.FidelityHalving,
			Breeding: gahpo.BreedingSteadyState, Bred: 52, Budget: 500, EpochsSpent: 2020, BudgetEpochs: 2000, StoppedBy: gahpo.StopBudgetEpochs},
			[]string{"epoch-trainings spent or under way: 2020 of the budget of 2000", "breeding stopped: the epoch budget was spent"},
			nil},
		{"stopped for failures, by default", gahpo.Status{RunID: "r", Problem: "m", State: gahpo.RunRunning, Generation: 1, Generations: 6,
			Population: 8, Done: 8, StoppedBy: gahpo.StopFailures},
			[]string{"breeding stopped: its first 8 genomes trained all failed, none succeeded (--max-failures, by default the population)"}, nil},
		{"stopped for failures, --max-failures 3", gahpo.Status{RunID: "r", Problem: "m", State: gahpo.RunRunning, Generation: 1, Generations: 6,
			Population: 8, Done: 5, StoppedBy: gahpo.StopFailures, MaxFailures: ptr(3)},
			[]string{"breeding stopped: 3 genomes failed (--max-failures 3)"}, nil},
		{"unbudgeted, breeding", gahpo.Status{RunID: "r", Problem: "regression", State: gahpo.RunRunning, Generation: 2, Generations: 6,
			Population: 10, EpochsSpent: 14},
			[]string{"epoch-trainings spent or under way: 14\n"},
			[]string{"budget", "breeding stopped"}},
		{"final training: its ETA", gahpo.Status{RunID: "r", Problem: "regression", State: gahpo.RunFinal, Generation: 2, Generations: 2,
			Population: 2, Done: 2, RunETA: 12 * time.Second},
			[]string{"ETA of the run: 12 s"}, []string{"no ETA"}},
		{"a generation's ETA and the run's, as the dashboard writes them", gahpo.Status{RunID: "r", Problem: "cnn", State: gahpo.RunRunning, Generation: 1, Generations: 9,
			Population: 2, InFlight: 2, GenETA: 4*time.Minute + 2*time.Second, RunETA: time.Hour + 49*time.Minute + 12*time.Second},
			[]string{"ETA: generation 4 min 2 s, run 1 h 49 min\n"}, []string{"1h49m"}},
		{"nothing measured: no ETA, and why", gahpo.Status{RunID: "r", Problem: "regression", State: gahpo.RunRunning, Generation: 1, Generations: 2,
			Population: 2, InFlight: 2, NoETA: "no training of this run has ended yet"},
			[]string{"no ETA of the run yet: no training of this run has ended yet"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b strings.Builder
			printStatus(&b, tt.st)
			for _, w := range tt.want {
				if !strings.Contains(b.String(), w) {
					t.Errorf("status lacks %q:\n%s", w, b.String())
				}
			}
			for _, w := range tt.wantNone {
				if strings.Contains(b.String(), w) {
					t.Errorf("status holds %q:\n%s", w, b.String())
				}
			}
		})
	}
}

func TestPrintFinalSchedule(t *testing.T) {
	cnn := func(lr float64) map[string]float64 {
		return map[string]float64{"batch_size": 64, "gamma": 0.7, "lr": lr, "weight_decay": 1e-7}
	}
	reg := map[string]float64{"batch_size": 19, "epochs": 214, "lr": 0.05}
	cnnFinal := gahpo.FinalTraining{GenomeID: 5, Params: cnn(0.8), Schedule: []gahpo.ScheduleStep{{Epoch: 1, Genome: 1, Params: cnn(1)}, {Epoch: 3, Genome: 5, Params: cnn(0.8)}}}
	cnnRun := gahpo.RunConfig{Problem: problems.CNN}
	// examples/pytorch-mnist has the CNN's genes, but cnntrain is not its
	// trainer: the lines said "the same training again" of cnntrain.
	torchRun := gahpo.RunConfig{Problem: "pytorch-mnist", ProblemDigest: "abc", TrainSubset: 1000}
	tests := []struct {
		name     string
		f        gahpo.FinalTraining
		l        lineage
		want     []string
		wantNone []string
	}{
		{"cnn", cnnFinal, lineage{rc: cnnRun},
			[]string{"epochs 1 to 2: batch_size=64 gamma=0.7 lr=1 weight_decay=1e-07 (genome 1)", "epochs 3 on:",
				"cnntrain -schedule '1:batch_size=64,gamma=0.7,lr=1,weight_decay=1e-07;3:batch_size=64,gamma=0.7,lr=0.8,weight_decay=1e-07'"}, nil},
		{"cnn, its first genome known", cnnFinal, lineage{rc: cnnRun, root: 1, seed: 7},
			[]string{"the same training again, on genome 1's seed 7", "cnntrain -epochs 0 -train-images 54000 -seed 7 -schedule '1:"}, nil},
		{"a problem file with the cnn's genes", cnnFinal, lineage{rc: torchRun},
			[]string{"as one line: 1:batch_size=64,gamma=0.7,lr=1,weight_decay=1e-07;3:"}, []string{"cnntrain", "the same training again"}},
		{"a problem file with the cnn's genes, its first genome known", cnnFinal, lineage{rc: torchRun, root: 1, seed: 7},
			[]string{"as one line: 1:batch_size=64,", "seed: genome 1's seed 7"}, []string{"cnntrain", "the same training again"}},
		{"another problem", gahpo.FinalTraining{GenomeID: 2, Params: reg, Schedule: []gahpo.ScheduleStep{{Epoch: 1, Genome: 1, Params: reg}, {Epoch: 11, Genome: 2, Params: reg}}}, lineage{},
			[]string{"as one line: 1:batch_size=19,epochs=214,lr=0.05;11:"}, []string{"cnntrain"}},
		{"choices by their values", gahpo.FinalTraining{GenomeID: 2, Params: map[string]float64{"lr": 0.1, "optimizer": 0}, Schedule: []gahpo.ScheduleStep{
			{Epoch: 1, Genome: 1, Params: map[string]float64{"lr": 0.2, "optimizer": 2}, Choices: map[string]string{"optimizer": "adam"}},
			{Epoch: 4, Genome: 2, Params: map[string]float64{"lr": 0.1, "optimizer": 0}, Choices: map[string]string{"optimizer": "sgd"}}}},
			lineage{}, []string{"epochs 1 to 3: lr=0.2 optimizer=adam (genome 1)", "epochs 4 on: lr=0.1 optimizer=sgd (genome 2)"}, []string{"optimizer=2 "}},
		{"a constant genome", gahpo.FinalTraining{GenomeID: 1, Params: cnn(1), Schedule: []gahpo.ScheduleStep{{Epoch: 1, Genome: 1, Params: cnn(1)}}},
			lineage{rc: cnnRun}, nil, []string{"schedule"}},
	}
	for _, tt := range tests {
		var b strings.Builder
		printFinal(&b, gahpo.RunConfig{}, tt.f, tt.l)
		for _, w := range tt.want {
			if !strings.Contains(b.String(), w) {
				t.Errorf("%s: output lacks %q:\n%s", tt.name, w, b.String())
			}
		}
		for _, w := range tt.wantNone {
			if strings.Contains(b.String(), w) {
				t.Errorf("%s: output holds %q:\n%s", tt.name, w, b.String())
			}
		}
	}
}

// statusSource serves a snapshot with a fixed status, as a running
// coordinator's would.
type statusSource struct{ st gahpo.Status }

func (s statusSource) Snapshot(context.Context) (*report.Snapshot, error) {
	st := s.st
	return &report.Snapshot{Run: gahpo.Run{ID: st.RunID, Status: st.State}, Status: &st, Taken: time.Now()}, nil
}

// TestDashboardGenerationAgreesWithStatus: the dashboard's progress line
// and gahpo status name the same generation for the same status (both
// count from 1: Status.Generation already does).
func TestDashboardGenerationAgreesWithStatus(t *testing.T) {
	for _, gen := range []int{1, 2, 6} {
		st := gahpo.Status{RunID: "r", Problem: "regression", State: gahpo.RunRunning, Generation: gen, Generations: 6, Population: 10}
		var b strings.Builder
		printStatus(&b, st)
		if want := fmt.Sprintf("generation %d/6", gen); !strings.Contains(b.String(), want) {
			t.Fatalf("status says %q, want %q in it", b.String(), want)
		}
		srv := httptest.NewServer(report.NewHandler(statusSource{st}, report.HandlerOptions{Poll: time.Second}))
		resp, err := http.Get(srv.URL + "/fragment")
		if err != nil {
			t.Fatal(err)
		}
		page, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		srv.Close()
		if want := fmt.Sprintf("generation %d of 6", gen); !strings.Contains(string(page), want) {
			i := strings.Index(string(page), `id="progress"`)
			t.Errorf("generation %d: the fragment's progress reads %.120q, want %q in it", gen, string(page[max(i, 0):]), want)
		}
	}
}

// TestPrintRuns: query runs gives each run's size (a population based
// training by its population and epochs, having no generations), the
// epoch-trainings it spent and why it stopped breeding ("-" for what a
// run does not record).
func TestPrintRuns(t *testing.T) {
	ga := func(pop, gens int) gahpo.RunConfig {
		rc := gahpo.RunConfig{Problem: "regression"}
		rc.GA.Population, rc.GA.Generations = pop, gens
		return rc
	}
	pbt := ga(8, 8)
	pbt.Fidelity, pbt.MinEpochs, pbt.MaxEpochs = gahpo.FidelityPBT, 1, 14
	budgeted := ga(10, 50)
	budgeted.Fidelity, budgeted.MinEpochs, budgeted.MaxEpochs, budgeted.Eta, budgeted.BudgetEpochs = gahpo.FidelityHalving, 10, 300, 3, 2000
	tests := []struct {
		name     string
		run      gahpo.Run
		want     []string
		wantNone []string
	}{
		{"budgeted", gahpo.Run{ID: "b", Config: budgeted, Status: gahpo.RunDone, EpochsSpent: 2500, StoppedBy: gahpo.StopBudgetEpochs},
			[]string{"10×50", "2500", "budget-epochs"}, nil},
		{"pbt", gahpo.Run{ID: "p", Config: pbt, Status: gahpo.RunDone, EpochsSpent: 140, StoppedBy: gahpo.StopMaxEpochs},
			[]string{"8 to 14 ep", "140", "max-epochs"}, []string{"8×8"}},
		{"stored before", gahpo.Run{ID: "o", Config: ga(4, 2), Status: gahpo.RunDone, Best: 5},
			[]string{"4×2 0", "5 - -"}, nil},
		// A run under way has chosen no genome yet: its best was shown as
		// genome 0, which no genome is (they count from 1).
		{"under way", gahpo.Run{ID: "u", Config: ga(8, 4), Status: gahpo.RunRunning, EpochsSpent: 14},
			[]string{"running", "- 14 -"}, []string{" 0 14"}},
	}
	for _, tt := range tests {
		var b strings.Builder
		printRuns(&b, []gahpo.Run{tt.run}, false)
		lines := strings.Split(b.String(), "\n")
		lines[1] = strings.Join(strings.Fields(lines[1]), " ") // the row, its columns one space apart
		if !strings.Contains(lines[0], "EPOCHS SPENT") || !strings.Contains(lines[0], "STOPPED BY") {
			t.Errorf("%s: header %q", tt.name, lines[0])
		}
		for _, w := range tt.want {
			if !strings.Contains(lines[1], w) {
				t.Errorf("%s: row lacks %q: %q", tt.name, w, lines[1])
			}
		}
		for _, w := range tt.wantNone {
			if strings.Contains(lines[1], w) {
				t.Errorf("%s: row holds %q: %q", tt.name, w, lines[1])
			}
		}
	}
}

// TestPrintSpent: the run summary says why breeding stopped and what was
// spent, the confirmation's share too.
func TestPrintSpent(t *testing.T) {
	rc := gahpo.RunConfig{Problem: "regression", Fidelity: gahpo.FidelityHalving, MinEpochs: 10, MaxEpochs: 90, Eta: 3, TimeBudget: time.Minute, ConfirmSeeds: 3, ConfirmTop: 3}
	rc.GA.Population, rc.GA.Generations = 10, 50
	run := gahpo.Run{Config: rc, StoppedBy: gahpo.StopTimeBudget, EpochsSpent: 1000}
	recs := []gahpo.GenomeRecord{{ID: 1, Status: gahpo.GenomeDone, RungFitness: []gahpo.Float{1, 1, 1}, Replicates: make([]gahpo.Replicate, 2)}}
	var b strings.Builder
	printSpent(&b, run, recs)
	for _, w := range []string{"breeding stopped: the time budget ran out (--time-budget 1m0s)", "spent: 1000 epoch-trainings, of which 180 in 2 confirmation trainings"} {
		if !strings.Contains(b.String(), w) {
			t.Errorf("summary lacks %q:\n%s", w, b.String())
		}
	}
	b.Reset()
	printSpent(&b, gahpo.Run{Config: rc}, nil)
	if b.String() != "" {
		t.Errorf("a run that records neither printed %q", b.String())
	}
}

// TestQueryRunsShowsInterruptedRuns: query runs of a history file that no
// coordinator holds shows a run left running (Ctrl-C, a crash) as
// interrupted, and how it resumes; it said "running", which a newcomer
// took for a search still under way. The JSON keeps the stored status.
func TestQueryRunsShowsInterruptedRuns(t *testing.T) {
	db := filepath.Join(t.TempDir(), "h.db")
	rc := gahpo.RunConfig{Problem: "regression"}
	rc.GA.Population, rc.GA.Generations = 4, 2
	st, err := store.Open(db, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []gahpo.Run{{ID: "r-done", Config: rc, Status: gahpo.RunDone, Best: 3}, {ID: "r-left", Config: rc, Status: gahpo.RunRunning}} {
		if err := st.CreateRun(r, nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()
	out, _, err := runMain(t, "query", "runs", "--db", db)
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]string{}
	for _, l := range strings.Split(out, "\n") {
		if f := strings.Fields(l); len(f) > 2 {
			rows[f[0]] = f[2]
		}
	}
	if rows["r-left"] != "interrupted" || rows["r-done"] != "done" {
		t.Errorf("statuses %v, want r-left interrupted and r-done done:\n%s", rows, out)
	}
	if !strings.Contains(out, "interrupted: its coordinator stopped before the run's end; the command that started it resumes it") {
		t.Errorf("query runs does not say how an interrupted run resumes:\n%s", out)
	}
	out, _, err = runMain(t, "query", "runs", "--json", "--db", db)
	if err != nil || !strings.Contains(out, `"status": "running"`) {
		t.Errorf("query runs --json: %v\n%s; want the stored status, running", err, out)
	}
}
