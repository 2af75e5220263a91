package gahpo_test

import (
	"errors"
	"strings"
	"testing"

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
