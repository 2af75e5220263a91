package cnn

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
	"github.com/gahpo/gahpo/models/mnist"
)

// runSplits is a small real MNIST problem: 500 training images (batch 64
// leaves a short last batch of 52), 200 validation and 200 test images.
func runSplits(t *testing.T) mnist.Splits {
	t.Helper()
	return smallSplits(t, 500, 200)
}

var runConfig = Config{BatchSize: 64, LR: 1, Gamma: 0.7, WeightDecay: 1e-4, Seed: 7}

// sameEpoch reports the first figure in which two epochs differ, bit for
// bit (the duration aside), with both values, or "".
func sameEpoch(a, b Epoch) string {
	pairs := []struct {
		name string
		x, y float64
	}{
		{"lr", a.LR, b.LR}, {"train loss", a.TrainLoss, b.TrainLoss},
		{"val loss", a.ValLoss, b.ValLoss}, {"val accuracy", a.ValAccuracy, b.ValAccuracy},
		{"test loss", a.TestLoss, b.TestLoss}, {"test accuracy", a.TestAccuracy, b.TestAccuracy},
	}
	if a.Epoch != b.Epoch {
		return fmt.Sprintf("epoch number %d, %d", a.Epoch, b.Epoch)
	}
	for _, p := range pairs {
		if math.Float64bits(p.x) != math.Float64bits(p.y) {
			return fmt.Sprintf("%s %v, %v", p.name, p.x, p.y)
		}
	}
	if !slices.Equal(a.Conv1, b.Conv1) {
		return fmt.Sprintf("conv1 weights (%d and %d values)", len(a.Conv1), len(b.Conv1))
	}
	return ""
}

