package report

import (
	"fmt"
	"math"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gahpo/gahpo"
	"github.com/gahpo/gahpo/search"
)

// TestEpochTable: the final training's table has the metrics its epochs
// reported, the CNN's first in their order, accuracies in percent, at most
// 15 rows; a training stored before curves shows its fixed metrics.
func TestEpochTable(t *testing.T) {
	rep := func(e int, m map[string]gahpo.Float) gahpo.EpochReport {
		return gahpo.EpochReport{Epoch: e, Duration: time.Second, Metrics: m}
	}
	var long []gahpo.EpochReport
	for e := 1; e <= 30; e++ {
		long = append(long, rep(e, map[string]gahpo.Float{"val_loss": gahpo.Float(1 / float64(e))}))
	}
	tests := []struct {
		name  string
		f     gahpo.FinalTraining
		cols  []string
		first []string
		rows  int
	}{
		{"the CNN", gahpo.FinalTraining{Curve: []gahpo.EpochReport{rep(1, map[string]gahpo.Float{
			"test_accuracy": 0.9917, "lr": 1, "train_loss": 0.2, "test_loss": 0.0268})}},
			[]string{"lr", "train_loss", "test_loss", "test_accuracy"}, []string{"1", "0.2", "0.0268", "99.17%"}, 1},
		{"a problem file's command", gahpo.FinalTraining{Curve: []gahpo.EpochReport{
			rep(1, map[string]gahpo.Float{"w": 0.7, "val_loss": 0.1}), rep(2, map[string]gahpo.Float{"w": 0.9, "val_loss": 0.05, "acc": 0.5})}},
			[]string{"val_loss", "acc", "w"}, []string{"0.1", "-", "0.7"}, 2},
		{"a NaN", gahpo.FinalTraining{Curve: []gahpo.EpochReport{rep(1, map[string]gahpo.Float{"val_loss": gahpo.Float(math.NaN())})}},
			[]string{"val_loss"}, []string{"-"}, 1},
		{"30 epochs", gahpo.FinalTraining{Curve: long}, []string{"val_loss"}, []string{"1"}, 15},
		{"stored before curves", gahpo.FinalTraining{Epochs: []gahpo.EpochMetrics{{Epoch: 1, LR: 1, TrainLoss: 0.2, TestLoss: 0.03, TestAccuracy: 0.99}}},
			[]string{"lr", "train_loss", "test_loss", "test_accuracy"}, []string{"1", "0.2", "0.03", "99.00%"}, 1},
	}
	for _, tt := range tests {
		got := newEpochTable(&tt.f)
		if !slices.Equal(got.Cols, tt.cols) || len(got.Rows) != tt.rows || !slices.Equal(got.Rows[0].Vals, tt.first) {
			t.Errorf("%s: columns %q, %d rows, first %q; want %q, %d, %q", tt.name, got.Cols, len(got.Rows), fmt.Sprint(got.Rows[0].Vals), tt.cols, tt.rows, tt.first)
		}
	}
	if got := newEpochTable(&gahpo.FinalTraining{Curve: long}); got.All != 30 || got.Rows[14].Epoch != 30 || got.Rows[1].Epoch != 3 {
		t.Errorf("30 epochs sampled: %d recorded, rows from %d to %d", got.All, got.Rows[0].Epoch, got.Rows[14].Epoch)
	}
}

