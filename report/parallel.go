package report

import (
	"fmt"
	"image/color"
	"math"
	"slices"
	"strconv"

	"github.com/gahpo/gahpo"
	"github.com/gahpo/gahpo/ga"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// norm places v on a parameter's axis: 0 at its minimum, 1 at its maximum,
// in the parameter's scale.
func norm(p ga.Param, v float64) float64 {
	lo, hi, x := p.Min, p.Max, v
	if p.Scale == ga.Log && lo > 0 && v > 0 {
		lo, hi, x = math.Log10(lo), math.Log10(hi), math.Log10(v)
	}
	if hi == lo {
		return 0.5
	}
	return min(max((x-lo)/(hi-lo), 0), 1)
}

// ParallelCoordinates draws every evaluated genome as a line through one
// vertical axis per parameter (each from its search range's minimum at the
// bottom to its maximum at the top, logarithmic for log-scaled parameters)
// and a last axis for the fitness; darker lines are fitter genomes, failed
// genomes are dashed red lines ending on the fitness axis's "failed" row.
func ParallelCoordinates(s *Snapshot) (*plot.Plot, error) {
	names := paramNames(s)
	specs := paramSpecs(s)
	var gs []gahpo.GenomeRecord
	var vals []float64
	for _, g := range s.Genomes {
		if g.Evaluated() {
			gs = append(gs, g)
			vals = append(vals, shownFit(s, g.Fitness))
		}
	}
	if len(gs) == 0 || len(names) == 0 {
		return nil, fmt.Errorf("%w: no genome evaluated yet", ErrNoData)
	}
	fa := newFitAxis(vals, true, s.Run.Config.Maximize)
	rows := parallelRowsOf(fa)
	fitY := func(g gahpo.GenomeRecord) float64 {
		y, row := fa.y(g)
		switch row {
		case "failed":
			return rows.fail
		case "off":
			return rows.off
		}
		lo, hi := fa.to(fa.lo), fa.to(fa.hi)
		if hi == lo {
			return 0.5
		}
		return (fa.to(y) - lo) / (hi - lo)
	}
	// Worst first, so the fittest lines are drawn on top.
	slices.SortStableFunc(gs, func(a, b gahpo.GenomeRecord) int {
		switch {
		case gahpo.Better(b, a):
			return -1
		case gahpo.Better(a, b):
			return 1
		}
		return 0
	})
	p := newPlot("Parallel coordinates: every evaluated genome", "", "position on each axis's range (bottom: min, top: max)")
	if err := addGenomeLines(p, gs, names, specs, fitY); err != nil {
		return nil, err
	}
	if err := addParallelAxes(p, names, specs, fa, fitName(s)); err != nil {
		return nil, err
	}
	if fa.anyFail {
		p.Legend.Add("failed genome", legendLine(colFailed, vg.Points(1), vg.Points(3), vg.Points(2)))
	}
	p.Legend.Add("fitter genomes darker", legendLine(shade(1), vg.Points(2)))
	p.Legend.Top, p.Legend.Left = true, true
	p.Legend.XOffs = vg.Points(60)
	return p, nil
}

// addGenomeLines draws each genome of gs, worst first, as a line through
// the axes of names (at x = 0, 1, ...) and the fitness axis last, at fitY.
func addGenomeLines(p *plot.Plot, gs []gahpo.GenomeRecord, names []string, specs map[string]ga.Param, fitY func(gahpo.GenomeRecord) float64) error {
	k := len(names)
	for i, g := range gs {
		xys := make(plotter.XYs, 0, k+1)
		for j, n := range names {
			xys = append(xys, plotter.XY{X: float64(j), Y: norm(specs[n], g.Params[n])})
		}
		xys = append(xys, plotter.XY{X: float64(k), Y: fitY(g)})
		var l *plotter.Line
		var err error
		if failed(g) {
			l, err = line(xys, withAlpha(colFailed, 170), vg.Points(1), vg.Points(3), vg.Points(2))
		} else {
			// Rank 0 (worst) light, the best dark.
			t := float64(i+1) / float64(len(gs))
			l, err = line(xys, shade(t), vg.Points(0.6+1.4*t))
		}
		if err != nil {
			return err
		}
		p.Add(l)
	}
	return nil
}

// parallelRows are where the fitness axis of parallel coordinates (0 at
// its range's minimum, 1 at its maximum) puts its off-scale and failed
// rows: above it, or below it for a maximised objective, whose worse
// values are the lower; and the range of the plot's y axis.
type parallelRows struct{ off, fail, min, max float64 }

func parallelRowsOf(fa *fitAxis) parallelRows {
	if fa.max {
		return parallelRows{off: -0.14, fail: -0.22, min: -0.28, max: 1.2} // the legend above
	}
	return parallelRows{off: 1.08, fail: 1.16, min: -0.1, max: 1.2}
}

// addParallelAxes draws the parameters' axes and the fitness axis, named
// fitName, with their ranges and names.
func addParallelAxes(p *plot.Plot, names []string, specs map[string]ga.Param, fa *fitAxis, fitName string) error {
	k := len(names)
	var labels plotter.XYLabels
	for j := 0; j <= k; j++ {
		ax, err := line(plotter.XYs{{X: float64(j), Y: 0}, {X: float64(j), Y: 1}}, color.Black, vg.Points(1.2))
		if err != nil {
			return err
		}
		p.Add(ax)
		var lo, hi string
		if j < k {
			sp := specs[names[j]]
			lo, hi = fmtNum(sp.Min), fmtNum(sp.Max)
			if n := len(sp.Values); sp.Kind == ga.Choice && n > 0 {
				// A choice's values beside its axis, the ends above and
				// below it as a range's.
				lo, hi = sp.Values[0], sp.Values[n-1]
				for i := 1; i < n-1; i++ {
					labels.XYs = append(labels.XYs, plotter.XY{X: float64(j) + 0.03, Y: norm(sp, float64(i))})
					labels.Labels = append(labels.Labels, sp.Values[i])
				}
			}
		} else {
			lo, hi = fmtNum(fa.lo), fmtNum(fa.hi)
		}
		labels.XYs = append(labels.XYs, plotter.XY{X: float64(j) + 0.03, Y: -0.06}, plotter.XY{X: float64(j) + 0.03, Y: 1.02})
		labels.Labels = append(labels.Labels, lo, hi)
	}
	lb, err := plotter.NewLabels(labels)
	if err != nil {
		return err
	}
	for i := range lb.TextStyle {
		lb.TextStyle[i].Font.Size = vg.Points(9)
	}
	p.Add(lb)
	ticks := make([]plot.Tick, 0, k+1)
	for j, n := range names {
		label := n
		if specs[n].Scale == ga.Log {
			label += " (log)"
		}
		ticks = append(ticks, plot.Tick{Value: float64(j), Label: label})
	}
	fl := fitName
	if fa.log {
		fl += " (log)"
	}
	ticks = append(ticks, plot.Tick{Value: float64(k), Label: fl})
	p.X.Tick.Marker = plot.ConstantTicks(ticks)
	p.X.Min, p.X.Max = -0.15, float64(k)+0.45
	rows := parallelRowsOf(fa)
	yt := []plot.Tick{{Value: 0, Label: "min"}, {Value: 1, Label: "max"}}
	if fa.anyOff {
		yt = append(yt, plot.Tick{Value: rows.off, Label: fitName + " " + fa.offText()})
	}
	if fa.anyFail {
		yt = append(yt, plot.Tick{Value: rows.fail, Label: "failed"})
	}
	p.Y.Tick.Marker = plot.ConstantTicks(yt)
	p.Y.Min, p.Y.Max = rows.min, rows.max
	return nil
}

// legendLine is a legend key for a line style.
func legendLine(c color.Color, width vg.Length, dashes ...vg.Length) *plotter.Line {
	return &plotter.Line{LineStyle: draw.LineStyle{Color: c, Width: width, Dashes: dashes}}
}

// shade runs from a light blue-grey (t = 0) to a dark blue (t = 1).
func shade(t float64) color.Color {
	mix := func(a, b uint8) uint8 { return uint8(float64(a) + t*(float64(b)-float64(a))) }
	return color.NRGBA{R: mix(200, 8), G: mix(210, 48), B: mix(225, 107), A: 255}
}

// fmtNum prints an axis end briefly.
func fmtNum(v float64) string {
	return strconv.FormatFloat(v, 'g', 3, 64)
}
