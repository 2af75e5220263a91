package report

import (
	"slices"
	"testing"
)

// TestSpacedRow: an epoch table shows every epoch up to maxEpochRows, and
// beyond, maxEpochRows of them evenly spaced, the first and the last
// included, each once and in order.
func TestSpacedRow(t *testing.T) {
	t.Parallel()
	for _, all := range []int{1, 14, 15, 16, 29, 100} {
		var got []int
		for i := range min(maxEpochRows, all) {
			got = append(got, spacedRow(i, all))
		}
		if len(got) != min(maxEpochRows, all) || got[0] != 0 || got[len(got)-1] != all-1 {
			t.Errorf("%d epochs: rows %v, want %d from 0 to %d", all, got, min(maxEpochRows, all), all-1)
		}
		if !slices.IsSorted(got) || len(slices.Compact(slices.Clone(got))) != len(got) {
			t.Errorf("%d epochs: rows %v not increasing", all, got)
		}
	}
}
