package main

import (
	"encoding/csv"
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/gahpo/gahpo"
)

// TestExportConfirmed: a confirmed genome's row holds its replicates'
// fitnesses (null, or "-" in CSV, for one training or failed) and the
// mean over its trainings; other genomes' rows hold an empty list and null.
func TestExportConfirmed(t *testing.T) {
	mean := gahpo.Float(0.03)
	confirmed := gahpo.GenomeRecord{ID: 1, Status: gahpo.GenomeDone, Fitness: 0.029, ConfirmedFitness: &mean,
		Params: map[string]float64{"lr": 1}, Replicates: []gahpo.Replicate{
			{Status: gahpo.GenomeDone, Fitness: 0.031}, {Status: gahpo.GenomeFailed, Fitness: gahpo.Float(math.Inf(1))}, {Status: gahpo.GenomeQueued}}}
	plain := gahpo.GenomeRecord{ID: 2, Status: gahpo.GenomeDone, Fitness: 0.05, Params: map[string]float64{"lr": 0.5}}
	rows := []exportRow{newExportRow("r", gahpo.RunConfig{}, confirmed), newExportRow("r", gahpo.RunConfig{}, plain)}

	b, err := json.Marshal(rows[0])
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"replicates":[0.031,null,null],"confirmed_fitness":0.03`) {
		t.Errorf("confirmed genome's JSON: %s", b)
	}
	if b, _ = json.Marshal(rows[1]); !strings.Contains(string(b), `"replicates":[],"confirmed_fitness":null`) {
		t.Errorf("unconfirmed genome's JSON: %s", b)
	}

	var w strings.Builder
	if err := writeCSV(&w, "", []string{"lr"}, rows); err != nil {
		t.Fatal(err)
	}
	recs, col := readCSV(t, w.String())
	for _, tc := range []struct {
		row               int
		reps, conf, param string
	}{{1, "0.031 - -", "0.03", "1"}, {2, "", "", "0.5"}} {
		r := recs[tc.row]
		if r[col["replicates"]] != tc.reps || r[col["confirmed_fitness"]] != tc.conf || r[col["param_lr"]] != tc.param {
			t.Errorf("CSV row %d: replicates %q, confirmed %q, lr %q; want %q, %q, %q", tc.row, r[col["replicates"]],
				r[col["confirmed_fitness"]], r[col["param_lr"]], tc.reps, tc.conf, tc.param)
		}
	}
}

// TestExportChoicesAndAccuracy: a choice's cell is its value, not its
// index (the JSON keeps both); a genome of a problem that measures no
// accuracy has none (null, an empty cell), not 0.
func TestExportChoicesAndAccuracy(t *testing.T) {
	withChoice := gahpo.GenomeRecord{ID: 1, Status: gahpo.GenomeDone, Fitness: 0.1, Params: map[string]float64{"lr": 0.1, "optimizer": 2},
		Choices: map[string]string{"optimizer": "adam"}}
	measured := gahpo.GenomeRecord{ID: 2, Status: gahpo.GenomeDone, Fitness: 0.05, Accuracy: 0.99, Params: map[string]float64{"lr": 0.5, "optimizer": 0},
		Choices: map[string]string{"optimizer": "sgd"}}
	rows := []exportRow{newExportRow("r", gahpo.RunConfig{}, withChoice), newExportRow("r", gahpo.RunConfig{}, measured)}
	b, _ := json.Marshal(rows[0])
	if !strings.Contains(string(b), `"accuracy":null`) || !strings.Contains(string(b), `"optimizer":2`) || !strings.Contains(string(b), `"choices":{"optimizer":"adam"}`) {
		t.Errorf("JSON: %s", b)
	}
	var w strings.Builder
	if err := writeCSV(&w, "", []string{"lr", "optimizer"}, rows); err != nil {
		t.Fatal(err)
	}
	recs, col := readCSV(t, w.String())
	for i, want := range [][2]string{{"", "adam"}, {"0.99", "sgd"}} {
		r := recs[i+1]
		if r[col["accuracy"]] != want[0] || r[col["param_optimizer"]] != want[1] {
			t.Errorf("CSV row %d: accuracy %q, optimizer %q; want %q, %q", i+1, r[col["accuracy"]], r[col["param_optimizer"]], want[0], want[1])
		}
	}
}

// readCSV parses an export's CSV: its records (the header first) and each
// column's index by name.
func readCSV(t *testing.T, text string) ([][]string, map[string]int) {
	t.Helper()
	recs, err := csv.NewReader(strings.NewReader(text)).ReadAll()
	if err != nil || len(recs) == 0 {
		t.Fatalf("CSV: %v\n%s", err, text)
	}
	col := map[string]int{}
	for i, h := range recs[0] {
		col[h] = i
	}
	return recs, col
}

// TestExportStatus: a row's status is the one the views show: "stopped"
// for a population based training's genome that lost its place (stored
// as done), and the stored status otherwise.
func TestExportStatus(t *testing.T) {
	for _, tc := range []struct {
		g    gahpo.GenomeRecord
		want string
	}{
		{gahpo.GenomeRecord{ID: 1, Status: gahpo.GenomeDone}, "done"},
		{gahpo.GenomeRecord{ID: 2, Status: gahpo.GenomeDone, Stopped: "genome 5 took its place"}, "stopped"},
		{gahpo.GenomeRecord{ID: 3, Status: gahpo.GenomeFailed, Stopped: "its training failed"}, "failed"},
		{gahpo.GenomeRecord{ID: 4, Status: gahpo.GenomeQueued}, "queued"},
	} {
		if got := newExportRow("r", gahpo.RunConfig{}, tc.g).Status; got != tc.want {
			t.Errorf("genome %d (%s, stopped %q): status %q, want %q", tc.g.ID, tc.g.Status, tc.g.Stopped, got, tc.want)
		}
	}
}