// TestPageRunSummary: the page says why a run stopped breeding and what it
// spent, describes a population based training by its population and
// rungs (it has no generations), says a finished run is finished rather
// than live, and captions a confirmation of fewer genomes than asked.
func TestPageRunSummary(t *testing.T) {
	halving := gahpo.RunConfig{Problem: "regression", Fidelity: gahpo.FidelityHalving, MinEpochs: 1, MaxEpochs: 9, Eta: 3,
		BudgetEpochs: 2000, ConfirmSeeds: 3, ConfirmTop: 3}
	halving.GA.Population, halving.GA.Generations = 10, 50
	pbt := gahpo.RunConfig{Problem: "regression", Fidelity: gahpo.FidelityPBT, MinEpochs: 1, MaxEpochs: 14}
	pbt.GA.Population, pbt.GA.Generations = 8, 8
	one := gahpo.GenomeRecord{ID: 1, Status: gahpo.GenomeDone, Rung: 2, RungFitness: []gahpo.Float{0.5, 0.2, 0.1}, Fitness: 0.1,
		Replicates: []gahpo.Replicate{{Seed: 7, Status: gahpo.GenomeDone, Fitness: 0.2}, {Seed: 8, Status: gahpo.GenomeDone, Fitness: 0.3}}}
	tests := []struct {
		name      string
		run       gahpo.Run
		genomes   []gahpo.GenomeRecord
		want, not []string
	}{
		{"budgeted, finished, one confirmed", gahpo.Run{ID: "r", Config: halving, Status: gahpo.RunDone, Best: 1,
			StoppedBy: gahpo.StopBudgetEpochs, EpochsSpent: 2036}, []gahpo.GenomeRecord{one},
			[]string{"population 10, 50 generations", "successive halving over rungs of 1, 3, 9 epochs (eta 3); generational breeding; the best 3 confirmed on 3 seeds each",
				"the epoch budget was spent (--budget-epochs 2000)",
				"2036 epoch-trainings (budget 2000), of which 18 in 2 confirmation trainings",
				"finished: the run is done", "confirmed 1 genome of the 3 asked"},
			[]string{"live: updates", "stopped (their place"}},
		{"stored before epochs_spent", gahpo.Run{ID: "r", Config: halving, Status: gahpo.RunDone, Best: 1}, []gahpo.GenomeRecord{one},
			[]string{fmt.Sprintf("%d epoch-trainings (budget 2000), of which 18 in 2 confirmation trainings", search.EpochsSpent(halving.RungEpochs(), []gahpo.GenomeRecord{one}))}, nil},
		{"running", gahpo.Run{ID: "r", Config: halving, Status: gahpo.RunRunning}, nil,
			[]string{"live: updates as results arrive"}, []string{"finished", "breeding stopped", "epochs spent"}},
		{"a generation with no result yet", gahpo.Run{ID: "r", Config: halving, Status: gahpo.RunRunning},
			[]gahpo.GenomeRecord{{ID: 1, Status: gahpo.GenomeQueued}, {ID: 2, Status: gahpo.GenomeQueued}},
			[]string{"<td>1</td><td>-</td><td>-</td><td>-</td>", "no result yet"}, []string{"<td>1</td><td>0</td>"}},
		{"stopped for failures", gahpo.Run{ID: "r", Config: halving, Status: gahpo.RunFailed, StoppedBy: gahpo.StopFailures,
			Error: "stopped for failures (--max-failures): its first 10 genomes trained all failed, none succeeded; the reason (10): ModuleNotFoundError: No module named 'torch' (gahpo query genome 1 shows it whole)"},
			[]gahpo.GenomeRecord{{ID: 1, Status: gahpo.GenomeFailed, Fitness: gahpo.Float(math.Inf(1)), RungFitness: []gahpo.Float{gahpo.Float(math.Inf(1))}, Failure: "the command failed: exit status 1"}},
			[]string{"its first 10 genomes trained, or 10 trainings resumed from a checkpoint, all failed, none succeeded (--max-failures, by default the population)",
				"failed: stopped for failures (--max-failures): its first 10 genomes trained all failed, none succeeded; the reason (10): ModuleNotFoundError: No module named &#39;torch&#39;",
				"No final training: the run stopped for failures."},
			[]string{"no genome was trained successfully", "live: updates"}},
		{"population based", gahpo.Run{ID: "r", Config: pbt, Status: gahpo.RunDone, StoppedBy: gahpo.StopMaxEpochs, EpochsSpent: 140},
			[]gahpo.GenomeRecord{
				{ID: 1, Status: gahpo.GenomeDone, Rung: 2, Fitness: 0.3, Stopped: "in the worst quarter at rung 2"},
				{ID: 2, Status: gahpo.GenomeFailed, Rung: 0, Fitness: gahpo.Float(math.Inf(1)), Stopped: "its training failed"},
				{ID: 3, Status: gahpo.GenomeDone, Rung: 13, Fitness: 0.1}},
			[]string{"population 8, 14 rungs to 14 epochs, judged every 1 epoch", "the population trained to --max-epochs 14",
				"population based training to 14 epochs, exploit and explore every 1</td>",
				"3 bred, 3 evaluated (3 trained, 0 duplicates), 1 failed, 1 stopped (their place taken by a better genome"},
			[]string{"8 generations", "× 8"}},
	}
	for _, tt := range tests {
		b, err := newPage(&Snapshot{Run: tt.run, Genomes: tt.genomes}, nil, true).exec("content")
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range tt.want {
			if !strings.Contains(string(b), w) {
				t.Errorf("%s: page lacks %q", tt.name, w)
			}
		}
		for _, w := range tt.not {
			if strings.Contains(string(b), w) {
				t.Errorf("%s: page holds %q", tt.name, w)
			}
		}
	}
}

