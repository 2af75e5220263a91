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
	rows := []exportRow{newExportRow("r", confirmed), newExportRow("r", plain)}

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
	if err := writeCSV(&w, []string{"lr"}, rows); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(strings.NewReader(w.String())).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	col := map[string]int{}
	for i, h := range recs[0] {
		col[h] = i
	}
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
