package problems_test

import (
	"context"
	"errors"
	"testing"

	"github.com/gahpo/gahpo"
	"github.com/gahpo/gahpo/models"
	"github.com/gahpo/gahpo/models/problems"
	"github.com/gahpo/gahpo/models/regression"
)

// TestErrorsSayWhoseFault checks which trainer errors mark the task as
// untrainable (a worker fails the genome at once) and which do not (the
// task is tried again): the distinction the worker acts on.
func TestErrorsSayWhoseFault(t *testing.T) {
	tr := problems.NewTrainer()
	valid := map[string]float64{regression.ParamLR: 0.05, regression.ParamBatchSize: 16, regression.ParamEpochs: 10}
	outOfRange := map[string]float64{regression.ParamLR: 5, regression.ParamBatchSize: 16, regression.ParamEpochs: 10}
	tests := []struct {
		name        string
		problem     string
		params      map[string]float64
		untrainable bool
		ok          bool
	}{
		{"valid genome", problems.Regression, valid, false, true},
		{"lr out of range", problems.Regression, outOfRange, true, false},
		{"missing parameter", problems.Regression, map[string]float64{regression.ParamLR: 0.1}, true, false},
		{"unknown problem: another worker may have it", "nope", valid, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			task := gahpo.Task{V: gahpo.MessageVersion, Kind: gahpo.KindFitness, RunID: "r", GenomeID: 1, Problem: tt.problem,
				Params: tt.params, Seed: 1, DataSeed: 1}
			_, err := tr.Fitness(context.Background(), task, "")
			if (err == nil) != tt.ok {
				t.Fatalf("Fitness error %v, want ok=%v", err, tt.ok)
			}
			if got := errors.Is(err, models.ErrUntrainable); got != tt.untrainable {
				t.Errorf("errors.Is(%v, ErrUntrainable) = %v, want %v", err, got, tt.untrainable)
			}
			task.Kind = gahpo.KindFinal
			_, err = tr.Final(context.Background(), task, "", func(models.EpochMetrics) {})
			if (err == nil) != tt.ok || errors.Is(err, models.ErrUntrainable) != tt.untrainable {
				t.Errorf("Final error %v, want ok=%v untrainable=%v", err, tt.ok, tt.untrainable)
			}
		})
	}
	// The worker's own trouble is not the genome's: a CNN task whose data
	// folder is missing must be tried again elsewhere.
	task := gahpo.Task{V: gahpo.MessageVersion, Kind: gahpo.KindFitness, RunID: "r", GenomeID: 2, Problem: problems.CNN,
		Params: map[string]float64{"batch_size": 64, "lr": 1, "gamma": 0.7, "weight_decay": 1e-6}, Seed: 1}
	if _, err := tr.Fitness(context.Background(), task, t.TempDir()); err == nil || errors.Is(err, models.ErrUntrainable) {
		t.Errorf("CNN fitness on an empty data folder: %v, want an error that is not ErrUntrainable", err)
	}
}
