package main

import (
	"strings"
	"testing"
	"time"

	"github.com/gahpo/gahpo"
)

// TestQueryDurations: the query commands' human-readable text writes its
// durations as the report page, the dashboard and gahpo status do
// (report.Duration: "0.35 s", "215 µs", "3 min 12 s"), not in Go's
// format ("348ms", "215µs", "3m12s").
func TestQueryDurations(t *testing.T) {
	rc := gahpo.RunConfig{}
	epochs := []gahpo.EpochMetrics{{Epoch: 1, TrainLoss: 0.5, TestLoss: 0.4, Duration: 4900 * time.Microsecond},
		{Epoch: 2, TrainLoss: 0.3, TestLoss: 0.2, Duration: 215 * time.Microsecond}}
	curve := []gahpo.EpochReport{{Epoch: 1, Metrics: map[string]gahpo.Float{"val_loss": 0.4}, Duration: 192 * time.Second},
		{Epoch: 2, Metrics: map[string]gahpo.Float{"val_loss": 0.3}, Duration: 109 * time.Minute}}
	tests := []struct {
		name     string
		print    func(*strings.Builder)
		want     []string
		wantNone []string
	}{
		{"a generation's genomes", func(b *strings.Builder) {
			printGenomes(b, rc, []gahpo.GenomeRecord{{ID: 1, Status: gahpo.GenomeDone, Fitness: 0.3, Worker: "w1", Duration: 348 * time.Millisecond}})
		}, []string{"w1 0.35 s"}, []string{"348ms"}},
		{"a genome", func(b *strings.Builder) {
			printGenome(b, rc, gahpo.GenomeRecord{ID: 1, Status: gahpo.GenomeDone, Fitness: 0.3, Duration: 11547 * time.Nanosecond}, lineage{})
		}, []string{"duration 12 µs\n"}, []string{"0.000 s"}},
		{"a final training's epochs", func(b *strings.Builder) {
			printFinal(b, rc, gahpo.FinalTraining{GenomeID: 3, Duration: 82012 * time.Microsecond, Epochs: epochs}, lineage{})
		}, []string{", 82 ms\n", "0.4 - 4.9 ms\n", "0.2 - 215 µs\n"}, []string{"82.012ms", "4.9ms", "215µs"}},
		{"a problem file's final curve", func(b *strings.Builder) {
			printFinal(b, rc, gahpo.FinalTraining{GenomeID: 3, Duration: 90 * time.Second, Epochs: []gahpo.EpochMetrics{{Epoch: 1}, {Epoch: 2}}, Curve: curve}, lineage{})
		}, []string{", 1 min 30 s\n", "0.4 3 min 12 s\n", "0.3 1 h 49 min\n"}, []string{"1m30s", "3m12s", "1h49m0s"}},
	}
	for _, tt := range tests {
		var b strings.Builder
		tt.print(&b)
		lines := strings.Split(b.String(), "\n")
		for i, l := range lines { // the columns' widths aside
			lines[i] = strings.Join(strings.Fields(l), " ")
		}
		got := strings.Join(lines, "\n")
		for _, w := range tt.want {
			if !strings.Contains(got, w) {
				t.Errorf("%s: output lacks %q:\n%s", tt.name, w, b.String())
			}
		}
		for _, w := range tt.wantNone {
			if strings.Contains(got, w) {
				t.Errorf("%s: output holds %q:\n%s", tt.name, w, b.String())
			}
		}
	}
}
