package main

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gahpo/gahpo"
	"github.com/gahpo/gahpo/models"
	"github.com/gahpo/gahpo/models/cnn"
	"github.com/gahpo/gahpo/models/mnist"
	"github.com/gahpo/gahpo/models/problems"
)

func TestMain_Full(t *testing.T) {
	if testing.Short() {
		t.Skip("trains the CNN on the full MNIST set: -short")
	}
	out := filepath.Join(t.TempDir(), "w.bin")
	report := filepath.Join(t.TempDir(), "r.json")
	var stdout, stderr bytes.Buffer
	m := NewMain(&stdout, &stderr)
	if err := m.ParseFlags([]string{"-epochs", "2", "-batch", "32", "-seed", "5", "-train-images", "128", "-test-images", "100", "-out", out, "-json", report}); err != nil {
		t.Fatal(err)
	}
	if err := m.Run(context.Background()); err != nil {
		t.Fatalf("Run: %v\n%s", err, stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "epoch  1  lr 1.000000") ||
		!strings.HasPrefix(lines[1], "epoch  2  lr 0.700000") || !strings.HasPrefix(lines[2], "final") {
		t.Errorf("output:\n%s", stdout.String())
	}
	// -json holds what was printed, and the settings.
	r, err := cnn.ReadReport(report)
	if err != nil {
		t.Fatalf("-json: %v", err)
	}
	if r.Seed != 5 || r.BatchSize != 32 || r.LR != 1 || r.Gamma != 0.7 || r.Schedule != "" || r.TrainImages != 128 ||
		r.TestImages != 100 || len(r.Epochs) != 2 || r.Epochs[1].LR != 0.7 || r.TestLoss != r.Epochs[1].TestLoss || r.TrainSeconds <= 0 ||
		!strings.Contains(lines[2], fmt.Sprintf("test_loss %.4f  test_acc %.2f%%", r.TestLoss, 100*r.TestAccuracy)) {
		t.Errorf("-json report %+v\nagainst the final line %q", r, lines[2])
	}
	if fi, err := os.Stat(report); err != nil {
		t.Fatal(err)
	} else if fi.Mode().Perm() != 0o644 {
		t.Errorf("-json report: mode %v; want 0644 as the weights", fi.Mode().Perm())
	}
	if ents, _ := os.ReadDir(filepath.Dir(report)); len(ents) != 1 {
		t.Errorf("-json left %d files beside its report, want none", len(ents)-1)
	}

	w, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	_, test, err := mnist.Load("")
	if err != nil {
		t.Fatal(err)
	}
	loss, acc, err := cnn.Evaluate(context.Background(), w, test.Slice(0, 100))
	if err != nil {
		t.Fatalf("Evaluate the written weights: %v", err)
	}

	// -eval prints the same figures as the training's last epoch.
	stdout.Reset()
	m = NewMain(&stdout, &stderr)
	if err := m.ParseFlags([]string{"-eval", out, "-test-images", "100"}); err != nil {
		t.Fatal(err)
	}
	if err := m.Run(context.Background()); err != nil {
		t.Fatalf("Run -eval: %v", err)
	}
	want := fmt.Sprintf("eval  test_loss %.4f  test_acc %.2f%%  images 100", loss, 100*acc)
	if !strings.HasPrefix(stdout.String(), want) || !strings.Contains(lines[2], fmt.Sprintf("test_loss %.4f  test_acc %.2f%%", loss, 100*acc)) {
		t.Errorf("-eval printed %q, want %q as the training's final line %q", stdout.String(), want, lines[2])
	}
}

func TestMain_Flags(t *testing.T) {
	for _, args := range [][]string{
		{"-batch", "0"},
		{"-lr", "-1"},
		{"-gamma", "2"},
		{"-train-images", "-5"},
		{"-fitness", "-json", "r.json"},
		{"-eval", "w.bin", "-json", "r.json"},
		{"extra"},
	} {
		if err := NewMain(&bytes.Buffer{}, &bytes.Buffer{}).ParseFlags(args); err == nil {
			t.Errorf("ParseFlags(%q): no error", args)
		}
	}
}

func TestMain_Fitness(t *testing.T) {
	var stdout bytes.Buffer
	m := NewMain(&stdout, &bytes.Buffer{})
	if err := m.ParseFlags([]string{"-fitness", "-batch", "32", "-train-images", "64"}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // only the plumbing is tested here: a cancelled run fails fast
	if err := m.Run(ctx); err == nil || !strings.Contains(err.Error(), "canceled") {
		t.Errorf("cancelled fitness: err = %v", err)
	}
}

// TestMain_Schedule trains a schedule of one step (the plain training's
// figures, to the bit as printed) and of two (the second step's rate is the
// first's next, scaled by its lr over the first's).
func TestMain_Schedule(t *testing.T) {
	if testing.Short() {
		t.Skip("trains the CNN on MNIST images: -short")
	}
	report := filepath.Join(t.TempDir(), "r.json")
	run := func(args ...string) []string {
		t.Helper()
		var stdout, stderr bytes.Buffer
		m := NewMain(&stdout, &stderr)
		if err := m.ParseFlags(append([]string{"-epochs", "3", "-train-images", "128", "-test-images", "100", "-json", report}, args...)); err != nil {
			t.Fatal(err)
		}
		if err := m.Run(context.Background()); err != nil {
			t.Fatalf("Run %q: %v\n%s", args, err, stderr.String())
		}
		var lines []string
		for _, l := range strings.Split(strings.TrimSpace(stdout.String()), "\n") {
			if strings.HasPrefix(l, "epoch") {
				f := strings.Fields(l)
				lines = append(lines, strings.Join(f[:len(f)-1], " ")) // no duration
			}
		}
		return lines
	}
	plain := run("-batch", "32", "-lr", "1", "-gamma", "0.7", "-wd", "0")
	one := run("-schedule", "1:batch_size=32,lr=1,gamma=0.7,weight_decay=0")
	if strings.Join(plain, "\n") != strings.Join(one, "\n") || len(plain) != 3 {
		t.Fatalf("a schedule of one step differs from the plain training:\n%s\n--\n%s", strings.Join(plain, "\n"), strings.Join(one, "\n"))
	}
	sched := "1:batch_size=32,lr=1,gamma=0.7,weight_decay=0; 3:batch_size=16,lr=0.5,gamma=0.9,weight_decay=1e-5"
	two := run("-schedule", sched)
	if two[1] != plain[1] || !strings.HasPrefix(two[2], "epoch 3 lr 0.245000") || two[2] == plain[2] {
		t.Fatalf("two steps:\n%s\nplain:\n%s", strings.Join(two, "\n"), strings.Join(plain, "\n"))
	}
	r, err := cnn.ReadReport(report)
	if err != nil {
		t.Fatalf("-json: %v", err)
	}
	if r.Schedule != sched || r.BatchSize != 0 || len(r.Epochs) != 3 || math.Abs(r.Epochs[2].LR-0.245) > 1e-12 || r.TestLoss != r.Epochs[2].TestLoss {
		t.Errorf("-json of a schedule: %+v", r)
	}
}

func TestParseSchedule(t *testing.T) {
	tests := []struct {
		in, err string
		steps   int
	}{
		{"1:batch_size=64,lr=1,gamma=0.7,weight_decay=0", "", 1},
		{"1:batch_size=64,lr=1,gamma=0.7,weight_decay=0;5:batch_size=50,lr=0.8,gamma=0.7,weight_decay=0;", "", 2},
		{"2:batch_size=64,lr=1,gamma=0.7,weight_decay=0", "start at epoch 1", 0},
		{"1:batch_size=64,lr=1,gamma=0.7,weight_decay=0;1:batch_size=64,lr=1,gamma=0.7,weight_decay=0", "go up", 0},
		{"1:batch_size=64,lr=1,gamma=0.7", "3 of the 4", 0},
		{"1:batch_size=64,lr=1,gamma=0.7,weight_decay=0,shift=2;3:batch_size=64,lr=1,gamma=0.7,weight_decay=0,shift=1", "", 2},
		{"1:batch_size=64,lr=1,gamma=0.7,shift=2", "3 of the 4", 0},
		{"1:batch_size=64,lr=1,gamma=0.7,weight_decay=0,shift=2.5", "shift=2.5 at epoch 1: want a whole number", 0},
		{"1:batch_size=64.4,lr=1,gamma=0.7,weight_decay=0", "batch_size=64.4 at epoch 1: want a whole number", 0},
		{"1:batch_size=1e300,lr=1,gamma=0.7,weight_decay=0", "want a whole number", 0},
		{"1:batch_size=64,lr=1,gamma=0.7,momentum=0", "unknown hyperparameter", 0},
		{"1:batch_size=64,lr=1,lr=1,gamma=0.7", "twice", 0},
		{"batch_size=64", "not EPOCH", 0},
		{"x:batch_size=64", "not an epoch", 0},
		{"1:batch_size=sixty", "not name=number", 0},
		{"", "no step", 0},
	}
	for _, tt := range tests {
		steps, err := ParseSchedule(tt.in)
		if tt.err == "" && (err != nil || len(steps) != tt.steps) {
			t.Errorf("ParseSchedule(%q) = %d steps, %v; want %d", tt.in, len(steps), err, tt.steps)
		}
		if tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)) {
			t.Errorf("ParseSchedule(%q) error %v, want one saying %q", tt.in, err, tt.err)
		}
	}
	if err := NewMain(&bytes.Buffer{}, &bytes.Buffer{}).ParseFlags([]string{"-epochs", "3", "-schedule", "1:batch_size=64,lr=1,gamma=0.7,weight_decay=0;4:batch_size=64,lr=1,gamma=0.7,weight_decay=0"}); err == nil {
		t.Error("a step after the last epoch: no error")
	}
}

