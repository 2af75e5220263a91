package report

import (
	"fmt"
	"math"
	"slices"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	"github.com/gahpo/gahpo"
	"github.com/gahpo/gahpo/ga"
)

// Schedule draws, for a population based training, the value of parameter
// name that trained each genome's weights epoch by epoch (its Schedule),
// for every genome that reached the highest rung so far, the best in the
// best's colour: the schedules the search found.
func Schedule(s *Snapshot, name string) (*plot.Plot, error) {
	if !s.Run.Config.PBT() {
		return nil, fmt.Errorf("%w: not a population based training", ErrNoData)
	}
	top := -1
	for _, g := range s.Genomes {
		if len(g.Schedule) > 0 && !failed(g) && g.Status != gahpo.GenomeQueued {
			top = max(top, g.Rung)
		}
	}
	var gs []gahpo.GenomeRecord
	for _, g := range s.Genomes {
		if len(g.Schedule) > 0 && !failed(g) && g.Rung == top && g.Status != gahpo.GenomeQueued {
			gs = append(gs, g)
		}
	}
	if len(gs) == 0 {
		return nil, fmt.Errorf("%w: no genome trained yet", ErrNoData)
	}
	best := s.Run.Best
	if best == 0 {
		best = slices.MinFunc(gs, func(a, b gahpo.GenomeRecord) int {
			if gahpo.Better(a, b) {
				return -1
			}
			return 1
		}).ID
	}
	// The best last, on top of the others.
	slices.SortStableFunc(gs, func(a, b gahpo.GenomeRecord) int {
		switch {
		case a.ID == best:
			return 1
		case b.ID == best:
			return -1
		}
		return 0
	})
	spec := paramSpecs(s)[name]
	p := newPlot(fmt.Sprintf("%s along the schedules found (population based training)", name), "epoch", paramLabel(spec))
	var all plotter.XYs
	for _, g := range gs {
		xys := scheduleLine(g, name)
		if len(xys) == 0 {
			continue
		}
		all = append(all, xys...)
		col, width := colFaint, vg.Points(1.2)
		if g.ID == best {
			col, width = colBest, vg.Points(2.5)
		}
		l, err := line(xys, col, width)
		if err != nil {
			return nil, err
		}
		p.Add(l)
		if g.ID == best {
			p.Legend.Add(fmt.Sprintf("genome %d (the best)", g.ID), l)
		}
	}
	if len(all) == 0 {
		return nil, fmt.Errorf("%w: no schedule names %s", ErrNoData, name)
	}
	if spec.Scale == ga.Log && allPositive(all) {
		setLog(&p.Y)
	}
	if t := choiceTicks(spec); t != nil {
		p.Y.Tick.Marker = t
		p.Y.Min, p.Y.Max = spec.Min-0.5, spec.Max+0.5
	}
	legendRoom(p, 1)
	p.X.Tick.Marker = intTicks{}
	p.Legend.Top, p.Legend.Left = true, false
	return p, nil
}

// scheduleLine is genome g's value of name at each epoch it was trained
// to, as a step: each step's value from its first epoch to the next's.
func scheduleLine(g gahpo.GenomeRecord, name string) plotter.XYs {
	var xys plotter.XYs
	for i, st := range g.Schedule {
		v, ok := st.Params[name]
		if !ok || math.IsNaN(v) {
			return nil
		}
		end := g.Epochs
		if i+1 < len(g.Schedule) {
			end = g.Schedule[i+1].Epoch - 1
		}
		if end < st.Epoch {
			continue
		}
		// A step: flat over its epochs, from the middle of the boundary
		// before to the middle of the one after.
		xys = append(xys, plotter.XY{X: float64(st.Epoch) - 0.5, Y: v}, plotter.XY{X: float64(end) + 0.5, Y: v})
	}
	return xys
}
