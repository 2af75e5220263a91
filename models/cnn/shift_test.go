package cnn

import (
	"context"
	"math"
	"slices"
	"testing"

	"github.com/gahpo/gahpo/models/mnist"
)

// TestShiftImage moves a 28×28 image of distinct pixels and checks every
// output pixel: the one it came from, or the background.
func TestShiftImage(t *testing.T) {
	px := make([]uint8, mnist.Pixels)
	for i := range px {
		px[i] = uint8(1 + i%250) // never 0, the background's pixel
	}
	var bg [1]float32
	mnist.Normalize(bg[:], []uint8{0})
	for _, tc := range []struct{ dx, dy int }{
		{0, 0}, {1, 0}, {-1, 0}, {0, 2}, {0, -2}, {3, -1}, {-8, 8}, {27, 0}, {0, -27}, {28, 28}, {-40, 3},
	} {
		dst := make([]float32, mnist.Pixels)
		for i := range dst {
			dst[i] = 99 // nothing of before may stay
		}
		shiftImage(dst, px, tc.dx, tc.dy, bg[0])
		for y := range mnist.Rows {
			for x := range mnist.Cols {
				want := bg[0]
				if sx, sy := x-tc.dx, y-tc.dy; sx >= 0 && sx < mnist.Cols && sy >= 0 && sy < mnist.Rows {
					var v [1]float32
					mnist.Normalize(v[:], px[sy*mnist.Cols+sx:sy*mnist.Cols+sx+1])
					want = v[0]
				}
				if got := dst[y*mnist.Cols+x]; got != want {
					t.Fatalf("shift (%d, %d): pixel (%d, %d) is %v, want %v", tc.dx, tc.dy, x, y, got, want)
				}
			}
		}
	}
}

// TestShifter: the shifts of a seed, epoch and position are the same each
// time, cover [-k, k] on each axis evenly, and change with each of the
// three.
func TestShifter(t *testing.T) {
	for _, k := range []int{1, 2, 3, MaxShift} {
		sh := shifter{seed: 7, epoch: 1, pos: 0, k: k}
		counts := map[[2]int]int{}
		const n = 20000
		for i := range n {
			dx, dy := sh.shift(i)
			if dx < -k || dx > k || dy < -k || dy > k {
				t.Fatalf("k %d: shift (%d, %d)", k, dx, dy)
			}
			if dx2, dy2 := sh.shift(i); dx2 != dx || dy2 != dy {
				t.Fatalf("k %d: image %d moved (%d, %d), then (%d, %d)", k, i, dx, dy, dx2, dy2)
			}
			counts[[2]int{dx, dy}]++
		}
		cells := (2*k + 1) * (2*k + 1)
		if len(counts) != cells {
			t.Errorf("k %d: %d of the %d shifts drawn", k, len(counts), cells)
		}
		for c, m := range counts {
			// Five standard deviations of a count: a fair draw passes, one
			// favouring some shifts by a few percent does not.
			if exp := float64(n) / float64(cells); math.Abs(float64(m)-exp) > 5*math.Sqrt(exp) {
				t.Errorf("k %d: shift %v drawn %d times of %d, expected about %.0f", k, c, m, n, exp)
			}
		}
	}
	base := shifter{seed: 7, epoch: 1, pos: 100, k: 2}
	same := func(a, b shifter) int {
		n := 0
		for i := range 1000 {
			ax, ay := a.shift(i)
			bx, by := b.shift(i)
			if ax == bx && ay == by {
				n++
			}
		}
		return n
	}
	if n := same(base, shifter{seed: 7, epoch: 0, pos: 99, k: 2}.at(1)); n != 1000 {
		t.Errorf("position 100 as 99+1: %d of 1000 the same", n)
	}
	for name, other := range map[string]shifter{
		"another seed":     {seed: 8, epoch: 1, pos: 100, k: 2},
		"another epoch":    {seed: 7, epoch: 2, pos: 100, k: 2},
		"another position": {seed: 7, epoch: 1, pos: 101, k: 2},
	} {
		if n := same(base, other); n > 100 { // 1/25 by chance: ~40
			t.Errorf("%s: %d of 1000 shifts the same", name, n)
		}
	}
}

// at returns s for the images from position pos+i on, in epoch 1.
func (s shifter) at(i int) shifter {
	s.pos += i
	s.epoch = 1
	return s
}

// TestTrainShift: a training with shifted images gives other figures than
// one without from its first epoch on, and goes on from its checkpoint to
// the same bits as one trained straight through.
func TestTrainShift(t *testing.T) {
	s := runSplits(t)
	ctx := context.Background()
	cfg := runConfig
	cfg.Shift = 2
	train := func(c Config, dir string, to int) Outcome {
		t.Helper()
		out, err := Train(ctx, s, c, Run{Dir: dir, To: to, Test: true})
		if err != nil || out.Diverged != "" {
			t.Fatalf("train %+v to %d: %v %s", c, to, err, out.Diverged)
		}
		return out
	}
	straight := train(cfg, t.TempDir(), 2)
	dir := t.TempDir()
	resumed := append(train(cfg, dir, 1).Epochs, train(cfg, dir, 2).Epochs...)
	for i := range 2 {
		if d := sameEpoch(straight.Epochs[i], resumed[i]); d != "" {
			t.Errorf("shift 2, epoch %d, straight then resumed: %s", i+1, d)
		}
	}
	plain := train(runConfig, t.TempDir(), 1)
	if plain.Epochs[0].TrainLoss == straight.Epochs[0].TrainLoss || plain.Fitness == straight.Epochs[0].ValLoss {
		t.Errorf("shift 2 and shift 0 trained to the same first epoch: train loss %v, val loss %v", plain.Epochs[0].TrainLoss, plain.Fitness)
	}
	// A checkpoint of shift 0 does not go on as shift 2.
	if _, err := Train(ctx, s, cfg, Run{Dir: dir, To: 3, From: &Config{BatchSize: 64, LR: 1, Gamma: 0.7, WeightDecay: 1e-4, Seed: 7}}); err == nil {
		t.Error("a shift-2 checkpoint went on as another genome's (shift 0)")
	}
	if !slices.ContainsFunc(straight.Epochs, func(e Epoch) bool { return e.TestAccuracy > 0 }) {
		t.Error("no test accuracy measured")
	}
}
