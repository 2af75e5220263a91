package gahpo_test

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/gahpo/gahpo"
)

// TestTaskSchedule: a replicate of a population based training's genome
// carries its schedule; a schedule that no training could follow is a bad
// message, refused before any training.
func TestTaskSchedule(t *testing.T) {
	p := func(lr float64) map[string]float64 { return map[string]float64{"lr": lr} }
	task := func(epochs int, steps ...gahpo.ScheduleStep) gahpo.Task {
		return gahpo.Task{V: gahpo.MessageVersion, Kind: gahpo.KindFitness, RunID: "r", GenomeID: 3, Problem: "regression",
			Params: p(1), Epochs: epochs, Replicate: 1, Schedule: steps}
	}
	step := func(epoch int, lr float64) gahpo.ScheduleStep { return gahpo.ScheduleStep{Epoch: epoch, Params: p(lr)} }
	fromCheckpoint := task(4, step(1, 1), step(3, 0.5))
	fromCheckpoint.FromEpochs = 2
	final := task(4, step(1, 1), step(3, 0.5))
	final.Kind, final.Replicate = gahpo.KindFinal, 0
	tests := []struct {
		name string
		task gahpo.Task
		err  string
	}{
		{"none", task(4), ""},
		{"two steps", task(4, step(1, 1), step(3, 0.5)), ""},
		{"a step at the last epoch", task(4, step(1, 1), step(4, 0.5)), ""},
		{"starts later", task(4, step(2, 1)), "starts at epoch 2"},
		{"steps out of order", task(4, step(1, 1), step(3, 0.5), step(3, 0.2)), "step 3 at epoch 3, not after epoch 3"},
		{"a step beyond the epochs", task(4, step(1, 1), step(5, 0.5)), "beyond the task's 4 epochs"},
		{"a step without params", task(4, step(1, 1), gahpo.ScheduleStep{Epoch: 2}), "step 2 without params"},
		{"no epochs", task(0, step(1, 1)), "not a fitness training from scratch"},
		{"from a checkpoint", fromCheckpoint, "not a fitness training from scratch"},
		{"on a final training", final, "not a fitness training from scratch"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.task.Validate()
			switch {
			case tt.err == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err) || !errors.Is(err, gahpo.ErrBadMessage)):
				t.Errorf("error %v, want a bad message saying %q", err, tt.err)
			}
		})
	}
}

// TestEpochReportFixed: a metric the trainer did not report is not 0 in
// the fixed form: a loss is NaN (none), a learning rate or accuracy 0
// (none); one reported passes through.
func TestEpochReportFixed(t *testing.T) {
	nan := gahpo.Float(math.NaN())
	tests := []struct {
		name    string
		metrics map[string]gahpo.Float
		want    gahpo.EpochMetrics
	}{
		{"the CNN's", map[string]gahpo.Float{"lr": 0.7, "train_loss": 0.1, "test_loss": 0.03, "test_accuracy": 0.99},
			gahpo.EpochMetrics{Epoch: 2, LR: 0.7, TrainLoss: 0.1, TestLoss: 0.03, TestAccuracy: 0.99, Duration: time.Second}},
		{"a command's val_loss only", map[string]gahpo.Float{"val_loss": 0.2, "acc": 0.9},
			gahpo.EpochMetrics{Epoch: 2, TrainLoss: nan, TestLoss: nan, Duration: time.Second}},
		{"a NaN learning rate", map[string]gahpo.Float{"lr": nan, "test_loss": 0.5},
			gahpo.EpochMetrics{Epoch: 2, TrainLoss: nan, TestLoss: 0.5, Duration: time.Second}},
	}
	same := func(a, b gahpo.Float) bool { return a == b || math.IsNaN(float64(a)) && math.IsNaN(float64(b)) }
	for _, tt := range tests {
		got := gahpo.EpochReport{Epoch: 2, Duration: time.Second, Metrics: tt.metrics}.Fixed()
		if got.Epoch != tt.want.Epoch || got.LR != tt.want.LR || !same(got.TrainLoss, tt.want.TrainLoss) || !same(got.TestLoss, tt.want.TestLoss) ||
			got.TestAccuracy != tt.want.TestAccuracy || got.Duration != tt.want.Duration {
			t.Errorf("%s: %+v, want %+v", tt.name, got, tt.want)
		}
	}
}
