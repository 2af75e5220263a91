package coordinator

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/gahpo/gahpo"
)

// TestProgressPlain: without a terminal, a steady-state or halving run
// prints its progress as plain lines, at most one a minute and only when
// it changed; a generational run leaves it to its generation lines.
func TestProgressPlain(t *testing.T) {
	t0 := time.Date(2026, 12, 1, 20, 0, 0, 0, time.UTC)
	steady := func(bred int) gahpo.Status {
		return gahpo.Status{State: gahpo.RunRunning, Breeding: gahpo.BreedingSteadyState, Fidelity: gahpo.FidelityHalving,
			Bred: bred, Budget: 72, InFlight: 2, Queued: 1, Rungs: []int{bred, 1}}
	}
	generational := gahpo.Status{State: gahpo.RunRunning, Generation: 2, Generations: 6, Population: 12, Done: 5}
	tests := []struct {
		name  string
		draws []gahpo.Status
		at    []time.Duration // since t0
		want  []string        // lines printed, in order
	}{
		{"first line at once", []gahpo.Status{steady(3)}, []time.Duration{0},
			[]string{"20:00:00 genomes 3/72 bred, 2 training, 1 queued, results per rung 3/1"}},
		{"not twice a minute", []gahpo.Status{steady(3), steady(4)}, []time.Duration{0, 30 * time.Second},
			[]string{"20:00:00 genomes 3/72"}},
		{"again after a minute", []gahpo.Status{steady(3), steady(4)}, []time.Duration{0, 61 * time.Second},
			[]string{"20:00:00 genomes 3/72", "20:01:01 genomes 4/72"}},
		{"not when unchanged", []gahpo.Status{steady(3), steady(3)}, []time.Duration{0, 5 * time.Minute},
			[]string{"20:00:00 genomes 3/72"}},
		{"generational: no plain line", []gahpo.Status{generational}, []time.Duration{0}, nil},
		{"pbt: replacements, not a budget", []gahpo.Status{{State: gahpo.RunRunning, Fidelity: gahpo.FidelityPBT, Population: 8,
			Bred: 11, Budget: 8, InFlight: 2, Queued: 4, Rungs: []int{8, 3}}}, []time.Duration{0},
			[]string{"20:00:00 genomes 11 (3 replacements), 2 training, 4 queued, results per rung 8/3"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out strings.Builder
			p := newProgress(&out, false)
			for i, st := range tt.draws {
				if now := t0.Add(tt.at[i]); p.due(now) {
					p.draw(st, now)
				}
			}
			lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
			if out.Len() == 0 {
				lines = nil
			}
			if len(lines) != len(tt.want) {
				t.Fatalf("printed %q, want %d lines starting %q", out.String(), len(tt.want), tt.want)
			}
			for i, w := range tt.want {
				if !strings.HasPrefix(lines[i], w) {
					t.Errorf("line %d %q, want it to start %q", i, lines[i], w)
				}
			}
			if strings.Contains(out.String(), "\r") {
				t.Errorf("a plain line holds a carriage return: %q", out.String())
			}
		})
	}
}

// TestProgressBar: on a terminal the line is redrawn in place, padded over
// a longer previous one.
func TestProgressBar(t *testing.T) {
	var out strings.Builder
	p := newProgress(&out, true)
	now := time.Now()
	st := gahpo.Status{State: gahpo.RunRunning, Breeding: gahpo.BreedingSteadyState, Bred: 10, Budget: 72}
	p.draw(st, now)
	st.Bred = 9
	st.Budget = 7
	p.draw(st, now)
	got := out.String()
	if strings.Count(got, "\r") != 2 || strings.Contains(got, "\n") {
		t.Fatalf("bar output %q: want two redraws in place", got)
	}
	if !strings.HasSuffix(got, "genomes 9/7 bred, 0 training, 0 queued  ") {
		t.Errorf("bar output %q: want the shorter line padded by 2", got)
	}
}

// TestProgressLineConfirming: while the best genomes train on other seeds,
// the line says so (no genome is queued or training then).
func TestProgressLineConfirming(t *testing.T) {
	st := gahpo.Status{State: gahpo.RunRunning, Fidelity: gahpo.FidelityHalving, Bred: 18, Budget: 18, Rungs: []int{18, 6, 2}, Confirming: 4}
	if got := progressLine(st); !strings.Contains(got, "confirming the best on other seeds: 4 trainings left") {
		t.Errorf("progress line %q does not tell the confirmation", got)
	}
	st.Confirming = 0
	if got := progressLine(st); strings.Contains(got, "confirming") {
		t.Errorf("progress line %q tells a confirmation that is not under way", got)
	}
	st.Best = &gahpo.BestEntry{GenomeID: 3, Fitness: 0.5127, Epochs: 1}
	if got := progressLine(st); !strings.Contains(got, "best 0.5127 at 1 epoch") || strings.Contains(got, "1 epochs") {
		t.Errorf("progress line %q: want its best at 1 epoch", got)
	}
	f := gahpo.Float(0.0312)
	st.Best = &gahpo.BestEntry{GenomeID: 7, Fitness: 0.0250, Epochs: 9, Seeds: 2, ConfirmedFitness: &f}
	if got := progressLine(st); !strings.Contains(got, "best genome 7: 0.0312 mean of 2 trainings at 9 epochs") {
		t.Errorf("progress line %q does not rank the best on its trainings' mean", got)
	}
}

