package coordinator

import (
	"fmt"
	"testing"

	"github.com/gahpo/gahpo"
)

// TestLiveCurve: a training's live curve stays within its bound, keeps its
// first and newest epochs, and stays evenly spaced as it thins.
func TestLiveCurve(t *testing.T) {
	tests := []struct {
		name    string
		reports int
		max     int
		want    string
	}{
		{"none", 0, 4, "[]"},
		{"below the bound: all", 3, 4, "[1 2 3]"},
		{"at the bound: all", 4, 4, "[1 2 3 4]"},
		{"one past: every second", 5, 4, "[1 3 5]"},
		{"between strides: the newest after them", 6, 4, "[1 3 5 6]"},
		{"thinned twice", 9, 4, "[1 5 9]"},
		{"thinned twice, the newest between", 12, 4, "[1 5 9 12]"},
		{"a bound of one", 6, 1, "[1 6]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c liveCurve
			for e := 1; e <= tt.reports; e++ {
				c.add(gahpo.EpochReport{Epoch: e}, tt.max)
				if len(c.kept) > tt.max {
					t.Fatalf("after epoch %d: %d reports kept, bound %d", e, len(c.kept), tt.max)
				}
			}
			rs := c.reports()
			got := make([]int, len(rs))
			for i, r := range rs {
				got[i] = r.Epoch
			}
			if fmt.Sprint(got) != tt.want {
				t.Errorf("curve epochs %v, want %s", got, tt.want)
			}
		})
	}
}