// TestMethod: the page's and the run summary's description of how a run
// trains and breeds.
func TestMethod(t *testing.T) {
	tests := []struct {
		name string
		rc   gahpo.RunConfig
		want string
	}{
		{"the paper's", gahpo.RunConfig{}, "one-epoch fitness; generational breeding"},
		{"a problem file's fitness epochs", gahpo.RunConfig{FitnessEpochs: 3, Breeding: gahpo.BreedingSteadyState}, "fitness after 3 epochs; steady-state breeding"},
		{"halving, random", gahpo.RunConfig{Fidelity: gahpo.FidelityHalving, MinEpochs: 1, MaxEpochs: 14, Eta: 3, Breeding: gahpo.BreedingRandom},
			"successive halving over rungs of 1, 3, 9, 14 epochs (eta 3); random search"},
		{"halving of the regression, confirmed", gahpo.RunConfig{Fidelity: gahpo.FidelityHalving, MinEpochs: 10, MaxEpochs: 90, Eta: 3,
			Breeding: gahpo.BreedingSteadyState, ConfirmSeeds: 3, ConfirmTop: 2, BudgetGene: "epochs"},
			"successive halving over rungs of 10, 30, 90 epochs (eta 3); steady-state breeding; the best 2 confirmed on 3 seeds each; the rungs decide epochs"},
		{"pbt", gahpo.RunConfig{Fidelity: gahpo.FidelityPBT, MinEpochs: 2, MaxEpochs: 14}, "population based training to 14 epochs, exploit and explore every 2"},
	}
	for _, tt := range tests {
		if got := Method(tt.rc); got != tt.want {
			t.Errorf("%s: Method = %q, want %q", tt.name, got, tt.want)
		}
	}
}

// TestShellQuote: a path is written as it is when a shell reads it so,
// quoted otherwise, and sh reads every one back as the same word.
func TestShellQuote(t *testing.T) {
	tests := []struct{ in, want string }{
		{"gahpo.db", "gahpo.db"},
		{"/srv/gahpo/run-1_a+b=c,d:e@f%.db", "/srv/gahpo/run-1_a+b=c,d:e@f%.db"},
		{"my runs.db", "'my runs.db'"},
		{"it's.db", `'it'\''s.db'`},
		{"$HOME/*.db", "'$HOME/*.db'"},
		{"~/h.db", "'~/h.db'"},
		{"a\nb;c`d`\"e\"", "'a\nb;c`d`\"e\"'"},
		{"", "''"},
	}
	for _, tt := range tests {
		got := ShellQuote(tt.in)
		if got != tt.want {
			t.Errorf("ShellQuote(%q) = %s, want %s", tt.in, got, tt.want)
		}
		out, err := exec.Command("sh", "-c", "printf %s "+got).Output()
		if err != nil || string(out) != tt.in {
			t.Errorf("sh reads %s as %q (%v), want %q", got, out, err, tt.in)
		}
	}
}

