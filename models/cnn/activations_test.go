package cnn

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/gahpo/gahpo/internal/testpython"
	"github.com/gahpo/gahpo/models"
	"github.com/gahpo/gahpo/models/mnist"
	"gorgonia.org/tensor"
)

func TestConv1Activations(t *testing.T) {
	p := newParams(tensor.Float32, 3)
	w, b := p[0].Data().([]float32), p[1].Data().([]float32)
	// Channel 0 becomes an identity kernel (centre 1, bias 0): its map is
	// the normalised image's inner 26×26 pixels, clipped at 0 by the ReLU.
	clear(w[:9])
	w[4], b[0] = 1, 0
	img := make([]uint8, mnist.Pixels)
	for i := range img {
		img[i] = uint8(i * 7 % 256)
	}
	acts, err := Conv1Activations(p.marshal(), img)
	if err != nil {
		t.Fatal(err)
	}
	if len(acts) != 32 || len(acts[5]) != Conv1Size*Conv1Size {
		t.Fatalf("got %d channels of %d values, want 32 of %d", len(acts), len(acts[5]), Conv1Size*Conv1Size)
	}
	norm := make([]float32, mnist.Pixels)
	mnist.Normalize(norm, img)
	for y := range Conv1Size {
		for x := range Conv1Size {
			want := max(norm[(y+1)*mnist.Cols+x+1], 0)
			if got := acts[0][y*Conv1Size+x]; got != want {
				t.Fatalf("identity channel at (%d,%d) = %v, want %v", y, x, got, want)
			}
			// Channel 7 by the definition: bias plus the 3×3 window.
			s := float64(b[7])
			for ky := range 3 {
				for kx := range 3 {
					s += float64(w[7*9+ky*3+kx]) * float64(norm[(y+ky)*mnist.Cols+x+kx])
				}
			}
			if got := float64(acts[7][y*Conv1Size+x]); math.Abs(got-max(s, 0)) > 1e-5 {
				t.Fatalf("channel 7 at (%d,%d) = %v, want %v", y, x, got, max(s, 0))
			}
		}
	}
	cw, err := Conv1Weights(p.marshal())
	if err != nil || len(cw) != 288 || cw[4] != 1 {
		t.Errorf("Conv1Weights: %d values, [4] = %v, err %v", len(cw), cw[4], err)
	}
}

func TestConv1ActivationsBadInput(t *testing.T) {
	if _, err := Conv1Activations([]byte("junk"), make([]uint8, mnist.Pixels)); !errors.Is(err, ErrWeights) {
		t.Errorf("junk weights: %v, want ErrWeights", err)
	}
	if _, err := Conv1Activations(InitialWeights(1), make([]uint8, 10)); err == nil {
		t.Error("a 10-pixel image gave no error")
	}
}

// TestPyTorchArrays checks the layout of the exported arrays against the
// network's own tensors: PyTorch's names, the linear weights transposed to
// (out, in), the biases flat.
func TestPyTorchArrays(t *testing.T) {
	p := newParams(tensor.Float32, 5)
	arrays, err := PyTorchArrays(p.marshal())
	if err != nil {
		t.Fatal(err)
	}
	want := []struct {
		name  string
		shape []int
	}{
		{"conv1.weight", []int{32, 1, 3, 3}}, {"conv1.bias", []int{32}},
		{"conv2.weight", []int{64, 32, 3, 3}}, {"conv2.bias", []int{64}},
		{"fc1.weight", []int{128, 9216}}, {"fc1.bias", []int{128}},
		{"fc2.weight", []int{10, 128}}, {"fc2.bias", []int{10}},
	}
	if len(arrays) != len(want) {
		t.Fatalf("%d arrays, want %d", len(arrays), len(want))
	}
	for i, w := range want {
		a := arrays[i]
		if a.Name != w.name || !slices.Equal(a.Shape, w.shape) {
			t.Errorf("array %d: %s %v, want %s %v", i, a.Name, a.Shape, w.name, w.shape)
		}
		v := p[i].Data().([]float32)
		for j := range min(len(v), 2000) {
			idx := j
			if len(specs[i].shape) == 2 && !strings.HasSuffix(w.name, ".bias") {
				in, o := specs[i].shape[0], specs[i].shape[1]
				r, c := j/o, j%o
				idx = c*in + r // (in, out)[r][c] is (out, in)[c][r]
			}
			if a.Data[idx] != v[j] {
				t.Fatalf("%s: value %d of the network is at %d of the array? got %v, want %v", w.name, j, idx, a.Data[idx], v[j])
			}
		}
	}
	if _, err := PyTorchArrays([]byte("not weights")); !errors.Is(err, ErrWeights) {
		t.Errorf("malformed weights: %v, want ErrWeights", err)
	}
}

// TestPyTorchArraysLoadInPyTorch exports trained weights as .npz and loads
// them into PyTorch's network, as a user would (testdata/torch_npz.py, when
// a python3 has torch and numpy): its loss and accuracy on test images
// must be this package's.
func TestPyTorchArraysLoadInPyTorch(t *testing.T) {
	if testing.Short() {
		t.Skip("trains briefly and runs PyTorch")
	}
	py := testpython.With(t, "torch", "numpy")
	dir, err := mnist.FindDir()
	if err != nil {
		t.Fatal(err)
	}
	train, test := loadMNIST(t)
	cfg := Config{BatchSize: 64, LR: 1, Gamma: 0.7, Epochs: 1, Seed: 3}
	res, err := TrainFull(context.Background(), train.Slice(0, 2000), test.Slice(0, 100), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	const n = 1000
	loss, acc, err := Evaluate(context.Background(), res.Weights, test.Slice(0, n))
	if err != nil {
		t.Fatal(err)
	}
	arrays, err := PyTorchArrays(res.Weights)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := models.WriteNPZ(&b, arrays); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "model.npz")
	if err := os.WriteFile(file, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(py, filepath.Join("testdata", "torch_npz.py"), dir, file, strconv.Itoa(n)).CombinedOutput()
	if err != nil {
		t.Fatalf("torch_npz.py: %v\n%s", err, out)
	}
	var tLoss, tAcc float64
	if _, err := fmt.Sscanf(string(out), "loss=%g accuracy=%g", &tLoss, &tAcc); err != nil {
		t.Fatalf("torch_npz.py printed %q: %v", out, err)
	}
	t.Logf("gahpo: loss %.7g accuracy %.4f; PyTorch on the exported arrays: loss %.7g accuracy %.4f", loss, acc, tLoss, tAcc)
	if acc < 0.5 || math.Abs(loss-tLoss) > 1e-4*loss || math.Abs(acc-tAcc) > 1.5/n {
		t.Errorf("gahpo: loss %.7g accuracy %.4f; PyTorch: loss %.7g accuracy %.4f", loss, acc, tLoss, tAcc)
	}
}
