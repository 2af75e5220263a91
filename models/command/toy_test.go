package command_test

import (
	"context"
	"math"
	"os"
	"testing"

	"github.com/gahpo/gahpo"
	"github.com/gahpo/gahpo/models"
	"github.com/gahpo/gahpo/models/command"
	"github.com/gahpo/gahpo/problemfile"
)

// TestToyResumes trains the toy example of examples/toy in two rungs
// through its checkpoint directory and straight through: the numbers are
// the same, and the second rung reports only its own epochs.
func TestToyResumes(t *testing.T) {
	needPython(t)
	p, err := problemfile.Load("../../examples/toy/problem.yaml")
	if err != nil {
		t.Fatal(err)
	}
	tr := command.New(p)
	genes, err := p.Space.FromValues(map[string]any{"x": 0.25, "lr": 0.1, "steps": 3, "optimizer": "adam"})
	if err != nil {
		t.Fatal(err)
	}
	task := gahpo.Task{V: gahpo.MessageVersion, Kind: gahpo.KindFitness, RunID: "r", GenomeID: 1, Problem: "toy",
		ProblemDigest: p.Digest, Params: p.Space.ToMap(genes), Seed: 7}
	train := func(dir string, from, to int) models.Outcome {
		t.Helper()
		task.FromEpochs, task.Epochs = from, to
		out, err := tr.Train(context.Background(), models.Job{Task: task, CheckpointDir: dir})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	straight := train(t.TempDir(), 0, 4)
	dir := t.TempDir()
	first := train(dir, 0, 2)
	if _, err := os.Stat(dir + "/state.json"); err != nil {
		t.Fatalf("the toy left no checkpoint: %v", err)
	}
	second := train(dir, 2, 4)
	if len(straight.Curve) != 4 || len(first.Curve) != 2 || len(second.Curve) != 2 || second.Curve[0].Epoch != 3 {
		t.Fatalf("curves of %d, %d and %d epochs (second starts at %d)", len(straight.Curve), len(first.Curve), len(second.Curve), second.Curve[0].Epoch)
	}
	if second.Fitness != straight.Fitness || second.Curve[1].Metrics["w"] != straight.Curve[3].Metrics["w"] {
		t.Errorf("resumed fitness %v, straight %v", second.Fitness, straight.Fitness)
	}
	if !(straight.Fitness < float64(straight.Curve[0].Metrics["val_loss"])) || math.IsInf(straight.Fitness, 0) {
		t.Errorf("the toy did not learn: %+v", straight.Curve)
	}
	if len(second.Log) == 0 || second.Log[0] != "resuming at epoch 2" {
		t.Errorf("second rung's log %q", second.Log)
	}
}