// TestPageFinalAccuracy: the final training's sentence gives a test
// accuracy only for a problem that measures one (the regression has none).
func TestPageFinalAccuracy(t *testing.T) {
	for _, tt := range []struct {
		acc       float64
		want, not string
	}{
		{0.9917, "test loss 0.0268, test accuracy 99.17%; no model kept", "test accuracy -"},
		{0, "test loss 0.0268; no model kept", "test accuracy"},
	} {
		f := &gahpo.FinalTraining{GenomeID: 1, TestLoss: 0.0268, TestAccuracy: tt.acc}
		b, err := newPage(&Snapshot{Run: gahpo.Run{ID: "r", Status: gahpo.RunDone, Best: 1}, Final: f}, nil, true).exec("content")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), tt.want) || strings.Contains(string(b), tt.not) {
			t.Errorf("accuracy %v: page lacks %q or holds %q", tt.acc, tt.want, tt.not)
		}
	}
}

// TestPageNoFinal: a finished run without a final training says why, not
// "yet".
func TestPageNoFinal(t *testing.T) {
	for _, tt := range []struct {
		name string
		run  gahpo.Run
		want string
	}{
		{"running", gahpo.Run{ID: "r", Status: gahpo.RunRunning}, "No final training stored yet."},
		{"every genome failed", gahpo.Run{ID: "r", Status: gahpo.RunDone}, "No final training: no genome was trained successfully."},
		{"the final failed", gahpo.Run{ID: "r", Status: gahpo.RunFailed, Best: 3, Error: "final training failed: boom"}, "No final training: final training failed: boom."},
		{"--final-epochs 0", gahpo.Run{ID: "r", Status: gahpo.RunDone, Best: 3}, "No final training: none was asked for."},
	} {
		b, err := newPage(&Snapshot{Run: tt.run}, nil, true).exec("content")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), tt.want) {
			t.Errorf("%s: page lacks %q", tt.name, tt.want)
		}
	}
}

// TestPageFinalTime: a final training's paragraph names every worker that
// trained a rung of it and, after a population based training, says its
// time is its lineage's in all.
func TestPageFinalTime(t *testing.T) {
	steps := []gahpo.ScheduleStep{{Epoch: 1, Genome: 1}, {Epoch: 3, Genome: 3}}
	for _, tt := range []struct {
		name string
		f    gahpo.FinalTraining
		want string
	}{
		{"one-epoch", gahpo.FinalTraining{GenomeID: 3, Worker: "w2", Duration: 5 * time.Second}, "trained on w2 in 5 s:"},
		{"halving", gahpo.FinalTraining{GenomeID: 3, Worker: "w2", Workers: []string{"w2"}, Duration: 5 * time.Second}, "trained on w2 in 5 s:"},
		{"pbt", gahpo.FinalTraining{GenomeID: 3, Worker: "w2", Workers: []string{"w1", "w3", "w2"}, Duration: 5 * time.Second, Schedule: steps,
			Epochs: make([]gahpo.EpochMetrics, 3)}, "trained on w1, w3 and w2 in 5 s in all (its 3 epochs, those the genomes of its schedule trained before it included):"},
	} {
		b, err := newPage(&Snapshot{Run: gahpo.Run{ID: "r", Status: gahpo.RunDone, Best: 3}, Final: &tt.f}, nil, true).exec("content")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), tt.want) {
			t.Errorf("%s: page lacks %q", tt.name, tt.want)
		}
	}
}

