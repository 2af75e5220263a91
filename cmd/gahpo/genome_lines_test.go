package main

import (
	"bytes"
	"testing"
	"time"

	"github.com/gahpo/gahpo"
)

// TestPrintGenomeLines compares printGenome's whole text for genomes with
// every row it can print: accuracy, parents, a duplicate, a genome that
// exploited another, and confirmation trainings (queued, done with their
// test figures, failed).
func TestPrintGenomeLines(t *testing.T) {
	mean := gahpo.Float(0.031)
	tests := []struct {
		name string
		rc   gahpo.RunConfig
		g    gahpo.GenomeRecord
		want string
	}{
		{"a duplicate bred from two parents", gahpo.RunConfig{}, gahpo.GenomeRecord{ID: 12, Generation: 2, Status: gahpo.GenomeDuplicate, Fitness: 0.04,
			Accuracy: 0.987, Params: map[string]float64{"lr": 0.5}, Parents: []int{3, 7}, Ops: []string{"crossover", "mutate"}, DuplicateOf: 5,
			Worker: "w1", Duration: 1500 * time.Millisecond, Epochs: 1, Attempts: 2, Seed: 42},
			"genome      12\n" +
				"generation  2\n" +
				"status      duplicate\n" +
				"fitness     0.04\n" +
				"accuracy    98.70%\n" +
				"params      lr=0.5\n" +
				"parents     3 7\n" +
				"ops         crossover, mutate\n" +
				"same as     5\n" +
				"worker      w1\n" +
				"duration    1.5 s\n" +
				"epochs      1\n" +
				"attempts    2\n" +
				"seed        42\n"},
		{"confirmed on other seeds", gahpo.RunConfig{Objective: "val_acc", Maximize: true}, gahpo.GenomeRecord{ID: 4, Status: gahpo.GenomeDone, Fitness: -0.9,
			Params: map[string]float64{"lr": 0.5}, Rung: 2, Epochs: 4, Seed: 7, ConfirmedFitness: &mean,
			Replicates: []gahpo.Replicate{
				{Seed: 8, Status: gahpo.GenomeDone, Fitness: -0.92, Curve: []gahpo.EpochReport{{Epoch: 1}, {Epoch: 4, Metrics: map[string]gahpo.Float{"test_loss": 0.25, "test_accuracy": 0.93}}}},
				{Seed: 9, Status: gahpo.GenomeFailed, Fitness: 0, Failure: "out of memory"},
				{Seed: 10, Status: gahpo.GenomeQueued}}},
			"genome       4\n" +
				"generation   0\n" +
				"status       done\n" +
				"val_acc      0.9\n" +
				"params       lr=0.5\n" +
				"epochs       4\n" +
				"rung         2\n" +
				"seed         7\n" +
				"confirmed    mean val_acc -0.031 over 4 trainings\n" +
				"replicate 1  seed 8, done, val_acc 0.92, test loss 0.25, test accuracy 93.00%\n" +
				"replicate 2  seed 9, failed, val_acc -0 (out of memory)\n" +
				"replicate 3  seed 10, queued\n"},
		{"exploited another", gahpo.RunConfig{}, gahpo.GenomeRecord{ID: 21, Generation: 3, Status: gahpo.GenomeDone, Fitness: 0.2,
			Params: map[string]float64{"lr": 0.1}, Exploited: 15, Replaces: 3, Inherited: 1,
			Schedule: []gahpo.ScheduleStep{{Epoch: 1, Genome: 15}, {Epoch: 5, Genome: 21}}, Epochs: 8, Seed: 1, Duration: 2 * time.Second, Log: []string{"hello"}},
			"genome      21\n" +
				"generation  3\n" +
				"status      done\n" +
				"fitness     0.2\n" +
				"params      lr=0.1\n" +
				"exploited   genome 15 (its first 4 epochs are that genome's), in the place of genome 3\n" +
				"schedule    1:;5:\n" +
				"duration    2 s\n" +
				"epochs      8\n" +
				"seed        1\n" +
				"output, the lines that were not metrics:\n" +
				"  hello\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			printGenome(&b, tt.rc, tt.g, lineage{})
			if got := b.String(); got != tt.want {
				t.Errorf("printGenome:\n%s\nwant:\n%s", got, tt.want)
			}
		})
	}
}

// TestChosenLines: the best genome of a run chosen on the mean of its
// trainings says so the same way under query best and query final, each
// pointing at where its own training's figure is.
func TestChosenLines(t *testing.T) {
	mean := gahpo.Float(-0.91)
	rc := gahpo.RunConfig{Objective: "val_acc", Maximize: true}
	tests := []struct {
		name  string
		print func(w *bytes.Buffer)
		want  string
	}{
		{"query best", func(w *bytes.Buffer) {
			printChosen(w, rc, gahpo.BestEntry{GenomeID: 4, Seeds: 3, ConfirmedFitness: &mean})
		}, "chosen on 3 trainings (its own and 2 with other seeds): mean val_acc 0.91; VAL_ACC above is its own (gahpo query genome 4 shows the others)\n"},
		{"query final", func(w *bytes.Buffer) {
			printFinal(w, rc, gahpo.FinalTraining{GenomeID: 4, Seeds: 3, ConfirmedFitness: &mean}, lineage{})
		}, "chosen on 3 trainings (its own and 2 with other seeds): mean val_acc 0.91; below, its own (gahpo query genome 4 shows the others)\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			tt.print(&b)
			if !bytes.Contains(b.Bytes(), []byte(tt.want)) {
				t.Errorf("printed:\n%s\nwant the line %q", b.String(), tt.want)
			}
		})
	}
}
