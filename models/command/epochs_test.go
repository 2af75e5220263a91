package command

import (
	"slices"
	"testing"

	"github.com/gahpo/gahpo"
	"github.com/gahpo/gahpo/problemfile"
)

// TestTaskEpochs: what GAHPO_EPOCHS tells the command. The coordinator
// names a one-epoch fitness's epochs (the budget's min) and a final
// training's; a task of a run stored before it did (epochs 0) trains the
// budget's max, as that run's genomes did.
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
		{"a one-epoch fitness at the budget's min", fit(1), b, 1},
		{"a fitness of an older run: the budget's max", fit(0), b, 14},
		{"a final training of --final-epochs", final(5), b, 5},
		{"a final training without epochs: the budget's max", final(0), b, 14},
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

// TestInherited: what of the worker's environment a command gets.
func TestInherited(t *testing.T) {
	tests := []struct {
		name string
		in   []string
		want []string
	}{
		{"the rest passes", []string{"PATH=/bin", "HOME=/root", "CUDA_HOME=/usr/local/cuda", "NATS_URL=nats://x"}, []string{"PATH=/bin", "HOME=/root", "CUDA_HOME=/usr/local/cuda", "NATS_URL=nats://x"}},
		{"the worker's secrets do not", []string{"GAHPO_NATS_PASSWORD=pw", "PATH=/bin", "GAHPO_NATS_TOKEN=t", "GAHPO_HTTP_TOKEN=h", "GAHPO_NATS_PASSWORD_FILE=/run/secrets/p"}, []string{"PATH=/bin"}},
		{"nor systemd's credentials", []string{"CREDENTIALS_DIRECTORY=/run/credentials/gahpo-worker@1.service", "LANG=C"}, []string{"LANG=C"}},
		{"nor a setting left from the shell", []string{"GAHPO_TRAIN_SUBSET=1000", "GAHPO_EPOCHS=3", "GAHPO_=x"}, []string{}},
		{"a name only like it passes", []string{"MY_GAHPO_X=1", "gahpo_lower=2", "GAHPO=3"}, []string{"MY_GAHPO_X=1", "gahpo_lower=2", "GAHPO=3"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := inherited(tt.in); !slices.Equal(got, tt.want) {
				t.Errorf("inherited(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}
