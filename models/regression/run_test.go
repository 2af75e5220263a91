package regression

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gahpo/gahpo/models"
)

var runConfig = Config{LR: 0.05, BatchSize: 8, Folds: 5, Seed: 3, SplitSeed: 11, Epochs: 300}

// sameEpochs reports the first figure in which two lists of epochs differ,
// bit for bit (durations aside), or "".
func sameEpochs(a, b []Epoch) string {
	if len(a) != len(b) {
		return fmt.Sprintf("%d and %d epochs", len(a), len(b))
	}
	for i := range a {
		if a[i].Epoch != b[i].Epoch {
			return fmt.Sprintf("epoch numbers %d and %d", a[i].Epoch, b[i].Epoch)
		}
		for _, p := range []struct {
			name string
			x, y float64
		}{{"train loss", a[i].TrainLoss, b[i].TrainLoss}, {"val loss", a[i].ValLoss, b[i].ValLoss}, {"test loss", a[i].TestLoss, b[i].TestLoss}} {
			if math.Float64bits(p.x) != math.Float64bits(p.y) {
				return fmt.Sprintf("epoch %d: %s %v and %v", a[i].Epoch, p.name, p.x, p.y)
			}
		}
	}
	return ""
}

// TestTrainResumeIdentity trains 6 epochs straight through, and 2, 2 and 2
// from the checkpoint (with one goroutine, then the default): every
// figure, the weights and the state files must be the same bits.
func TestTrainResumeIdentity(t *testing.T) {
	d := mustLoad(t)
	ctx := context.Background()
	train := func(dir string, to int) Outcome {
		t.Helper()
		var seen []Epoch
		out, err := Train(ctx, d, runConfig, Run{Dir: dir, To: to, Test: true, OnEpoch: func(e Epoch) { seen = append(seen, e) }})
		if err != nil || out.Diverged != "" {
			t.Fatalf("train to %d: %v %s", to, err, out.Diverged)
		}
		if diff := sameEpochs(out.Epochs, seen); diff != "" {
			t.Errorf("OnEpoch and the outcome differ: %s", diff)
		}
		return out
	}
	straightDir, resumedDir := t.TempDir(), t.TempDir()
	straight := train(straightDir, 6)
	var resumed []Epoch
	var last Outcome
	for i, to := range []int{2, 4, 6} {
		if i == 1 {
			withProcs(1, func() { last = train(resumedDir, to) })
		} else {
			last = train(resumedDir, to)
		}
		if len(last.Epochs) != 2 || last.Done != to {
			t.Fatalf("train to %d: %d epochs, done %d", to, len(last.Epochs), last.Done)
		}
		resumed = append(resumed, last.Epochs...)
	}
	if diff := sameEpochs(straight.Epochs, resumed); diff != "" {
		t.Errorf("straight and resumed: %s", diff)
	}
	if straight.Fitness != last.Fitness || straight.TestLoss != last.TestLoss || !bytes.Equal(straight.Weights, last.Weights) {
		t.Errorf("straight: fitness %v, test %v; resumed: %v, %v; same weights %v",
			straight.Fitness, straight.TestLoss, last.Fitness, last.TestLoss, bytes.Equal(straight.Weights, last.Weights))
	}
	a, errA := os.ReadFile(filepath.Join(straightDir, StateFile))
	b, errB := os.ReadFile(filepath.Join(resumedDir, StateFile))
	if errA != nil || errB != nil || !bytes.Equal(a, b) {
		t.Errorf("state files differ (%d and %d bytes, errors %v, %v)", len(a), len(b), errA, errB)
	}
	if !(straight.Epochs[5].ValLoss < straight.Epochs[0].ValLoss) || straight.Epochs[0].TrainLoss <= 0 || straight.Epochs[0].TestLoss <= 0 {
		t.Errorf("epochs %+v: no learning, or a figure missing", straight.Epochs)
	}
	if m := straight.Epochs[5].Metrics(true); len(m) != 3 || m["val_loss"] != straight.Fitness || m["test_loss"] != straight.TestLoss {
		t.Errorf("metrics %v; fitness %v, test loss %v", m, straight.Fitness, straight.TestLoss)
	}
	if m := straight.Epochs[5].Metrics(false); len(m) != 2 {
		t.Errorf("metrics without the test set: %v", m)
	}
	t.Logf("state file: %d bytes", len(a))
}

