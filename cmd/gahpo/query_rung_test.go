package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"math"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/gahpo/gahpo"
	"github.com/gahpo/gahpo/store"
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
		{"rungs", rungs, "RUNG  EPOCHS  GENOME", "1     4       20      0.0333", 24}, // rungs from 0, as in the JSON
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stats := rungStats(tt.rows)
			if (stats != nil) != (tt.rows[0].RungResults > 0) {
				t.Fatalf("rung statistics %v for rows %v", stats, tt.rows)
			}
			var buf bytes.Buffer
			printBest(&buf, gahpo.RunConfig{}, tt.rows, stats...)
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

// TestQueryOverallBest: the best genome of a run (query best
// --per-generation=false) is the one the run chose once it has (Run.Best,
// on the mean of its trainings after a confirmation), not the lowest
// single training; before it has chosen, the best of the rows.
func TestQueryOverallBest(t *testing.T) {
	mean1, mean2 := gahpo.Float(0.13), gahpo.Float(0.11)
	params := map[string]float64{"lr": 0.1}
	genomes := []gahpo.GenomeRecord{
		// The lowest fitness of one training, but the higher mean.
		{ID: 1, Status: gahpo.GenomeDone, Fitness: 0.10, Epochs: 9, Rung: 1, Params: params, ConfirmedFitness: &mean1,
			Replicates: []gahpo.Replicate{{Status: gahpo.GenomeDone, Fitness: 0.16}}},
		{ID: 2, Status: gahpo.GenomeDone, Fitness: 0.12, Epochs: 9, Rung: 1, Params: params, ConfirmedFitness: &mean2,
			Replicates: []gahpo.Replicate{{Status: gahpo.GenomeDone, Fitness: 0.10}}},
		{ID: 3, Status: gahpo.GenomeDone, Fitness: 0.05, Epochs: 3, Rung: 0, Params: params},
	}
	tests := []struct {
		name      string
		best      int    // Run.Best
		json      bool   // --json
		want      string // must be printed
		wantNot   string // must not be
		wantFirst int    // genome of the one row
	}{
		{"chosen on the mean", 2, false, "chosen on 2 trainings (its own and 1 with other seeds): mean fitness 0.11", "", 2},
		{"chosen on the mean, JSON", 2, true, `"confirmed_fitness": 0.11`, "", 2},
		{"not chosen yet", 0, false, "", "chosen on", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := filepath.Join(t.TempDir(), "h.db")
			st, err := store.Open(db, store.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if err := st.CreateRun(gahpo.Run{ID: "r", Status: gahpo.RunDone, Best: tt.best, Params: []string{"lr"}}, []byte("{}"), genomes); err != nil {
				t.Fatal(err)
			}
			st.Close()
			args := []string{"query", "best", "--per-generation=false", "--db", db}
			if tt.json {
				args = append(args, "--json")
			}
			var out bytes.Buffer
			if err := (&Main{Stdout: &out, Stderr: io.Discard}).Run(context.Background(), args); err != nil {
				t.Fatal(err)
			}
			var id int
			if tt.json {
				var rows []gahpo.BestEntry
				if err := json.Unmarshal(out.Bytes(), &rows); err != nil || len(rows) != 1 {
					t.Fatalf("JSON %s: %v", out.String(), err)
				}
				id = rows[0].GenomeID
			} else {
				lines := strings.Split(out.String(), "\n")
				if len(lines) < 2 {
					t.Fatalf("printed %q", out.String())
				}
				id, _ = strconv.Atoi(strings.Fields(lines[1])[1])
			}
			if id != tt.wantFirst || !strings.Contains(out.String(), tt.want) || (tt.wantNot != "" && strings.Contains(out.String(), tt.wantNot)) {
				t.Fatalf("printed\n%s\nwant genome %d, %q and not %q", out.String(), tt.wantFirst, tt.want, tt.wantNot)
			}
		})
	}
}

// TestQueryFinalMissing: query final of a run without a final training
// says why it has none, not that a record was not found.
func TestQueryFinalMissing(t *testing.T) {
	tests := []struct {
		name string
		run  gahpo.Run
		want string
	}{
		{"left running", gahpo.Run{ID: "r", Status: gahpo.RunRunning, Config: gahpo.RunConfig{FinalEpochs: 3}},
			"run r has no final training yet: it is unfinished, left running by a coordinator that stopped before its end"},
		{"left in its final training", gahpo.Run{ID: "r", Status: gahpo.RunFinal, Config: gahpo.RunConfig{FinalEpochs: 3}}, "it is unfinished, left final"},
		{"failed", gahpo.Run{ID: "r", Status: gahpo.RunFailed, Error: "boom"}, "run r has no final training: it failed before it (boom)"},
		{"without one", gahpo.Run{ID: "r", Status: gahpo.RunDone, Best: 1}, "it was run with --final-epochs 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := filepath.Join(t.TempDir(), "h.db")
			st, err := store.Open(db, store.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if err := st.CreateRun(tt.run, []byte("{}"), nil); err != nil {
				t.Fatal(err)
			}
			st.Close()
			err = (&Main{Stdout: io.Discard, Stderr: io.Discard}).Run(context.Background(), []string{"query", "final", "--db", db})
			if err == nil || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "store: not found") {
				t.Fatalf("query final: %v; want %q", err, tt.want)
			}
		})
	}
}

// TestStoppedGenomeViews: a population based training's genome whose place
// was taken shows as stopped, at its rung, in query generation and query
// genome (its record says done: it trained to that rung); a failed one
// stays failed, and a halving genome not promoted stays done (it may
// still be).
func TestStoppedGenomeViews(t *testing.T) {
	tests := []struct {
		name   string
		g      gahpo.GenomeRecord
		row    string // its row of query generation, from STATUS to EPOCHS
		status string // its status line of query genome
	}{
		{"pbt stopped", gahpo.GenomeRecord{ID: 3, Status: gahpo.GenomeDone, Rung: 4, Epochs: 5, Fitness: 0.3,
			Stopped: "in the worst quarter at rung 4: genome 21 took its place, exploiting genome 15"},
			"3       stopped  4     5", "status      stopped at rung 4 (5 epochs)"},
		{"pbt failed", gahpo.GenomeRecord{ID: 3, Status: gahpo.GenomeFailed, Rung: 1, Epochs: 2, Fitness: gahpo.Float(math.Inf(1)),
			Stopped: "its training failed and no genome of the best quarter had a checkpoint to take its place"},
			"3       failed  1     2", "status      failed"},
		{"halving not promoted", gahpo.GenomeRecord{ID: 3, Status: gahpo.GenomeDone, Rung: 1, Epochs: 3, Fitness: 0.3},
			"3       done    1     3", "status      done"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var rows, one bytes.Buffer
			printGenomes(&rows, gahpo.RunConfig{}, []gahpo.GenomeRecord{tt.g})
			printGenome(&one, gahpo.RunConfig{}, tt.g, lineage{})
			if !strings.Contains(rows.String(), tt.row) {
				t.Errorf("query generation:\n%s\nwant the row %q", rows.String(), tt.row)
			}
			if !strings.Contains(one.String(), tt.status+"\n") {
				t.Errorf("query genome:\n%s\nwant the line %q", one.String(), tt.status)
			}
		})
	}
}