// TestTrainResumeIdentity trains 2 epochs straight through, and 1 epoch
// then 1 more from the checkpoint: every figure, the weights and the state
// files must be the same bits.
func TestTrainResumeIdentity(t *testing.T) {
	s := runSplits(t)
	ctx := context.Background()
	run := func(dir string, to int, seen *[]Epoch) Outcome {
		t.Helper()
		out, err := Train(ctx, s, runConfig, Run{Dir: dir, To: to, Test: true, Probe: true,
			OnEpoch: func(e Epoch) { *seen = append(*seen, e) }})
		if err != nil {
			t.Fatalf("train to %d in %s: %v", to, dir, err)
		}
		if out.Diverged != "" {
			t.Fatalf("train to %d: diverged: %s", to, out.Diverged)
		}
		return out
	}
	straightDir, resumedDir := t.TempDir(), t.TempDir()
	var straightSeen, resumedSeen []Epoch
	straight := run(straightDir, 2, &straightSeen)
	first := run(resumedDir, 1, &resumedSeen)
	second := run(resumedDir, 2, &resumedSeen)

	if len(straight.Epochs) != 2 || len(first.Epochs) != 1 || len(second.Epochs) != 1 {
		t.Fatalf("epochs: straight %d, then %d and %d; want 2, 1, 1", len(straight.Epochs), len(first.Epochs), len(second.Epochs))
	}
	if straight.Done != 2 || first.Done != 1 || second.Done != 2 {
		t.Errorf("done: straight %d, then %d and %d; want 2, 1, 2", straight.Done, first.Done, second.Done)
	}
	resumed := append(slices.Clone(first.Epochs), second.Epochs...)
	for i := range 2 {
		if d := sameEpoch(straight.Epochs[i], resumed[i]); d != "" {
			t.Errorf("epoch %d, straight then resumed: %s", i+1, d)
		}
		if sameEpoch(straight.Epochs[i], straightSeen[i]) != "" || sameEpoch(resumed[i], resumedSeen[i]) != "" {
			t.Errorf("epoch %d: OnEpoch saw other figures than the outcome", i+1)
		}
	}
	if straight.Epochs[1].LR != 0.7 || len(straight.Epochs[0].Conv1) != 288 || straight.Epochs[1].TestLoss == 0 {
		t.Errorf("epoch 2: lr %v (want 0.7), %d conv1 weights (want 288), test loss %v",
			straight.Epochs[1].LR, len(straight.Epochs[0].Conv1), straight.Epochs[1].TestLoss)
	}
	if m := straight.Epochs[1].Metrics(true); len(m) != 6 || m["lr"] != 0.7 || m["val_loss"] != straight.Epochs[1].ValLoss || m["test_accuracy"] != straight.Epochs[1].TestAccuracy {
		t.Errorf("metrics %v of epoch %+v", m, straight.Epochs[1])
	}
	if m := straight.Epochs[1].Metrics(false); len(m) != 4 {
		t.Errorf("metrics without the test set: %v", m)
	}
	if slices.Equal(straight.Epochs[0].Conv1, straight.Epochs[1].Conv1) {
		t.Error("conv1 weights did not change from epoch 1 to 2")
	}
	if straight.Fitness != second.Fitness || straight.Accuracy != second.Accuracy || straight.Fitness != straight.Epochs[1].ValLoss {
		t.Errorf("fitness %v/%v straight, %v/%v resumed; last val loss %v",
			straight.Fitness, straight.Accuracy, second.Fitness, second.Accuracy, straight.Epochs[1].ValLoss)
	}
	if !bytes.Equal(straight.Weights, second.Weights) {
		t.Error("weights differ between the straight and the resumed training")
	}
	if bytes.Equal(first.Weights, second.Weights) {
		t.Error("the second epoch did not change the weights")
	}
	a, errA := os.ReadFile(filepath.Join(straightDir, StateFile))
	b, errB := os.ReadFile(filepath.Join(resumedDir, StateFile))
	if errA != nil || errB != nil || !bytes.Equal(a, b) {
		t.Errorf("state files differ (%d and %d bytes, errors %v, %v)", len(a), len(b), errA, errB)
	}
	entries, _ := os.ReadDir(resumedDir)
	if len(entries) != 1 {
		t.Errorf("checkpoint directory holds %d files, want only %s", len(entries), StateFile)
	}

	// The weights load into Evaluate and give the last test figures.
	loss, acc, err := Evaluate(ctx, second.Weights, s.Test)
	if err != nil || loss != second.Epochs[0].TestLoss || acc != second.Epochs[0].TestAccuracy {
		t.Errorf("Evaluate: %v, %v, %v; training reported %v, %v", loss, acc, err, second.Epochs[0].TestLoss, second.Epochs[0].TestAccuracy)
	}
}