// TestPageShowsTheObjectiveInItsSign: the page's (and the dashboard's)
// table of the best genomes shows a maximised objective as its trainer
// reported it, under its name (the fitness -0.97 is val_acc 0.97
// negated); a fitness as it is.
func TestPageShowsTheObjectiveInItsSign(t *testing.T) {
	tests := []struct {
		name      string
		rc        gahpo.RunConfig
		want, not string
	}{
		{"built-in", gahpo.RunConfig{Problem: "cnn"}, "<th>fitness</th><th>median</th><th>mean</th><th>failed</th><th>evaluated</th><th class=\"l\">params</th></tr>\n<tr><td>1</td><td>1</td><td>-0.97</td><td>-0.97</td><td>-0.97</td>", "val_acc"},
		{"a file, maximised", gahpo.RunConfig{Problem: "f", Objective: "val_acc", Maximize: true}, "<th>val_acc</th><th>median</th><th>mean</th><th>failed</th><th>evaluated</th><th class=\"l\">params</th></tr>\n<tr><td>1</td><td>1</td><td>0.97</td><td>0.97</td><td>0.97</td>", "-0.97"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := gahpo.GenomeRecord{ID: 1, Fitness: -0.97, Status: gahpo.GenomeDone, Params: map[string]float64{"x": 9}}
			s := &Snapshot{Run: gahpo.Run{ID: "r", Status: gahpo.RunRunning, Config: tt.rc}, Genomes: []gahpo.GenomeRecord{g}}
			b, err := newPage(s, nil, true).exec("content")
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(b), tt.want) || strings.Contains(string(b), tt.not) {
				t.Errorf("page lacks %q or holds %q:\n%s", tt.want, tt.not, b)
			}
		})
	}
}

// TestPageAccuracyColumn: the table of the best genomes has an accuracy
// column when some genome of the run has an accuracy (the CNN's), and
// none, rather than a column of dashes, when no genome has one (the
// regression, a problem file's trainer that reports a loss only); a
// generation with no result yet keeps its row as wide as the header.
func TestPageAccuracyColumn(t *testing.T) {
	tests := []struct {
		name     string
		problem  string
		accuracy float64
		want     []string
		not      string
	}{
		{"cnn", "cnn", 0.97, []string{"<th>fitness</th><th>accuracy</th><th>median</th>", "<td>0.05</td><td>97.00%</td>",
			"<tr><td>2</td><td>-</td><td>-</td><td>-</td><td>-</td><td>-</td>"}, ""},
		{"regression", "regression", 0, []string{"<th>fitness</th><th>median</th>", "<td>0.05</td><td>0.05</td>",
			"<tr><td>2</td><td>-</td><td>-</td><td>-</td><td>-</td><td>0</td>"}, "accuracy"},
		{"a file's loss", "myfile", 0, []string{"<th>fitness</th><th>median</th>"}, "accuracy"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gs := []gahpo.GenomeRecord{
				{ID: 1, Fitness: 0.05, Accuracy: tt.accuracy, Status: gahpo.GenomeDone, Params: map[string]float64{"x": 1}},
				{ID: 2, Generation: 1, Fitness: gahpo.Float(math.NaN()), Status: gahpo.GenomeQueued, Params: map[string]float64{"x": 2}},
			}
			s := &Snapshot{Run: gahpo.Run{ID: "r", Status: gahpo.RunRunning, Config: gahpo.RunConfig{Problem: tt.problem}}, Genomes: gs}
			b, err := newPage(s, nil, true).exec("content")
			if err != nil {
				t.Fatal(err)
			}
			table := string(b)
			if i, j := strings.Index(table, `<table id="generations">`), strings.Index(table, "</table>\n<h2>Final"); i >= 0 && j > i {
				table = table[i:j]
			}
			for _, w := range tt.want {
				if !strings.Contains(table, w) {
					t.Errorf("table lacks %q:\n%s", w, table)
				}
			}
			if tt.not != "" && strings.Contains(table, tt.not) {
				t.Errorf("table holds %q:\n%s", tt.not, table)
			}
		})
	}
}
