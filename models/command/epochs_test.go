package command

import (
	"testing"

	"github.com/gahpo/gahpo"
	"github.com/gahpo/gahpo/problemfile"
)

// TestTaskEpochs: what GAHPO_EPOCHS tells the command. A one-epoch search
// of a file with a budget evaluates at the budget's lowest, not its
// highest, and its final training trains the highest.
func TestTaskEpochs(t *testing.T) {
	b := &problemfile.Budget{Min: 1, Max: 14}
	fit := func(epochs int) gahpo.Task { return gahpo.Task{Kind: gahpo.KindFitness, Epochs: epochs} }
	final := func(epochs int) gahpo.Task { return gahpo.Task{Kind: gahpo.KindFinal, Epochs: epochs} }
	tests := []struct {
		name   string
		task   gahpo.Task
		budget *problemfile.Budget
		want   int
	}{
		{"a rung names its epochs", fit(3), b, 3},
		{"a one-epoch fitness: the budget's lowest", fit(0), b, 1},
		{"a one-epoch fitness, a budget from 2", fit(0), &problemfile.Budget{Min: 2, Max: 9}, 2},
		{"a final training of --final-epochs", final(5), b, 5},
		{"a final training without epochs: the budget's highest", final(0), b, 14},
		{"no budget, no epochs: unset", fit(0), nil, 0},
		{"no budget, a final training: unset", final(0), nil, 0},
		{"no budget, a rung", fit(4), nil, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := taskEpochs(tt.task, tt.budget); got != tt.want {
				t.Errorf("taskEpochs = %d, want %d", got, tt.want)
			}
		})
	}
}
