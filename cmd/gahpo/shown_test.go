package main

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/gahpo/gahpo"
	"github.com/gahpo/gahpo/report"
)

// TestViewsShowTheObjectiveInItsSign: every text view of a genome's
// fitness, for a built-in problem, a problem file that minimises its
// objective, and one that maximises it (whose fitness, -0.97, is val_acc
// 0.97 negated): a maximised objective is shown in its own sign and under
// its name, never the negated fitness; the others are shown as they were.
// The JSON keeps fitness (minimised) and adds the objective's value.
func TestViewsShowTheObjectiveInItsSign(t *testing.T) {
	const fit = gahpo.Float(-0.97)
	conf := gahpo.Float(-0.95)
	tests := []struct {
		name  string
		rc    gahpo.RunConfig
		sign  string // of the values shown
		label string // the column's or row's name of the values shown
		value string // the JSON's objective_value ("": none)
	}{
		{"built-in", gahpo.RunConfig{Problem: "cnn"}, "-", "fitness", ""},
		{"a file, minimised", gahpo.RunConfig{Problem: "f", Objective: "val_loss"}, "-", "fitness", "-0.97"},
		{"a file, maximised", gahpo.RunConfig{Problem: "f", Objective: "val_acc", Maximize: true}, "", "val_acc", "0.97"},
	}
	g := gahpo.GenomeRecord{ID: 1, Generation: 0, Fitness: fit, Status: gahpo.GenomeDone, Params: map[string]float64{"x": 9},
		ConfirmedFitness: &conf, Replicates: []gahpo.Replicate{{Seed: 2, Status: gahpo.GenomeDone, Fitness: conf}}}
	b := gahpo.NewBestEntry(g)
	b.Seeds, b.ConfirmedFitness = 2, &conf
	stats := []report.GenStats{{Generation: 1, Genomes: 1, Evaluated: 1, Median: fit, Mean: fit}}
	for _, tt := range tests {
		own, mean := tt.sign+"0.97", tt.sign+"0.95"
		upper := strings.ToUpper(tt.label)
		views := []struct {
			name  string
			print func(*bytes.Buffer)
			want  []string
		}{
			{"best", func(w *bytes.Buffer) { printBest(w, tt.rc, []gahpo.BestEntry{b}, stats...) }, []string{upper, " " + own + " "}},
			{"chosen", func(w *bytes.Buffer) { printChosen(w, tt.rc, b) }, []string{"mean " + tt.label + " " + mean + ";", upper + " above"}},
			{"genomes", func(w *bytes.Buffer) { printGenomes(w, tt.rc, []gahpo.GenomeRecord{g}) }, []string{upper, "done    " + own}},
			{"genome", func(w *bytes.Buffer) { printGenome(w, tt.rc, g, lineage{}) }, []string{"\n" + tt.label + " ", " " + own + "\n",
				"mean " + tt.label + " " + mean + " over", tt.label + " " + mean + "\n"}},
			{"final", func(w *bytes.Buffer) {
				printFinal(w, tt.rc, gahpo.FinalTraining{GenomeID: 1, Seeds: 2, ConfirmedFitness: &conf}, lineage{})
			}, []string{"mean " + tt.label + " " + mean + ";"}},
			{"status", func(w *bytes.Buffer) {
				printStatus(w, gahpo.Status{RunID: "r", State: gahpo.RunRunning, Best: &b, Objective: tt.rc.Objective, Maximize: tt.rc.Maximize})
			}, []string{"mean " + tt.label + " " + mean + " over 2 trainings (its own: " + own + ")"}},
		}
		for _, v := range views {
			t.Run(tt.name+"/"+v.name, func(t *testing.T) {
				var w bytes.Buffer
				v.print(&w)
				out := w.String()
				for _, s := range v.want {
					if !strings.Contains(out, s) {
						t.Errorf("lacks %q:\n%s", s, out)
					}
				}
				if v.name == "best" && strings.Count(out, own) != 3 {
					t.Errorf("its fitness, median and mean are not all %s:\n%s", own, out)
				}
				if tt.rc.Maximize && (strings.Contains(out, "-0.9") || strings.Contains(strings.ToLower(out), "fitness")) {
					t.Errorf("shows the fitness the search minimised:\n%s", out)
				}
			})
		}
		t.Run(tt.name+"/csv", func(t *testing.T) {
			var w bytes.Buffer
			if err := writeCSV(&w, tt.rc.Objective, []string{"x"}, []exportRow{newExportRow("r", tt.rc, g)}); err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(strings.TrimSpace(w.String()), "\n")
			head, row := strings.Split(lines[0], ","), strings.Split(lines[1], ",")
			i := slices.Index(head, tt.rc.Objective)
			switch {
			case tt.rc.Objective == "" && len(head) != 21:
				t.Errorf("a built-in problem's CSV has a column more: %q", head)
			case tt.rc.Objective != "" && (i < 0 || row[i] != tt.value):
				t.Errorf("column %q: %q, want %s\n%s", tt.rc.Objective, row, tt.value, w.String())
			}
			if row[slices.Index(head, "fitness")] != "-0.97" {
				t.Errorf("its fitness column no longer holds what the search minimised: %s", w.String())
			}
		})
		t.Run(tt.name+"/json", func(t *testing.T) {
			for what, v := range map[string]any{
				"best":   withSeconds(&[]gahpo.BestEntry{b}, tt.rc, stats),
				"genome": withSeconds(&g, tt.rc, nil),
				"export": newExportRow("r", tt.rc, g),
			} {
				raw, err := json.Marshal(v)
				if err != nil {
					t.Fatal(err)
				}
				out := string(raw)
				if !strings.Contains(out, `"fitness":-0.97`) {
					t.Errorf("%s: fitness is no longer what the search minimised: %s", what, out)
				}
				want := `"objective_value":` + tt.value
				if has := strings.Contains(out, `"objective_value"`); has != (tt.value != "") || tt.value != "" && !strings.Contains(out, want) {
					t.Errorf("%s: want %s (none when \"\"): %s", what, want, out)
				}
			}
		})
	}
}