// TestTrainMatchesFitnessAndTrainFull checks that n epochs of Train give
// Fitness's loss and TrainFull's test MSE and weights for Epochs = n.
func TestTrainMatchesFitnessAndTrainFull(t *testing.T) {
	d := mustLoad(t)
	ctx := context.Background()
	for _, cfg := range []Config{runConfig, {Epochs: 7}, {LR: 0.01, BatchSize: 1, Folds: 3, Epochs: 3}} {
		out, err := Train(ctx, d, cfg, Run{To: cfg.Epochs})
		if err != nil || out.Diverged != "" {
			t.Fatalf("Train(%+v): %v %s", cfg, err, out.Diverged)
		}
		ev, err := Fitness(ctx, d, cfg)
		if err != nil {
			t.Fatal(err)
		}
		full, err := TrainFull(ctx, d, cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		if out.Fitness != ev.Loss || out.TestLoss != full.TestLoss || !bytes.Equal(out.Weights, full.Weights) {
			t.Errorf("%+v: Train fitness %v, test %v; Fitness %v, TrainFull %v; same weights %v",
				cfg, out.Fitness, out.TestLoss, ev.Loss, full.TestLoss, bytes.Equal(out.Weights, full.Weights))
		}
		if out.Epochs[len(out.Epochs)-1].TestLoss != 0 {
			t.Errorf("%+v: test loss reported without Run.Test", cfg)
		}
	}
}

// TestTrainRefuses checks the errors of Train around its checkpoint.
func TestTrainRefuses(t *testing.T) {
	d := mustLoad(t)
	ctx := context.Background()
	dir := t.TempDir()
	if _, err := Train(ctx, d, runConfig, Run{Dir: dir, To: 2}); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, StateFile)
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	otherData := *d
	otherData.TrainY = slices.Clone(d.TrainY)
	otherData.TrainY[7] += 1e-9
	with := func(edit func(*Config)) Config { c := runConfig; edit(&c); return c }
	flip := func(i int) []byte { c := slices.Clone(good); c[i] ^= 4; return c }

	tests := []struct {
		name  string
		d     *Data
		cfg   Config
		to    int
		state []byte // written over the state file first, when not nil
		want  error
		says  string
	}{
		{"other lr", d, with(func(c *Config) { c.LR = 0.04 }), 3, nil, ErrCheckpoint, "lr=0.04"},
		{"other batch", d, with(func(c *Config) { c.BatchSize = 9 }), 3, nil, ErrCheckpoint, "batch_size=9"},
		{"other folds", d, with(func(c *Config) { c.Folds = 4 }), 3, nil, ErrCheckpoint, "folds=4"},
		{"other seed", d, with(func(c *Config) { c.Seed = 4 }), 3, nil, ErrCheckpoint, "seed=4"},
		{"other split", d, with(func(c *Config) { c.SplitSeed = 0 }), 3, nil, ErrCheckpoint, "split_seed=3"},
		{"other data", &otherData, runConfig, 3, nil, ErrCheckpoint, "crc32c"},
		{"already there", d, runConfig, 2, nil, ErrCheckpoint, "already holds 2 epochs"},
		{"to 0", d, runConfig, 0, nil, ErrInvalidConfig, "0 epochs"},
		{"empty file", d, runConfig, 3, []byte{}, ErrBadState, path},
		{"truncated", d, runConfig, 3, good[:len(good)-9], ErrBadState, path},
		{"flipped bit", d, runConfig, 3, flip(len(good) / 2), ErrBadState, "checksum"},
		{"CNN file", d, runConfig, 3, []byte("GAHPOCKP..."), ErrBadState, "not a gahpo regression state file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			state := good
			if tt.state != nil {
				state = tt.state
			}
			if err := os.WriteFile(path, state, 0o600); err != nil {
				t.Fatal(err)
			}
			out, err := Train(ctx, tt.d, tt.cfg, Run{Dir: dir, To: tt.to})
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.says) {
				t.Fatalf("err = %v, want %v saying %q", err, tt.want, tt.says)
			}
			if tt.want != ErrInvalidConfig && errors.Is(err, models.ErrUntrainable) {
				t.Errorf("err = %v is ErrUntrainable: the genome is not at fault", err)
			}
			if out.Epochs != nil || out.Weights != nil {
				t.Errorf("an error returned an outcome: %+v", out)
			}
			if got, _ := os.ReadFile(path); !bytes.Equal(got, state) {
				t.Error("a refused training changed the state file")
			}
		})
	}
}

// TestTrainDivergesOrStops checks that a divergence is reported as in
// Fitness and that it and a cancellation leave the checkpoint as it was.
func TestTrainDivergesOrStops(t *testing.T) {
	d := mustLoad(t)
	dir := t.TempDir()
	bad := Config{LR: 0.1, BatchSize: 64, Epochs: 100, Seed: 2} // trains 3 epochs, then blows up
	if _, err := Train(context.Background(), d, bad, Run{Dir: dir, To: 1}); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, StateFile)
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out, err := Train(context.Background(), d, bad, Run{Dir: dir, To: 100})
	if err != nil {
		t.Fatal(err)
	}
	if !math.IsInf(out.Fitness, 1) || !strings.Contains(out.Diverged, "loss") || out.Weights != nil || out.Done >= 100 {
		t.Errorf("lr 0.1: fitness %v, diverged %q, %d weight bytes, done %d; want +Inf, a reason, none, < 100",
			out.Fitness, out.Diverged, len(out.Weights), out.Done)
	}
	if ev, _ := Fitness(context.Background(), d, bad); !math.IsInf(ev.Loss, 1) {
		t.Errorf("Fitness of the same genome: %v, want +Inf", ev.Loss)
	}
	t.Logf("diverged after %d epochs: %s", out.Done, out.Diverged)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Train(ctx, d, bad, Run{Dir: dir, To: 100}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: err = %v, want context.Canceled", err)
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(after, before) {
		t.Error("a diverged or cancelled training changed the state file")
	}
}