// TestTrainGammaAndLegacy checks that gamma acts only after the first
// epoch, that one epoch is Fitness's loss and two are TrainFull's test
// figures.
func TestTrainGammaAndLegacy(t *testing.T) {
	s := runSplits(t)
	ctx := context.Background()
	other := runConfig
	other.Gamma = 0.3
	train := func(cfg Config, to int) Outcome {
		t.Helper()
		out, err := Train(ctx, s, cfg, Run{To: to, Test: true})
		if err != nil || out.Diverged != "" {
			t.Fatalf("train %+v to %d: %v %s", cfg, to, err, out.Diverged)
		}
		return out
	}
	one, oneOther := train(runConfig, 1), train(other, 1)
	if one.Fitness != oneOther.Fitness {
		t.Errorf("one epoch: fitness %v with gamma 0.7, %v with 0.3; want equal", one.Fitness, oneOther.Fitness)
	}
	two, twoOther := train(runConfig, 2), train(other, 2)
	if two.Fitness == twoOther.Fitness {
		t.Errorf("two epochs: fitness %v with both gammas; want different", two.Fitness)
	}
	if twoOther.Epochs[1].LR != 0.3 {
		t.Errorf("second epoch's lr %v with gamma 0.3", twoOther.Epochs[1].LR)
	}

	ev, err := Fitness(ctx, s, runConfig)
	if err != nil {
		t.Fatal(err)
	}
	if ev.Loss != one.Fitness || ev.Accuracy != one.Accuracy {
		t.Errorf("Fitness %v/%v, Train to 1 epoch %v/%v", ev.Loss, ev.Accuracy, one.Fitness, one.Accuracy)
	}
	cfg := runConfig
	cfg.Epochs = 2
	full, err := TrainFull(ctx, s.Train, s.Test, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, m := range full.Epochs {
		e := two.Epochs[i]
		if m.TrainLoss != e.TrainLoss || m.TestLoss != e.TestLoss || m.TestAccuracy != e.TestAccuracy || m.LR != e.LR {
			t.Errorf("epoch %d: TrainFull %+v, Train %+v", i+1, m, e)
		}
	}
	if !bytes.Equal(full.Weights, two.Weights) {
		t.Error("TrainFull's and Train's weights differ")
	}
}

// TestTrainRefuses checks the errors of Train around its checkpoint.
func TestTrainRefuses(t *testing.T) {
	s := runSplits(t)
	ctx := context.Background()
	dir := t.TempDir()
	if _, err := Train(ctx, s, runConfig, Run{Dir: dir, To: 1}); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, StateFile)
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	otherData := s
	otherData.Train = s.Train.Slice(1, s.Train.N)
	with := func(edit func(*Config)) Config { c := runConfig; edit(&c); return c }

	tests := []struct {
		name  string
		s     mnist.Splits
		cfg   Config
		to    int
		state []byte // written over the state file first, when not nil
		want  error
		says  string
		from  *Config // Run.From
	}{
		{"other lr", s, with(func(c *Config) { c.LR = 0.5 }), 2, nil, ErrCheckpoint, "lr=0.5", nil},
		{"other gamma", s, with(func(c *Config) { c.Gamma = 0.5 }), 2, nil, ErrCheckpoint, "gamma=0.5", nil},
		{"other batch", s, with(func(c *Config) { c.BatchSize = 32 }), 2, nil, ErrCheckpoint, "batch_size=32", nil},
		{"other weight decay", s, with(func(c *Config) { c.WeightDecay = 0 }), 2, nil, ErrCheckpoint, "weight_decay=0 ", nil},
		{"other seed", s, with(func(c *Config) { c.Seed = 8 }), 2, nil, ErrCheckpoint, "seed=8", nil},
		{"other training set", otherData, runConfig, 2, nil, ErrCheckpoint, "train=499", nil},
		{"already there", s, runConfig, 1, nil, ErrCheckpoint, "already holds 1 epochs", nil},
		{"to 0", s, runConfig, 0, nil, ErrConfig, "0 epochs", nil},
		{"empty file", s, runConfig, 2, []byte{}, ErrBadState, path, nil},
		{"truncated", s, runConfig, 2, good[:len(good)/2], ErrBadState, path, nil},
		{"flipped bit", s, runConfig, 2, flip(good, len(good)/3), ErrBadState, "checksum", nil},
		{"other file", s, runConfig, 2, []byte("GAHPOCNN and more bytes"), ErrBadState, "not a gahpo CNN state file", nil},
		{"from a genome not the state's", s, with(func(c *Config) { c.LR = 0.5 }), 2, nil, ErrCheckpoint, "goes on from batch_size=64 lr=0.25", ptr(with(func(c *Config) { c.LR = 0.25 }))},
		{"from an invalid genome", s, runConfig, 2, nil, ErrConfig, "the genome the state comes from", ptr(with(func(c *Config) { c.LR = -1 }))},
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
			out, err := Train(ctx, tt.s, tt.cfg, Run{Dir: dir, To: tt.to, From: tt.from})
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.says) {
				t.Fatalf("err = %v, want %v saying %q", err, tt.want, tt.says)
			}
			if tt.want != ErrConfig && errors.Is(err, models.ErrUntrainable) {
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

func ptr[T any](v T) *T { return &v }

// TestTrainFromAnotherGenome is population based training's step: genome b
// goes on from genome a's state with its own hyperparameters, the learning
// rate scaled by b's over a's; going on from one's own state with From set
// to oneself changes no bit.
func TestTrainFromAnotherGenome(t *testing.T) {
	s := runSplits(t)
	ctx := context.Background()
	a := runConfig
	b := Config{BatchSize: 32, LR: 0.5, Gamma: 0.9, WeightDecay: 0, Seed: 99}
	dirA, dirB, dirSelf := t.TempDir(), t.TempDir(), t.TempDir()
	if _, err := Train(ctx, s, a, Run{Dir: dirA, To: 1}); err != nil {
		t.Fatal(err)
	}
	state, err := os.ReadFile(filepath.Join(dirA, StateFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{dirB, dirSelf} {
		if err := os.WriteFile(filepath.Join(d, StateFile), state, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := Train(ctx, s, b, Run{Dir: dirB, To: 2}); !errors.Is(err, ErrCheckpoint) {
		t.Fatalf("b on a's state without From: err = %v, want ErrCheckpoint", err)
	}
	out, err := Train(ctx, s, b, Run{Dir: dirB, To: 3, From: &a})
	if err != nil || out.Diverged != "" {
		t.Fatalf("b from a: %v %s", err, out.Diverged)
	}
	// Epoch 2 runs at a's next rate (1 × 0.7) scaled by 0.5/1, then b's
	// gamma.
	if len(out.Epochs) != 2 || out.Epochs[0].LR != 0.35 || math.Abs(out.Epochs[1].LR-0.35*0.9) > 1e-15 {
		t.Fatalf("b from a: epochs %+v, want lr 0.35 then 0.315", out.Epochs)
	}
	// b's state is now b's own: it goes on without From.
	if _, err := Train(ctx, s, b, Run{Dir: dirB, To: 4}); err != nil {
		t.Fatalf("b on its own state: %v", err)
	}
	own, err := Train(ctx, s, a, Run{Dir: dirA, To: 2})
	if err != nil {
		t.Fatal(err)
	}
	self, err := Train(ctx, s, a, Run{Dir: dirSelf, To: 2, From: &a})
	if err != nil {
		t.Fatal(err)
	}
	if d := sameEpoch(own.Epochs[0], self.Epochs[0]); d != "" || !bytes.Equal(own.Weights, self.Weights) {
		t.Fatalf("from oneself differs from going on: %s", d)
	}
}

func flip(b []byte, i int) []byte {
	c := slices.Clone(b)
	c[i] ^= 0x10
	return c
}

// TestTrainDivergesOrStops checks that a divergence and a cancellation
// leave the checkpoint as it was.
func TestTrainDivergesOrStops(t *testing.T) {
	s := runSplits(t)
	dir := t.TempDir()
	cfg := runConfig
	cfg.LR = 1e30
	if _, err := Train(context.Background(), s, runConfig, Run{Dir: dir, To: 1}); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, StateFile)
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// A fresh directory for the divergent genome.
	divDir := t.TempDir()
	out, err := Train(context.Background(), s, cfg, Run{Dir: divDir, To: 2})
	if err != nil {
		t.Fatal(err)
	}
	if !math.IsInf(out.Fitness, 1) || out.Diverged == "" || out.Weights != nil || out.Done != 0 {
		t.Errorf("lr 1e30: fitness %v, diverged %q, %d weight bytes, done %d; want +Inf, a reason, none, 0",
			out.Fitness, out.Diverged, len(out.Weights), out.Done)
	}
	if _, err := os.Stat(filepath.Join(divDir, StateFile)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a diverged training left a state file (stat: %v)", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Train(ctx, s, runConfig, Run{Dir: dir, To: 2}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: err = %v, want context.Canceled", err)
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(after, before) {
		t.Error("a cancelled training changed the state file")
	}
}
