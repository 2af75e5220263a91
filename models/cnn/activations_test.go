package cnn

import (
	"errors"
	"math"
	"testing"

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
