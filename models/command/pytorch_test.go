package command_test

import (
	"context"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gahpo/gahpo"
	"github.com/gahpo/gahpo/models"
	"github.com/gahpo/gahpo/models/command"
	"github.com/gahpo/gahpo/models/mnist"
	"github.com/gahpo/gahpo/problemfile"
)

// TestPyTorchMNIST trains the examples/pytorch-mnist network for two
// epochs on 500 images, scored on 1,000 (MNIST_VALIDATION), in two rungs
// through its checkpoint and straight through, when PyTorch and MNIST are
// at hand: the rungs must give the figures of training straight through,
// as the example says (10-25 s on a loaded machine: loading torch and MNIST
// and scoring the validation set dominate).
func TestPyTorchMNIST(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a PyTorch network")
	}
	// The problem file runs python3 from PATH: that one must have torch
	// (Debian's python3-torch is for /usr/bin/python3: PATH=/usr/bin:$PATH).
	if out, err := exec.Command("python3", "-c", "import torch").CombinedOutput(); err != nil {
		py, _ := exec.LookPath("python3")
		t.Skipf("%s cannot import torch (apt-get install python3-torch, then PATH=/usr/bin:$PATH if another python3 comes first): %v %s", py, err, out)
	}
	dir, err := mnist.FindDir()
	if err != nil {
		t.Skip(err)
	}
	t.Setenv("MNIST_DIR", dir)
	t.Setenv("MNIST_VALIDATION", "1000")
	p, err := problemfile.Load("../../examples/pytorch-mnist/problem.yaml")
	if err != nil {
		t.Fatal(err)
	}
	task := gahpo.Task{V: gahpo.MessageVersion, Kind: gahpo.KindFitness, RunID: "r", GenomeID: 1, Problem: p.Name,
		ProblemDigest: p.Digest, Seed: 1, TrainSubset: 500,
		Params: map[string]float64{"batch_size": 64, "lr": 1, "gamma": 0.7, "weight_decay": 1e-6}}
	tr := command.New(p)
	train := func(ckpt string, from, to int) models.Outcome {
		t.Helper()
		task.FromEpochs, task.Epochs = from, to
		out, err := tr.Train(context.Background(), models.Job{Task: task, CheckpointDir: ckpt})
		if err != nil {
			t.Fatalf("epochs %d to %d: %v (log %q)", from, to, err, out.Log)
		}
		if len(out.Curve) != to-from || out.Curve[len(out.Curve)-1].Epoch != to || out.Accuracy < 0.3 || out.Fitness <= 0 {
			t.Fatalf("epochs %d to %d: fitness %v accuracy %v curve %+v log %q", from, to, out.Fitness, out.Accuracy, out.Curve, out.Log)
		}
		if n := out.Accuracy * 1000; math.Abs(n-math.Round(n)) > 1e-6 {
			t.Errorf("epochs %d to %d: accuracy %v is not a count of 1,000 images: MNIST_VALIDATION was not used", from, to, out.Accuracy)
		}
		return out
	}
	rungs := t.TempDir()
	train(rungs, 0, 1)
	task.WeightsTo = "gahpo-weights" // the top rung: the run keeps its model
	resumed := train(rungs, 1, 2)
	task.WeightsTo = ""
	straight := train(t.TempDir(), 0, 2)
	// The model it wrote to GAHPO_WEIGHTS_FILE is PyTorch's state_dict of
	// the network (a zip, as torch.save writes it), loadable as it is.
	model := filepath.Join(t.TempDir(), "model.pt")
	if err := os.WriteFile(model, resumed.Weights, 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("python3", "-c", `import sys, torch
sd = torch.load(sys.argv[1])
print(sorted(sd), tuple(sd["fc1.weight"].shape))`, model).CombinedOutput(); err != nil ||
		strings.TrimSpace(string(out)) != "['conv1.bias', 'conv1.weight', 'conv2.bias', 'conv2.weight', 'fc1.bias', 'fc1.weight', 'fc2.bias', 'fc2.weight'] (128, 9216)" {
		t.Errorf("the model kept (%d bytes) is not the network's state_dict: %v %s", len(resumed.Weights), err, out)
	}
	if straight.Weights != nil {
		t.Errorf("a fitness training below the top rung left a model of %d bytes", len(straight.Weights))
	}
	if _, err := os.Stat(filepath.Join(rungs, "state.pt")); err != nil {
		t.Errorf("no checkpoint: %v", err)
	}
	got, want := resumed.Curve[0].Metrics, straight.Curve[1].Metrics
	for _, m := range []string{"train_loss", "val_loss", "val_accuracy", "lr"} {
		if got[m] != want[m] {
			t.Errorf("epoch 2's %s: %v on from the checkpoint, %v straight through", m, got[m], want[m])
		}
	}
}
