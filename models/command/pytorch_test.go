package command_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/gahpo/gahpo"
	"github.com/gahpo/gahpo/models"
	"github.com/gahpo/gahpo/models/command"
	"github.com/gahpo/gahpo/models/mnist"
	"github.com/gahpo/gahpo/problemfile"
)

// TestPyTorchMNIST trains the examples/pytorch-mnist network briefly, in
// two rungs through its checkpoint, when PyTorch and MNIST are at hand
// (minutes on a loaded machine: loading torch and MNIST dominates).
func TestPyTorchMNIST(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a PyTorch network")
	}
	// The problem file runs python3 from PATH: that one must have torch
	// (Debian's python3-torch is for /usr/bin/python3: PATH=/usr/bin:$PATH).
	if exec.Command("python3", "-c", "import torch").Run() != nil {
		t.Skip("python3 cannot import torch (apt-get install python3-torch)")
	}
	dir, err := mnist.FindDir()
	if err != nil {
		t.Skip(err)
	}
	t.Setenv("MNIST_DIR", dir)
	p, err := problemfile.Load("../../examples/pytorch-mnist/problem.yaml")
	if err != nil {
		t.Fatal(err)
	}
	task := gahpo.Task{V: gahpo.MessageVersion, Kind: gahpo.KindFitness, RunID: "r", GenomeID: 1, Problem: p.Name,
		ProblemDigest: p.Digest, Seed: 1, TrainSubset: 500,
		Params: map[string]float64{"batch_size": 64, "lr": 1, "gamma": 0.7, "weight_decay": 1e-6}}
	ckpt := t.TempDir()
	tr := command.New(p)
	for _, to := range []int{1, 2} {
		task.FromEpochs, task.Epochs = to-1, to
		out, err := tr.Train(context.Background(), models.Job{Task: task, CheckpointDir: ckpt})
		if err != nil {
			t.Fatalf("to %d epochs: %v (log %q)", to, err, out.Log)
		}
		if len(out.Curve) != 1 || out.Curve[0].Epoch != to || out.Accuracy < 0.3 || out.Fitness <= 0 {
			t.Errorf("to %d epochs: fitness %v accuracy %v curve %+v log %q", to, out.Fitness, out.Accuracy, out.Curve, out.Log)
		}
	}
	if _, err := os.Stat(filepath.Join(ckpt, "state.pt")); err != nil {
		t.Errorf("no checkpoint: %v", err)
	}
}
