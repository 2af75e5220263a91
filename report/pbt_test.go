package report

import (
	"errors"
	"slices"
	"testing"

	"gonum.org/v1/plot/plotter"

	"github.com/gahpo/gahpo"
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
	s.Run.Config.Fidelity = gahpo.FidelityHalving
	if _, err := Schedule(s, "lr"); !errors.Is(err, ErrNoData) {
		t.Errorf("a halving run: err = %v, want ErrNoData", err)
	}
}
