package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"math"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gahpo/gahpo"
	"github.com/gahpo/gahpo/store"
)

// pbtHistory writes the history of a small population based training of
// the CNN (on 256 training images) and returns its file: genome 1 trained
// three epochs on seed 111, genome 2 failed at its first (its log ends
// with a line that reads NaN), genome 3 took its place, exploiting genome
// 1 after its second epoch, on seed 333, and is the run's result, on
// two workers.
func pbtHistory(t *testing.T) string {
	t.Helper()
	cnn := func(lr float64) map[string]float64 {
		return map[string]float64{"batch_size": 64, "gamma": 0.7, "lr": lr, "weight_decay": 1e-7}
	}
	a, b := cnn(1), cnn(0.8)
	rc := gahpo.RunConfig{Problem: "cnn", Fidelity: gahpo.FidelityPBT, MinEpochs: 1, MaxEpochs: 3, TrainSubset: 256}
	rc.GA.Population, rc.GA.Generations, rc.GA.Seed = 4, 1, 7
	run := gahpo.Run{ID: "r", Config: rc, Status: gahpo.RunDone, Best: 3, Params: []string{"batch_size", "gamma", "lr", "weight_decay"}}
	inf, nan := gahpo.Float(math.Inf(1)), gahpo.Float(math.NaN())
	s := time.Second
	sched := []gahpo.ScheduleStep{{Epoch: 1, Genome: 1, Params: a}, {Epoch: 3, Genome: 3, Params: b}}
	genomes := []gahpo.GenomeRecord{
		{ID: 1, Status: gahpo.GenomeDone, Params: a, Seed: 111, Fitness: 0.5, Epochs: 3, Rung: 2, RungFitness: []gahpo.Float{0.6, 0.55, 0.5},
			Schedule: sched[:1], Duration: 3 * s, Worker: "w1"},
		{ID: 2, Status: gahpo.GenomeFailed, Params: b, Seed: 222, Fitness: inf, Epochs: 1, RungFitness: []gahpo.Float{inf},
			Failure: "diverged", Log: []string{"loss", "NaN"}, Stopped: "its training failed"},
		{ID: 3, Generation: 2, Status: gahpo.GenomeDone, Params: b, Seed: 333, Fitness: 0.45, Epochs: 3, Rung: 2,
			RungFitness: []gahpo.Float{0.6, 0.55, 0.45}, Exploited: 1, Replaces: 2, Inherited: 2, Schedule: sched,
			RungDuration: []time.Duration{s, s, 3 * s}, RungWorker: []string{"w1", "w1", "w2"}, Duration: 3 * s, Worker: "w2",
			Curve: []gahpo.EpochReport{{Epoch: 1, Metrics: map[string]gahpo.Float{"val_loss": 0.6}},
				{Epoch: 2, Metrics: map[string]gahpo.Float{"val_loss": 0.55, "test_loss": 0.56}},
				{Epoch: 3, Metrics: map[string]gahpo.Float{"val_loss": 0.45, "test_loss": 0.46}}}},
	}
	final := gahpo.FinalTraining{GenomeID: 3, Params: b, TestLoss: 0.46, Duration: 5 * s, Worker: "w2", Workers: []string{"w1", "w2"},
		Schedule: sched, Epochs: []gahpo.EpochMetrics{{Epoch: 1, TestLoss: nan}, {Epoch: 2, TestLoss: 0.56}, {Epoch: 3, TestLoss: 0.46}}}
	db := filepath.Join(t.TempDir(), "h.db")
	st, err := store.Open(db, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.CreateRun(run, []byte("{}"), genomes); err != nil {
		t.Fatal(err)
	}
	if err := st.PutFinal("r", run, final, []byte("weights")); err != nil {
		t.Fatal(err)
	}
	return db
}

// query runs gahpo query with args on db and returns what it printed.
func query(t *testing.T, db string, args ...string) string {
	t.Helper()
	var out bytes.Buffer
	if err := (&Main{Stdout: &out, Stderr: io.Discard}).Run(context.Background(), append(append([]string{"query"}, args...), "--db", db)); err != nil {
		t.Fatalf("query %q: %v", args, err)
	}
	return out.String()
}

// TestQueryPBTTrainAgain: the command that trains a population based
// training's genome again, as query genome and query final print it, has
// the seed of the schedule's first genome (111), where its weights began,
// not the genome's own (333), and the search's training images; the
// final's time and workers are its lineage's.
func TestQueryPBTTrainAgain(t *testing.T) {
	db := pbtHistory(t)
	again := "cnntrain -epochs 3 -train-images 256 -seed 111 -schedule '1:batch_size=64,gamma=0.7,lr=1,weight_decay=1e-07;3:batch_size=64,gamma=0.7,lr=0.8,weight_decay=1e-07'"
	tests := []struct {
		args      []string
		want, not []string
	}{
		{[]string{"genome", "3"}, []string{"train again     " + again, "schedule seed   genome 1's seed 111, where its weights began",
			"seed            333 (its tasks'; its schedule's is the schedule seed above)",
			"workers         w1, w2 (of its rungs)", "duration        3 s (its own rungs; 5 s with those the genomes of its schedule trained before it)"},
			[]string{"-seed 333"}},
		{[]string{"final"}, []string{"    " + again + "\n", "on genome 1's seed 111, where its weights began",
			"final training of genome 3 (batch_size=64 gamma=0.7 lr=0.8 weight_decay=1e-07) on w1 and w2, 5 s in all (its 3 epochs,"},
			[]string{"-seed 333"}},
		{[]string{"genome", "1"}, []string{"seed            111\n"}, []string{"train again", "schedule seed"}},
	}
	spaces := regexp.MustCompile(" +") // the columns' widths do not matter
	for _, tt := range tests {
		out := spaces.ReplaceAllString(query(t, db, tt.args...), " ")
		for _, w := range tt.want {
			if w = spaces.ReplaceAllString(w, " "); !strings.Contains(out, w) {
				t.Errorf("query %q:\n%s\nwant %q", tt.args, out, w)
			}
		}
		for _, w := range tt.not {
			if strings.Contains(out, w) {
				t.Errorf("query %q:\n%s\nholds %q", tt.args, out, w)
			}
		}
	}
}

// TestQueryJSONNulls: every query's --json prints a figure that is not a
// number (a failed genome's fitness, +Inf; a test loss not measured, NaN)
// as null, never as a string; a string that reads NaN (a log line) stays.
func TestQueryJSONNulls(t *testing.T) {
	db := pbtHistory(t)
	tests := []struct {
		args []string
		want []string
	}{
		{[]string{"final"}, []string{`"test_loss": null`, `"test_loss": 0.46`}},
		{[]string{"genome", "2"}, []string{`"fitness": null`, "\"rung_fitness\": [\n    null\n  ]", "\"log\": [\n    \"loss\",\n    \"NaN\"\n  ]"}},
		{[]string{"generation", "1"}, []string{`"fitness": null`}},
		{[]string{"best"}, []string{`"fitness": 0.45`}},
		{[]string{"best", "--per-generation=false"}, []string{`"fitness": 0.45`}},
		{[]string{"runs"}, []string{`"id": "r"`}},
	}
	for _, tt := range tests {
		out := query(t, db, append(tt.args, "--json")...)
		var v any
		if err := json.Unmarshal([]byte(out), &v); err != nil {
			t.Errorf("query %q --json: %v\n%s", tt.args, err, out)
		}
		if path := nonNumber(v, ""); path != "" {
			t.Errorf("query %q --json:\n%s\na figure as a string at %s", tt.args, out, path)
		}
		for _, w := range tt.want {
			if !strings.Contains(out, w) {
				t.Errorf("query %q --json:\n%s\nwant %q", tt.args, out, w)
			}
		}
	}
	// status --json: the final training's epochs under way.
	var b bytes.Buffer
	st := gahpo.Status{RunID: "r", Final: []gahpo.EpochMetrics{{Epoch: 1, TrainLoss: 0.3, TestLoss: gahpo.Float(math.NaN())}}}
	if err := writeJSON(&b, st, ""); err != nil || !strings.Contains(b.String(), `"train_loss":0.3,"test_loss":null`) || strings.Count(b.String(), "\n") != 1 {
		t.Errorf("status --json: %v\n%s", err, b.String())
	}
}

// nonNumber returns the path of the first string in v that reads as a
// figure (NaN, ±Inf) outside a log, "" when there is none.
func nonNumber(v any, path string) string {
	switch v := v.(type) {
	case string:
		if (v == "NaN" || v == "+Inf" || v == "-Inf") && !strings.HasSuffix(path, ".log") {
			return path
		}
	case []any:
		for _, e := range v {
			if p := nonNumber(e, path); p != "" {
				return p
			}
		}
	case map[string]any:
		for k, e := range v {
			if p := nonNumber(e, path+"."+k); p != "" {
				return p
			}
		}
	}
	return ""
}