// TestGenerationDoneSays: a summary's line says what its fitness is of: a
// generation (from 1), its first rung under halving, a rung under pbt
// (from 0, as in the JSON).
func TestGenerationDoneSays(t *testing.T) {
	sum := gahpo.GenerationSummary{Generation: 1, Best: 7, Fitness: 0.5, Median: 0.6, Mean: 0.7}
	tests := []struct {
		name string
		rc   gahpo.RunConfig
		want string
	}{
		{"one-epoch", gahpo.RunConfig{}, "generation 2 done: best genome 7 fitness 0.5"},
		{"halving", gahpo.RunConfig{Fidelity: gahpo.FidelityHalving, MinEpochs: 1, MaxEpochs: 9, Eta: 3}, "generation 2 done (its first rung, 1 epoch): best genome 7"},
		{"pbt", gahpo.RunConfig{Fidelity: gahpo.FidelityPBT, MinEpochs: 2, MaxEpochs: 8}, "rung 1 done (4 epochs): best genome 7"},
	}
	for _, tt := range tests {
		var out strings.Builder
		newProgress(&out, false).generationDone(sum, tt.rc)
		if !strings.HasPrefix(out.String(), tt.want) {
			t.Errorf("%s: %q, want it to start %q", tt.name, out.String(), tt.want)
		}
	}
}

// TestFinalEpochLine: without a bar, a slow epoch of the final training
// is a line with what the training measured; a problem file's trainer,
// which reports its own metrics and often no test loss, had "test loss
// NaN" there and not its objective.
func TestFinalEpochLine(t *testing.T) {
	nan := gahpo.Float(math.NaN())
	tests := []struct {
		name      string
		e         gahpo.EpochMetrics
		rep       *gahpo.EpochReport
		objective string
		want      string
	}{
		{"the CNN", gahpo.EpochMetrics{Epoch: 1, TrainLoss: 0.1883, TestLoss: 0.0546, TestAccuracy: 0.9828, Duration: 144 * time.Second}, nil, "",
			"final training epoch 1: train loss 0.1883, test loss 0.0546, test accuracy 98.28% (2 min 24 s)\n"},
		{"a problem file's objective, no test loss", gahpo.EpochMetrics{Epoch: 3, TrainLoss: 0.2322, TestLoss: nan, Duration: 4200 * time.Millisecond},
			&gahpo.EpochReport{Epoch: 3, Metrics: map[string]gahpo.Float{"train_loss": 0.2322, "val_loss": 0.1962}}, "val_loss",
			"final training epoch 3: val_loss 0.1962, train loss 0.2322 (4.2 s)\n"},
		{"nothing known but the objective", gahpo.EpochMetrics{Epoch: 2, TrainLoss: nan, TestLoss: nan, Duration: 2 * time.Second},
			&gahpo.EpochReport{Epoch: 2, Metrics: map[string]gahpo.Float{"val_acc": 0.94}}, "val_acc",
			"final training epoch 2: val_acc 0.94 (2 s)\n"},
		{"no figures at all", gahpo.EpochMetrics{Epoch: 2, TrainLoss: nan, TestLoss: nan, Duration: 2 * time.Second}, nil, "val_acc",
			"final training epoch 2 (2 s)\n"},
		{"a quick epoch: no line", gahpo.EpochMetrics{Epoch: 2, TrainLoss: 0.5, TestLoss: nan, Duration: time.Millisecond}, nil, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out strings.Builder
			newProgress(&out, false).finalEpoch(tt.e, tt.rep, tt.objective)
			if out.String() != tt.want {
				t.Errorf("printed %q, want %q", out.String(), tt.want)
			}
		})
	}
}

// TestProgressShowsTheObjectiveInItsSign: a generation's line and the bar
// show a maximised objective as the trainer reported it, under its name
// (its fitness, -0.97, is val_acc 0.97 negated); a fitness as it is.
func TestProgressShowsTheObjectiveInItsSign(t *testing.T) {
	sum := gahpo.GenerationSummary{Generation: 0, Best: 3, Fitness: -0.97, Median: -0.9, Mean: -0.85}
	tests := []struct {
		name            string
		objective       string
		maximize        bool
		line, bar, bar2 string
	}{
		{"built-in", "", false, "best genome 3 fitness -0.97, median -0.9, mean -0.85,", ", best -0.97 at 3 epochs", ", best -0.97"},
		{"a file, minimised", "val_loss", false, "best genome 3 fitness -0.97, median -0.9, mean -0.85,", ", best -0.97 at 3 epochs", ", best -0.97"},
		{"a file, maximised", "val_acc", true, "best genome 3 val_acc 0.97, median 0.9, mean 0.85,", ", best val_acc 0.97 at 3 epochs", ", best val_acc 0.97"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var w strings.Builder
			newProgress(&w, false).generationDone(sum, gahpo.RunConfig{Objective: tt.objective, Maximize: tt.maximize})
			if !strings.Contains(w.String(), tt.line) {
				t.Errorf("generation's line %q, want it to hold %q", w.String(), tt.line)
			}
			best := &gahpo.BestEntry{GenomeID: 3, Fitness: -0.97, Epochs: 3}
			st := gahpo.Status{State: gahpo.RunRunning, Fidelity: gahpo.FidelityHalving, Best: best, Objective: tt.objective, Maximize: tt.maximize}
			if got := progressLine(st); !strings.Contains(got, tt.bar) {
				t.Errorf("bar %q, want it to hold %q", got, tt.bar)
			}
			st.Fidelity, st.Population = "", 4
			if got := progressLine(st); !strings.HasSuffix(got, tt.bar2) {
				t.Errorf("bar %q, want it to end %q", got, tt.bar2)
			}
		})
	}
}
