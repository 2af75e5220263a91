package main_test

import (
	"encoding/csv"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// maxTrainer maximises val_acc, which it reports as 0.9x for a genome of
// x (an int gene from 1 to 9): a view shows the objective it reported
// when a row of genome x=N shows 0.9N.
const maxTrainer = `#!/bin/sh
e=1
while [ "$e" -le "${GAHPO_EPOCHS:-1}" ]; do
  echo "{\"epoch\": $e, \"val_acc\": 0.9$1}"
  e=$((e+1))
done
`

const maxProblem = `name: maxtoy
space:
  - {name: x, type: int, min: 1, max: 9}
objective: {metric: val_acc, goal: maximize}
budget: {min: 1, max: 2}
train:
  command: [./train.sh, "{x}"]
`

// TestMaximisedObjectiveShownInItsSign runs the binary on a problem file
// whose objective is maximised, and reads every view a user reads: the
// run's summary, query best (text and JSON), generation and genome, and
// export (CSV and JSONL) show val_acc as the trainer reported it, positive
// and under its name, not the fitness the search minimises (its negation).
func TestMaximisedObjectiveShownInItsSign(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the gahpo binary through a whole search: -short")
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "train.sh"), []byte(maxTrainer), 0o755); err != nil {
		t.Fatal(err)
	}
	problem := filepath.Join(dir, "problem.yaml")
	if err := os.WriteFile(problem, []byte(maxProblem), 0o644); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(dir, "h.db")
	reported := func(x string) float64 { // what the trainer reported for x
		v, err := strconv.ParseFloat("0.9"+x, 64)
		if err != nil {
			t.Fatalf("x %q: %v", x, err)
		}
		return v
	}
	// checkRows finds the rows "... VALUE ... x=N" of a table under a
	// header naming VAL_ACC, and checks each VALUE (column col of the
	// header's) is what the trainer reported for N.
	checkRows := func(what, out string) {
		t.Helper()
		lines := strings.Split(out, "\n")
		col, rows := -1, 0
		for _, l := range lines {
			f := strings.Fields(l)
			if i := slices.Index(f, "VAL_ACC"); i >= 0 {
				col = i
				continue
			}
			if col < 0 || len(f) <= col {
				continue
			}
			m := regexp.MustCompile(`x=(\d)$`).FindStringSubmatch(l)
			if m == nil {
				continue
			}
			got, err := strconv.ParseFloat(f[col], 64)
			if err != nil || got <= 0 || got != reported(m[1]) {
				t.Errorf("%s: row %q shows %q under VAL_ACC, want %v (x=%s's val_acc)", what, l, f[col], reported(m[1]), m[1])
			}
			rows++
		}
		if col < 0 || rows == 0 {
			t.Errorf("%s: no VAL_ACC column or no row:\n%s", what, out)
		}
	}
	out, errOut, err := gahpo(t, "run", "--problem-file", problem, "--db", db, "--population", "4", "--generations", "2", "--workers", "2", "--seed", "3")
	if err != nil {
		t.Fatalf("gahpo run: %v\n%s\n%s", err, out, errOut)
	}
	checkRows("run summary", out)
	if !regexp.MustCompile(`generation 1 done: best genome \d+ val_acc 0\.9\d,`).MatchString(out + errOut) {
		t.Errorf("the generation's progress line does not show val_acc in its sign:\n%s\n%s", out, errOut)
	}
	for _, q := range [][]string{{"best"}, {"best", "--per-generation=false"}, {"generation", "1"}} {
		out, errOut, err := gahpo(t, append(append([]string{"query"}, q...), "--db", db)...)
		if err != nil {
			t.Fatalf("query %v: %v\n%s", q, err, errOut)
		}
		checkRows("query "+strings.Join(q, " "), out)
	}
	out, errOut, err = gahpo(t, "query", "genome", "1", "--db", db)
	if err != nil {
		t.Fatalf("query genome: %v\n%s", err, errOut)
	}
	m := regexp.MustCompile(`(?m)^val_acc\s+(\S+)$`).FindStringSubmatch(out)
	x := regexp.MustCompile(`(?m)^params\s+x=(\d)$`).FindStringSubmatch(out)
	if m == nil || x == nil || m[1] != strconv.FormatFloat(reported(x[1]), 'g', -1, 64) {
		t.Errorf("query genome 1 does not show its val_acc as reported:\n%s", out)
	}
	out, errOut, err = gahpo(t, "query", "best", "--json", "--db", db)
	if err != nil {
		t.Fatalf("query best --json: %v\n%s", err, errOut)
	}
	var best []struct {
		Fitness   float64            `json:"fitness"`
		Objective string             `json:"objective"`
		Value     float64            `json:"objective_value"`
		Params    map[string]float64 `json:"params"`
	}
	if err := json.Unmarshal([]byte(out), &best); err != nil || len(best) != 2 {
		t.Fatalf("query best --json: %v\n%s", err, out)
	}
	for _, b := range best {
		want := reported(strconv.Itoa(int(b.Params["x"])))
		if b.Objective != "val_acc" || b.Value != want || b.Fitness != -want {
			t.Errorf("query best --json: objective %q %v, fitness %v; want val_acc %v, fitness (minimised) %v", b.Objective, b.Value, b.Fitness, want, -want)
		}
	}
	out, errOut, err = gahpo(t, "export", "--db", db, "--format", "csv")
	if err != nil {
		t.Fatalf("export: %v\n%s", err, errOut)
	}
	recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if err != nil || len(recs) < 2 {
		t.Fatalf("export csv: %v\n%s", err, out)
	}
	vc, xc := slices.Index(recs[0], "val_acc"), slices.Index(recs[0], "param_x")
	if vc < 0 || xc < 0 {
		t.Fatalf("export csv header %q lacks val_acc or param_x", recs[0])
	}
	for _, r := range recs[1:] {
		if got, err := strconv.ParseFloat(r[vc], 64); err != nil || got != reported(r[xc]) {
			t.Errorf("export csv: genome x=%s has val_acc %q, want %v", r[xc], r[vc], reported(r[xc]))
		}
	}
	out, errOut, err = gahpo(t, "export", "--db", db, "--format", "jsonl")
	if err != nil {
		t.Fatalf("export jsonl: %v\n%s", err, errOut)
	}
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var r struct {
			Objective string             `json:"objective"`
			Value     float64            `json:"objective_value"`
			Params    map[string]float64 `json:"params"`
		}
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatal(err)
		}
		if want := reported(strconv.Itoa(int(r.Params["x"]))); r.Objective != "val_acc" || r.Value != want {
			t.Errorf("export jsonl: %q %v, want val_acc %v: %s", r.Objective, r.Value, want, l)
		}
	}
}