// TestMain_ScheduleOnTheLineagesSeed: a population based training's
// lineage as the worker trains it (the CNN problem's trainer: genome 1
// with its seed, then genome 2, exploiting it, on from its checkpoint with
// its own params and seed) is trained again by -schedule with the seed of
// the lineage's first genome and the search's training images, to the bit
// of its weights; genome 2's own seed, which gahpo query genome printed as
// the genome's, trains another network.
func TestMain_ScheduleOnTheLineagesSeed(t *testing.T) {
	if testing.Short() {
		t.Skip("trains the CNN on MNIST images: -short")
	}
	p, err := problems.Lookup(problems.CNN)
	if err != nil {
		t.Fatal(err)
	}
	const images, seed1, seed2 = 128, 11, 22
	a := map[string]float64{"batch_size": 32, "lr": 1, "gamma": 0.7, "weight_decay": 1e-7}
	b := map[string]float64{"batch_size": 16, "lr": 0.5, "gamma": 0.9, "weight_decay": 1e-5}
	ckpt := t.TempDir()
	train := func(task gahpo.Task) models.Outcome {
		t.Helper()
		task.Kind, task.Problem, task.TrainSubset = gahpo.KindFitness, problems.CNN, images
		out, err := p.Trainer.Train(context.Background(), models.Job{Task: task, CheckpointDir: ckpt})
		if err != nil || out.Diverged != "" {
			t.Fatalf("train %+v: %v %s", task, err, out.Diverged)
		}
		return out
	}
	train(gahpo.Task{GenomeID: 1, Params: a, Seed: seed1, Epochs: 1})
	want := train(gahpo.Task{GenomeID: 2, Params: b, Seed: seed2, Epochs: 2, FromEpochs: 1, FromGenome: 1, FromParams: a, FromSeed: seed1,
		WeightsTo: "weights"}).Weights

	sched := "1:batch_size=32,gamma=0.7,lr=1,weight_decay=1e-07;2:batch_size=16,gamma=0.9,lr=0.5,weight_decay=1e-05"
	for _, tt := range []struct {
		seed uint64
		same bool
	}{{seed1, true}, {seed2, false}} {
		weights := filepath.Join(t.TempDir(), "w.bin")
		m := NewMain(&bytes.Buffer{}, &bytes.Buffer{})
		if err := m.ParseFlags([]string{"-epochs", "2", "-train-images", fmt.Sprint(images), "-test-images", "10", "-seed", fmt.Sprint(tt.seed), "-schedule", sched, "-out", weights}); err != nil {
			t.Fatal(err)
		}
		if err := m.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(weights)
		if err != nil {
			t.Fatal(err)
		}
		if len(want) == 0 || bytes.Equal(got, want) != tt.same {
			t.Errorf("-seed %d: weights the lineage's: %v, want %v (%d and %d bytes)", tt.seed, bytes.Equal(got, want), tt.same, len(got), len(want))
		}
	}
}
