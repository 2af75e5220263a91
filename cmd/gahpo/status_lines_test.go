package main

import (
	"strings"
	"testing"
	"time"

	"github.com/gahpo/gahpo"
)

// TestPrintStatusLines compares printStatus's whole text, line by line,
// for a status of each kind with every part it can print: a fault, the
// holders of a genome and of its confirmation trainings (the curve shown
// once), the ETA of a generation, and a maximised objective's best.
func TestPrintStatusLines(t *testing.T) {
	mean := gahpo.Float(-0.91)
	tests := []struct {
		name string
		st   gahpo.Status
		want string
	}{
		{"generational, with a fault and the generation's ETA", gahpo.Status{RunID: "r1", Problem: "cnn", State: gahpo.RunRunning, Generation: 3, Generations: 5,
			Population: 4, Done: 1, InFlight: 2, Queued: 1, Failed: 1, Fault: "the history file is full",
			Holders: []gahpo.Holder{{GenomeID: 9, Worker: "w1", Attempt: 2, Since: time.Now().Add(time.Hour)}},
			GenETA:  90 * time.Second, RunETA: 10 * time.Minute,
			Best: &gahpo.BestEntry{GenomeID: 7, Generation: 2, Fitness: 0.04, Params: map[string]float64{"lr": 0.5}}},
			"run r1 (cnn): running, generation 3/5\n" +
				"  FAULT: the history file is full\n" +
				"  1/4 done, 2 in flight, 1 queued, 1 failed\n" +
				"  genome 9 on w1 (attempt 2) for -1 h\n" +
				"  ETA: generation 1 min 30 s, run 10 min\n" +
				"  best so far: genome 7 (generation 2) fitness 0.04 lr=0.5\n"},
		{"steady state, confirming, maximised", gahpo.Status{RunID: "r2", Problem: "p", State: gahpo.RunRunning, Breeding: gahpo.BreedingSteadyState,
			Bred: 10, Budget: 20, InFlight: 3, Outstanding: 2, Confirming: 2, Rungs: []int{10}, EpochsSpent: 12, Objective: "val_acc", Maximize: true,
			Holders: []gahpo.Holder{{GenomeID: 4, Worker: "w1", Attempt: 1, Since: time.Now().Add(time.Hour)},
				{GenomeID: 4, Replicate: 1, Worker: "w2", Attempt: 1, Since: time.Now().Add(time.Hour)},
				{GenomeID: 5, Worker: "w3", Attempt: 3, Since: time.Now().Add(time.Hour)}},
			Curves: map[int][]gahpo.EpochReport{4: {{Epoch: 1}, {Epoch: 2}}},
			RunETA: time.Minute,
			Best:   &gahpo.BestEntry{GenomeID: 4, Generation: 1, Epochs: 2, Fitness: -0.9, Seeds: 3, ConfirmedFitness: &mean, Params: map[string]float64{"lr": 0.5}},
			Final:  []gahpo.EpochMetrics{{Epoch: 1, TestLoss: 0.5}}},
			"run r2 (p): running, steady-state breeding, one-epoch fidelity\n" +
				"  10/20 genomes bred, 3 in flight, 0 queued, 2 outstanding\n" +
				"  results per rung: 10\n" +
				"  confirming the best genomes on other seeds: 2 trainings left\n" +
				"  epoch-trainings spent or under way: 12\n" +
				"  genome 4 on w1 (attempt 1) for -1 h, epoch 2 done\n" +
				"  genome 4 (confirmation training 1) on w2 (attempt 1) for -1 h\n" +
				"  genome 5 on w3 (attempt 3) for -1 h\n" +
				"  ETA of the run: 1 min\n" +
				"  best so far: genome 4 (2 epochs) mean val_acc 0.91 over 3 trainings (its own: 0.9) lr=0.5\n" +
				"  final epoch 1: test loss 0.5\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b strings.Builder
			printStatus(&b, tt.st)
			if got := b.String(); got != tt.want {
				t.Errorf("printStatus:\n%s\nwant:\n%s", got, tt.want)
			}
		})
	}
}
