package cnn

import (
	"testing"

	"github.com/gahpo/gahpo/models/mnist"
)

// TestSetShiftedImagesAllocatesNothing: moving a batch's images, done for
// every chunk of every step of a shift genome's training, allocates nothing.
func TestSetShiftedImagesAllocatesNothing(t *testing.T) {
	const n = 8
	s := &mnist.Set{N: n, Pixels: make([]uint8, n*mnist.Pixels), Labels: make([]uint8, n)}
	for i := range s.Pixels {
		s.Pixels[i] = uint8(i)
	}
	idx := []int{3, 1, 4, 1, 5}
	x32 := make([]float32, n*mnist.Pixels)
	x64 := make([]float64, n*mnist.Pixels)
	sh := shifter{seed: 1, epoch: 2, pos: 64, k: 3}
	if a := testing.AllocsPerRun(20, func() {
		setShiftedImages(x32, s, idx, sh)
		setShiftedImages(x64, s, idx, sh)
	}); a != 0 {
		t.Errorf("setShiftedImages: %v allocations per call, want 0", a)
	}
}
