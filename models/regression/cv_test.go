package regression

import (
	"slices"
	"testing"
)

func TestKFold(t *testing.T) {
	tests := []struct{ n, k int }{
		{n: 200, k: 10}, {n: 180, k: 10}, {n: 23, k: 5}, {n: 10, k: 10}, {n: 2, k: 2}, {n: 7, k: 3}, {n: 200, k: 2},
	}
	for _, tt := range tests {
		for seed := range uint64(3) {
			folds := kFold(tt.n, tt.k, newRand(seed, streamSplit))
			if len(folds) != tt.k {
				t.Fatalf("n %d k %d: %d folds", tt.n, tt.k, len(folds))
			}
			inVal := make([]int, tt.n) // how many validation folds hold each index
			for f, fl := range folds {
				if size := len(fl.val); size != tt.n/tt.k && size != tt.n/tt.k+1 {
					t.Errorf("n %d k %d fold %d: validation size %d, want %d or %d", tt.n, tt.k, f, size, tt.n/tt.k, tt.n/tt.k+1)
				}
				if len(fl.train)+len(fl.val) != tt.n {
					t.Errorf("n %d k %d fold %d: train %d + val %d != %d", tt.n, tt.k, f, len(fl.train), len(fl.val), tt.n)
				}
				val := make(map[int]bool)
				for _, i := range fl.val {
					inVal[i]++
					val[i] = true
				}
				seen := make(map[int]bool)
				for _, i := range fl.train {
					if val[i] {
						t.Errorf("n %d k %d fold %d: index %d both in training and validation", tt.n, tt.k, f, i)
					}
					if seen[i] {
						t.Errorf("n %d k %d fold %d: index %d twice in training", tt.n, tt.k, f, i)
					}
					if i < 0 || i >= tt.n {
						t.Errorf("n %d k %d fold %d: index %d out of range", tt.n, tt.k, f, i)
					}
					seen[i] = true
				}
			}
			for i, c := range inVal {
				if c != 1 {
					t.Errorf("n %d k %d: index %d in %d validation folds, want exactly 1", tt.n, tt.k, i, c)
				}
			}
		}
	}
}

func TestKFoldSeeded(t *testing.T) {
	a := kFold(50, 5, newRand(7, streamSplit))
	b := kFold(50, 5, newRand(7, streamSplit))
	c := kFold(50, 5, newRand(8, streamSplit))
	same := func(x, y []fold) bool {
		for f := range x {
			if !slices.Equal(x[f].val, y[f].val) || !slices.Equal(x[f].train, y[f].train) {
				return false
			}
		}
		return true
	}
	if !same(a, b) {
		t.Error("same seed gave different folds")
	}
	if same(a, c) {
		t.Error("seeds 7 and 8 gave the same folds")
	}
	// The split is shuffled: the first fold is not simply 0..9.
	if slices.Equal(a[0].val, []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}) {
		t.Error("fold 0 holds the first 10 indices: the split is not shuffled")
	}
}
