package cnn

import (
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"gorgonia.org/tensor"

	"github.com/gahpo/gahpo/models/mnist"
)

// TestAgainstPyTorch gives the same weights and images to this package and
// to PyTorch (testdata/torch_check.py, when /usr/bin/python3 has torch):
// the loss, the gradients and the weights after one Adadelta step with
// weight decay must agree to float32 precision.
func TestAgainstPyTorch(t *testing.T) {
	if testing.Short() {
		t.Skip("runs PyTorch")
	}
	const python = "/usr/bin/python3"
	if err := exec.Command(python, "-c", "import torch, numpy").Run(); err != nil {
		t.Skipf("no PyTorch in %s: %v", python, err)
	}
	dir, err := mnist.FindDir()
	if err != nil {
		t.Fatal(err)
	}
	train := loadTrain(t)
	const lr, wd = 1.0, 0.01
	p := newParams(tensor.Float32, 11)
	tmp := t.TempDir()
	if err := os.WriteFile(filepath.Join(tmp, "w.bin"), p.marshal(), 0o644); err != nil {
		t.Fatal(err)
	}
	idx := []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}
	strs := make([]string, len(idx))
	for i, v := range idx {
		strs[i] = strconv.Itoa(v)
	}
	out, err := exec.Command(python, filepath.Join("testdata", "torch_check.py"), dir, filepath.Join(tmp, "w.bin"),
		strings.Join(strs, ","), tmp, strconv.FormatFloat(lr, 'g', -1, 64), strconv.FormatFloat(wd, 'g', -1, 64)).CombinedOutput()
	if err != nil {
		t.Fatalf("torch_check.py: %v\n%s", err, out)
	}
	torchLoss, err := strconv.ParseFloat(strings.TrimPrefix(strings.TrimSpace(string(out)), "loss="), 64)
	if err != nil {
		t.Fatalf("torch_check.py printed %q", out)
	}
	load := func(name string) params {
		b, err := os.ReadFile(filepath.Join(tmp, name))
		if err != nil {
			t.Fatal(err)
		}
		q, err := unmarshalParams(b)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return q
	}
	torchGrads, torchAfter := load("grads.bin"), load("after.bin")

	n, err := newNet(p, len(idx), true)
	if err != nil {
		t.Fatal(err)
	}
	loss, grads := gradients(t, n, train, idx, 1/float64(len(idx)))
	t.Logf("loss %.9g, PyTorch %.9g", loss, torchLoss)
	if math.Abs(loss-torchLoss) > 1e-6*torchLoss {
		t.Errorf("loss %.9g, PyTorch %.9g", loss, torchLoss)
	}
	for i, s := range specs {
		want := toFloat64(torchGrads[i])
		var scale, worst float64
		for j := range want {
			scale = max(scale, math.Abs(want[j]))
			worst = max(worst, math.Abs(grads[i][j]-want[j]))
		}
		t.Logf("%-12s max |gradient| %.3g, worst difference from PyTorch %.2g", s.name, scale, worst)
		if worst > 1e-4*scale {
			t.Errorf("%s: gradient differs from PyTorch's by %.3g (largest gradient %.3g)", s.name, worst, scale)
		}
	}

	// One Adadelta step from the same gradients, computed again by a new net.
	n2, err := newNet(p, len(idx), true)
	if err != nil {
		t.Fatal(err)
	}
	n2.setImages(train, idx)
	n2.setTargets(train, idx, 1/float64(len(idx)))
	n2.setMasks(nil)
	if err := n2.run(); err != nil {
		t.Fatal(err)
	}
	if err := NewAdadelta(lr, wd).Step(weightGrads(n2, false)); err != nil {
		t.Fatal(err)
	}
	for i, s := range specs {
		got, want := toFloat64(p[i]), toFloat64(torchAfter[i])
		var worst float64
		for j := range want {
			worst = max(worst, math.Abs(got[j]-want[j]))
		}
		// The step moves each weight by about lr·√eps = 1e-3.
		t.Logf("%-12s after one Adadelta step, worst difference from PyTorch %.2g", s.name, worst)
		if worst > 1e-6 {
			t.Errorf("%s after one Adadelta step: differs from PyTorch by %.3g", s.name, worst)
		}
	}
}
