package report

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"gonum.org/v1/plot/plotter"

	"github.com/gahpo/gahpo"
	"github.com/gahpo/gahpo/ga"
)

func TestScheduleLine(t *testing.T) {
	step := func(e int, lr float64) gahpo.ScheduleStep {
		return gahpo.ScheduleStep{Epoch: e, Params: map[string]float64{"lr": lr}}
	}
	tests := []struct {
		name string
		g    gahpo.GenomeRecord
		want plotter.XYs
	}{
		{"constant", gahpo.GenomeRecord{Epochs: 3, Schedule: []gahpo.ScheduleStep{step(1, 1)}}, plotter.XYs{{X: 0.5, Y: 1}, {X: 3.5, Y: 1}}},
		{"two steps", gahpo.GenomeRecord{Epochs: 4, Schedule: []gahpo.ScheduleStep{step(1, 1), step(3, 0.8)}},
			plotter.XYs{{X: 0.5, Y: 1}, {X: 2.5, Y: 1}, {X: 2.5, Y: 0.8}, {X: 4.5, Y: 0.8}}},
		{"a step not trained yet", gahpo.GenomeRecord{Epochs: 2, Schedule: []gahpo.ScheduleStep{step(1, 1), step(3, 0.8)}},
			plotter.XYs{{X: 0.5, Y: 1}, {X: 2.5, Y: 1}}},
		{"another parameter", gahpo.GenomeRecord{Epochs: 2, Schedule: []gahpo.ScheduleStep{{Epoch: 1, Params: map[string]float64{"x": 1}}}}, nil},
	}
	for _, tt := range tests {
		if got := scheduleLine(tt.g, "lr"); !slices.Equal(got, tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestScheduleFigure(t *testing.T) {
	rc := gahpo.RunConfig{Problem: "synthetic", Fidelity: gahpo.FidelityPBT, MinEpochs: 1, MaxEpochs: 2}
	g := func(id int, lrs ...float64) gahpo.GenomeRecord {
		r := gahpo.GenomeRecord{ID: id, Status: gahpo.GenomeDone, Epochs: len(lrs), Rung: len(lrs) - 1, Fitness: gahpo.Float(float64(id))}
		for i, lr := range lrs {
			r.Schedule = append(r.Schedule, gahpo.ScheduleStep{Epoch: i + 1, Params: map[string]float64{"lr": lr}})
		}
		return r
	}
	s := &Snapshot{Run: gahpo.Run{Config: rc, Params: []string{"lr"}}, Genomes: []gahpo.GenomeRecord{g(1, 1, 0.8), g(2, 0.5, 0.6), g(3, 0.1)}}
	p, err := Schedule(s, "lr")
	if err != nil || p == nil {
		t.Fatalf("Schedule: %v", err)
	}
	b, err := (Figure{Name: "schedule-lr", Plot: p, W: figW, H: figH}).PNG()
	if err != nil {
		t.Fatal(err)
	}
	checkPNG(t, "schedule-lr", b, int(figW.Dots(96)), int(figH.Dots(96)))
	// A choice is drawn by its values.
	s.Run.Space = []ga.Param{ga.ChoiceParam("lr", "slow", "fast")}
	for i := range s.Genomes {
		for j := range s.Genomes[i].Schedule {
			s.Genomes[i].Schedule[j].Params["lr"] = float64(j % 2)
		}
	}
	if p, err = Schedule(s, "lr"); err != nil {
		t.Fatal(err)
	}
	var labels []string
	for _, tk := range p.Y.Tick.Marker.Ticks(p.Y.Min, p.Y.Max) {
		labels = append(labels, tk.Label)
	}
	if fmt.Sprint(labels) != "[slow fast]" {
		t.Errorf("a choice's schedule figure labels %q, want its values", labels)
	}
	s.Run.Config.Fidelity = gahpo.FidelityHalving
	if _, err := Schedule(s, "lr"); !errors.Is(err, ErrNoData) {
		t.Errorf("a halving run: err = %v, want ErrNoData", err)
	}
}

// TestPageRowsAreRungs: after population based training the page's table
// of best genomes has a row per rung, each with the genome's fitness at
// that rung and the rung's median (as gahpo query best gives them), not
// a row per generation of the genomes that took a place; its rungs count
// from 0, as in the JSON.
func TestPageRowsAreRungs(t *testing.T) {
	rc := gahpo.RunConfig{Problem: "regression", Fidelity: gahpo.FidelityPBT, MinEpochs: 1, MaxEpochs: 2, GA: ga.Config{Population: 4}}
	rec := func(id int, fit ...gahpo.Float) gahpo.GenomeRecord {
		return gahpo.GenomeRecord{ID: id, Status: gahpo.GenomeDone, Rung: len(fit) - 1, Epochs: len(fit), RungFitness: fit,
			Fitness: fit[len(fit)-1], Params: map[string]float64{"lr": float64(id) / 10}}
	}
	// Genome 1 leads rung 0 and falls behind at rung 1; genome 4 stopped.
	recs := []gahpo.GenomeRecord{rec(1, 0.1, 0.09), rec(2, 0.3, 0.05), rec(3, 0.4, 0.2), rec(4, 0.9)}
	recs[3].Stopped = "worst quarter"
	recs[0].Params["opt"], recs[0].Choices = 1, map[string]string{"opt": "adam"} // shown by its value
	rows := RunStats(gahpo.Run{Config: rc}, recs)
	if len(rows) != 2 {
		t.Fatalf("%d rows, want the 2 rungs: %+v", len(rows), rows)
	}
	if r := rows[0]; r.Generation != 1 || r.Rung() != 0 || r.Epochs != 1 || r.Best.ID != 1 || r.Best.Fitness != 0.1 || r.Evaluated != 4 || r.Median != 0.35 {
		t.Errorf("rung 0: %+v", r)
	}
	if r := rows[1]; r.Generation != 2 || r.Rung() != 1 || r.Epochs != 2 || r.Best.ID != 2 || r.Best.Fitness != 0.05 || r.Evaluated != 3 || r.Median != 0.09 {
		t.Errorf("rung 1: %+v", r)
	}
	// A live snapshot missing a genome, out of id order: the rows of the
	// others, no panic.
	gappy := RunStats(gahpo.Run{Config: rc}, []gahpo.GenomeRecord{recs[2], recs[0]})
	if len(gappy) != 2 || gappy[0].Best.ID != 1 || gappy[1].Best.ID != 1 || gappy[1].Evaluated != 2 {
		t.Errorf("rows of genomes 1 and 3 alone: %+v", gappy)
	}
	s := &Snapshot{Run: gahpo.Run{ID: "r", Config: rc, Status: gahpo.RunDone}, Genomes: recs}
	b, err := newPage(s, nil, false).render()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Best genome per rung", "<th>rung (epochs)</th>", "<tr><td>0 (1)</td><td>1</td><td>0.1</td>", "lr=0.1 opt=adam</td>", "<tr><td>1 (2)</td><td>2</td><td>0.05</td>"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("page lacks %q", want)
		}
	}
	s.Run.Config = gahpo.RunConfig{Problem: "regression", GA: ga.Config{Population: 4}}
	if b, _ := newPage(s, nil, false).render(); !strings.Contains(string(b), "Best genome per generation") || strings.Contains(string(b), "rung (epochs)") {
		t.Error("a run of generations shows rungs")
	}
}

// TestByRungPBT: a population based training's figures group by rung,
// each genome at the rungs it trained itself, with its fitness there.
func TestByRungPBT(t *testing.T) {
	rc := gahpo.RunConfig{Fidelity: gahpo.FidelityPBT, MinEpochs: 1, MaxEpochs: 3}
	gs := []gahpo.GenomeRecord{
		{ID: 1, Status: gahpo.GenomeDone, Rung: 2, Fitness: 0.3, RungFitness: []gahpo.Float{0.9, 0.5, 0.3}},
		{ID: 2, Status: gahpo.GenomeDone, Rung: 1, Fitness: 0.7, RungFitness: []gahpo.Float{0.8, 0.7}, Stopped: "exploited"},
		// Took genome 1's weights after rung 1: rungs 0 and 1 are genome 1's.
		{ID: 3, Generation: 1, Status: gahpo.GenomeDone, Rung: 2, Fitness: 0.25, RungFitness: []gahpo.Float{0.9, 0.5, 0.25}, Exploited: 1, Inherited: 2},
	}
	keys, groups := byGeneration(&Snapshot{Run: gahpo.Run{Config: rc}, Genomes: gs})
	want := map[int][]string{-1: {"2:0.8", "1:0.9"}, 0: {"1:0.5", "2:0.7"}, 1: {"3:0.25", "1:0.3"}}
	if len(keys) != 3 || keys[0] != -1 || keys[2] != 1 {
		t.Fatalf("keys %v, want -1, 0, 1 (rungs 0, 1, 2)", keys)
	}
	for k, w := range want {
		var got []string
		for _, r := range groups[k] {
			got = append(got, fmt.Sprintf("%d:%v", r.ID, float64(r.Fitness)))
			if r.Rung != k+1 {
				t.Errorf("genome %d in rung %d's group has rung %d", r.ID, k+1, r.Rung)
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(w) {
			t.Errorf("rung %d: %v, want %v (best first)", k+1, got, w)
		}
	}
}
