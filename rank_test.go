package gahpo_test

import (
	"math"
	"testing"

	"github.com/gahpo/gahpo"
)

// TestBetterRanksNonFiniteLast checks that the stored records rank by the
// engine's rule: -Inf, like NaN and +Inf, is a failed genome and ranks last.
func TestBetterRanksNonFiniteLast(t *testing.T) {
	rec := func(id int, f float64) gahpo.GenomeRecord {
		return gahpo.GenomeRecord{ID: id, Fitness: gahpo.Float(f)}
	}
	tests := []struct {
		name string
		a, b gahpo.GenomeRecord
		want bool
	}{
		{"lower fitness first", rec(2, 0.1), rec(1, 0.2), true},
		{"tie to the lower id", rec(1, 0.1), rec(2, 0.1), true},
		{"finite before -Inf", rec(2, 1e9), rec(1, math.Inf(-1)), true},
		{"-Inf after finite", rec(1, math.Inf(-1)), rec(2, 1e9), false},
		{"finite before NaN", rec(2, 1), rec(1, math.NaN()), true},
		{"finite before +Inf", rec(2, 1), rec(1, math.Inf(1)), true},
		{"-Inf and NaN by id", rec(1, math.Inf(-1)), rec(2, math.NaN()), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := gahpo.Better(tt.a, tt.b); got != tt.want {
				t.Errorf("Better(#%d %v, #%d %v) = %v, want %v", tt.a.ID, tt.a.Fitness, tt.b.ID, tt.b.Fitness, got, tt.want)
			}
		})
	}
}
