package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/gahpo/gahpo"
)

// TestBestRows prints "best per generation" rows of generations and of a
// population based training's rungs, whose statistics come with the rows
// and whose best of the run is the top rung's even where an earlier rung
// has a lower fitness.
func TestBestRows(t *testing.T) {
	gens := []gahpo.BestEntry{{Generation: 1, GenomeID: 3, Fitness: 0.5}, {Generation: 2, GenomeID: 9, Fitness: 0.4}}
	rungs := []gahpo.BestEntry{
		{Generation: 1, GenomeID: 1, Fitness: 0.044, Epochs: 2, Rung: 0, RungResults: 8, RungMedian: 0.676, RungMean: 0.997},
		{Generation: 2, GenomeID: 20, Fitness: 0.0333, Epochs: 4, Rung: 1, RungResults: 8, RungFailed: 1, RungMedian: 0.0354, RungMean: 0.0353},
		{Generation: 3, GenomeID: 24, Fitness: 0.0348, Epochs: 6, Rung: 2, RungResults: 7, RungMedian: 0.0351, RungMean: 0.0353},
	}
	tests := []struct {
		name   string
		rows   []gahpo.BestEntry
		header string
		row    string // a line that must be printed
		best   int    // the best of the run
	}{
		{"generations", gens, "GEN  GENOME", "", 9},
		{"rungs", rungs, "RUNG  EPOCHS  GENOME", "2     4       20      0.0333", 24},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stats := rungStats(tt.rows)
			if (stats != nil) != (tt.rows[0].RungResults > 0) {
				t.Fatalf("rung statistics %v for rows %v", stats, tt.rows)
			}
			var buf bytes.Buffer
			printBest(&buf, tt.rows, stats...)
			out := buf.String()
			if !strings.HasPrefix(out, tt.header) || !strings.Contains(out, tt.row) {
				t.Fatalf("printed\n%s\nwant the header %q and the line %q", out, tt.header, tt.row)
			}
			if stats != nil && !strings.Contains(out, "1/8") {
				t.Fatalf("printed\n%s\nwithout the rung's failures of its results", out)
			}
			best := tt.rows[0]
			for _, b := range tt.rows {
				if better(b, best) {
					best = b
				}
			}
			if best.GenomeID != tt.best {
				t.Fatalf("best of the run %d, want %d", best.GenomeID, tt.best)
			}
		})
	}
}
