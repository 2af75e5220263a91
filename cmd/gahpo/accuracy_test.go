package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/gahpo/gahpo"
	"github.com/gahpo/gahpo/report"
)

// TestBestAccuracyColumn: the best genomes' table (a run's summary, query
// best) has an ACCURACY column when a row has an accuracy (the CNN's), and
// none, rather than an empty one, when none has (the regression, a problem
// file's trainer).
func TestBestAccuracyColumn(t *testing.T) {
	row := func(acc float64) []gahpo.BestEntry {
		return []gahpo.BestEntry{{Generation: 1, GenomeID: 3, Fitness: 0.05, Accuracy: acc, Worker: "w1", Params: map[string]float64{"x": 1}},
			{Generation: 2, GenomeID: 7, Fitness: 0.04, Worker: "w2", Params: map[string]float64{"x": 2}}}
	}
	stats := []report.GenStats{{Generation: 1, Genomes: 1, Evaluated: 1, Median: 0.05, Mean: 0.05}, {Generation: 2, Genomes: 1, Evaluated: 1, Median: 0.04, Mean: 0.04}}
	tests := []struct {
		name  string
		rows  []gahpo.BestEntry
		stats []report.GenStats
		want  []string
		not   string
	}{
		{"an accuracy, statistics", row(0.97), stats, []string{"GEN  GENOME  FITNESS  ACCURACY  MEDIAN  MEAN  FAILED  TRAINED BY  PARAMS\n",
			"1    3       0.05     97.00%    0.05    0.05  0/1     w1          x=1\n", "2    7       0.04               0.04    0.04  0/1     w2          x=2\n"}, ""},
		{"none, statistics", row(0), stats, []string{"GEN  GENOME  FITNESS  MEDIAN  MEAN  FAILED  TRAINED BY  PARAMS\n",
			"1    3       0.05     0.05    0.05  0/1     w1          x=1\n"}, "ACCURACY"},
		{"an accuracy", row(0.97), nil, []string{"GEN  GENOME  FITNESS  ACCURACY  TRAINED BY  PARAMS\n", "1    3       0.05     97.00%    w1          x=1\n",
			"2    7       0.04               w2          x=2\n"}, ""},
		{"none", row(0), nil, []string{"GEN  GENOME  FITNESS  TRAINED BY  PARAMS\n", "1    3       0.05     w1          x=1\n"}, "ACCURACY"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			printBest(&buf, gahpo.RunConfig{Problem: "regression"}, tt.rows, tt.stats...)
			out := buf.String()
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("lacks %q:\n%s", w, out)
				}
			}
			if tt.not != "" && strings.Contains(out, tt.not) {
				t.Errorf("holds %q:\n%s", tt.not, out)
			}
		})
	}
}
