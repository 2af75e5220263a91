package report

import (
	"cmp"
	"errors"
	"image/color"
	"math"
	"slices"
	"strconv"

	"github.com/gahpo/gahpo"
	"github.com/gahpo/gahpo/ga"
	"github.com/gahpo/gahpo/models/problems"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// ErrNoData is returned (wrapped) by a figure function when the run holds
// nothing that figure draws (yet): no final training, no learning curves.
var ErrNoData = errors.New("report: nothing to draw")

// Colours shared by the figures.
var (
	colDone   = color.RGBA{R: 31, G: 119, B: 180, A: 255}  // a trained genome
	colBest   = color.RGBA{R: 0, G: 0, B: 0, A: 255}       // best so far
	colFailed = color.RGBA{R: 214, G: 39, B: 40, A: 255}   // a failed genome
	colOff    = color.RGBA{R: 255, G: 127, B: 14, A: 255}  // a value beyond the axis
	colTest   = color.RGBA{R: 44, G: 160, B: 44, A: 255}   // test metrics
	colFaint  = color.RGBA{R: 150, G: 150, B: 150, A: 255} // context
)

// newPlot returns a plot with a title and labelled axes, in the report's
// text sizes.
func newPlot(title, x, y string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.Title.TextStyle.Font.Size = vg.Points(13)
	p.X.Label.Text, p.Y.Label.Text = x, y
	for _, a := range []*plot.Axis{&p.X, &p.Y} {
		a.Label.TextStyle.Font.Size = vg.Points(12)
		a.Tick.Label.Font.Size = vg.Points(10)
	}
	p.Legend.TextStyle.Font.Size = vg.Points(10)
	p.Legend.Top = true
	return p
}

// paramSpecs returns each parameter of a run with its range and scale,
// from the problem's search space; a parameter the registry does not know
// gets the range of its values, log-scaled when they are positive and span
// more than two decades.
func paramSpecs(s *Snapshot) map[string]ga.Param {
	out := map[string]ga.Param{}
	if len(s.Run.Space) > 0 {
		for _, p := range s.Run.Space {
			out[p.Name] = p
		}
	} else if prob, err := problems.Lookup(s.Run.Config.Problem); err == nil && prob.Digest == s.Run.Config.ProblemDigest {
		// A run stored before its space: its problem's, when this
		// process has it as the run had it (a problem file of the same
		// digest).
		for _, p := range prob.Space().Params {
			out[p.Name] = p
		}
	}
	for _, name := range paramNames(s) {
		if _, ok := out[name]; ok {
			continue
		}
		p := ga.Param{Name: name, Min: math.Inf(1), Max: math.Inf(-1), Scale: ga.Linear}
		values := map[int]string{}
		for _, g := range s.Genomes {
			if v, ok := g.Params[name]; ok {
				p.Min, p.Max = min(p.Min, v), max(p.Max, v)
				if c, isChoice := g.Choices[name]; isChoice {
					values[int(v)] = c
				}
			}
		}
		switch {
		case len(values) > 0:
			// A choice of a run stored before its space: the values
			// its genomes took, by index.
			p.Kind, p.Min = ga.Choice, 0
			p.Values = make([]string, int(p.Max)+1)
			for i := range p.Values {
				p.Values[i] = cmp.Or(values[i], strconv.Itoa(i))
			}
		case p.Min > 0 && p.Max/p.Min > 100:
			p.Scale = ga.Log
		}
		out[name] = p
	}
	return out
}

// choiceTicks labels a choice parameter's axis with its values, one at
// each index; nil for another parameter.
func choiceTicks(p ga.Param) plot.Ticker {
	if p.Kind != ga.Choice || len(p.Values) == 0 {
		return nil
	}
	ticks := make([]plot.Tick, len(p.Values))
	for i, v := range p.Values {
		ticks[i] = plot.Tick{Value: float64(i), Label: v}
	}
	return plot.ConstantTicks(ticks)
}

// paramNames lists the run's parameters in the space's order.
func paramNames(s *Snapshot) []string {
	if len(s.Run.Params) > 0 {
		return s.Run.Params
	}
	var names []string
	for _, g := range s.Genomes {
		for k := range g.Params {
			if !slices.Contains(names, k) {
				names = append(names, k)
			}
		}
	}
	slices.Sort(names)
	return names
}

// failed reports whether a genome has no usable fitness.
func failed(g gahpo.GenomeRecord) bool {
	f := float64(g.Fitness)
	return g.Status == gahpo.GenomeFailed || math.IsNaN(f) || math.IsInf(f, 0)
}

// niceLogTicks labels 1, 2 and 5 times the powers of ten when the range
// spans less than three decades (gonum's LogTicks would label one or two
// ticks there), and the powers of ten otherwise.
type niceLogTicks struct{}

func (niceLogTicks) Ticks(lo, hi float64) []plot.Tick {
	if lo <= 0 || hi <= 0 {
		return nil
	}
	var ticks []plot.Tick
	steps := []float64{1, 2, 5}
	switch decades := math.Log10(hi / lo); {
	case decades > 3:
		steps = []float64{1}
	case decades < 1:
		steps = []float64{1, 2, 3, 4, 5, 6, 7, 8, 9}
	}
	for e := math.Floor(math.Log10(lo)); e <= math.Ceil(math.Log10(hi)); e++ {
		base := math.Pow(10, e)
		for i := 1; i < 10; i++ {
			v := base * float64(i)
			if v < lo*0.999 || v > hi*1.001 {
				continue
			}
			label := ""
			if slices.Contains(steps, float64(i)) {
				label = strconv.FormatFloat(v, 'g', 3, 64)
			}
			ticks = append(ticks, plot.Tick{Value: v, Label: label})
		}
	}
	return ticks
}

// setLog makes an axis logarithmic with readable ticks. Call it once the
// data are on the plot: a range of one value (one genome) is widened by a
// factor of two each way, since gonum would widen it by one, below zero.
func setLog(a *plot.Axis) {
	a.Scale = plot.LogScale{}
	a.Tick.Marker = niceLogTicks{}
	if a.Min > 0 && a.Min == a.Max && !math.IsInf(a.Min, 0) {
		a.Min, a.Max = a.Min/2, a.Max*2
	}
}

// rowTicks are an axis's usual ticks over the values' range, then named
// rows beyond it (the "failed" row of a fitness axis): above it, or below
// it for a maximised objective's (below).
type rowTicks struct {
	base        plot.Ticker
	bottom, top float64 // the values' range: the ticks are chosen for it, not the margins
	rows        []plot.Tick
	below       bool
}

func (r rowTicks) Ticks(lo, hi float64) []plot.Tick {
	var out []plot.Tick
	for _, t := range r.base.Ticks(r.bottom, r.top) {
		if r.below && t.Value >= r.bottom && t.Value <= hi || !r.below && t.Value >= lo && t.Value <= r.top {
			out = append(out, t)
		}
	}
	return append(out, r.rows...)
}

// fitAxis maps fitness values onto a y axis whose range holds the bulk of
// the finite values; values far worse than it go to an "off scale" row,
// failed genomes to a "failed" row beyond that. The values are those
// users read (gahpo.RunConfig.Shown): a maximised objective's in its own
// sign, the higher the better, its rows below its range; a fitness, the
// lower the better, its rows above.
type fitAxis struct {
	lo, hi          float64 // the range of drawn values
	log             bool
	max             bool // a maximised objective: the worse values are the lower
	offY, failY     float64
	anyOff, anyFail bool
}

// newFitAxis chooses the range for the finite values vs (as shown: a
// maximised objective's own, maximize set); clip keeps far outliers
// (diverged genomes with fitness 1e282) off the scale.
func newFitAxis(vs []float64, clip, maximize bool) *fitAxis {
	a := &fitAxis{lo: math.Inf(1), hi: math.Inf(-1), max: maximize}
	var fin []float64
	for _, v := range vs {
		if !math.IsNaN(v) && !math.IsInf(v, 0) {
			fin = append(fin, v)
			a.lo, a.hi = min(a.lo, v), max(a.hi, v)
		}
	}
	if len(fin) == 0 {
		a.lo, a.hi = 0, 1
	}
	a.log = a.lo > 0 && a.hi/a.lo > 20
	if clip && len(fin) >= 4 {
		// worse: how bad a value is on the axis's scale, the higher the
		// worse; the values sorted best first.
		worse := func(v float64) float64 {
			if a.max {
				return -a.to(v)
			}
			return a.to(v)
		}
		slices.SortFunc(fin, func(x, y float64) int { return cmp.Compare(worse(x), worse(y)) })
		q1, q3 := worse(fin[len(fin)/4]), worse(fin[3*len(fin)/4])
		limit := q3 + 4*max(q3-q1, 0.05*math.Abs(q3)+1e-12)
		if a.log {
			limit = q3 + max(4*(q3-q1), 1)
		}
		if i := len(fin) - 1; worse(fin[i]) > limit {
			for i > 0 && worse(fin[i]) > limit {
				i--
			}
			// The worst value within the limit bounds the range.
			if a.max {
				a.lo = fin[i]
			} else {
				a.hi = fin[i]
			}
			a.log = a.lo > 0 && a.hi/a.lo > 20
		}
	}
	if a.hi == a.lo {
		if a.log || a.lo > 0 {
			a.lo, a.hi = a.lo*0.9, a.hi*1.1
		} else {
			a.lo, a.hi = a.lo-0.5, a.hi+0.5
		}
	}
	span := a.to(a.hi) - a.to(a.lo)
	edge, dir := a.to(a.hi), 1.0
	if a.max {
		edge, dir = a.to(a.lo), -1
	}
	a.offY = a.from(edge + dir*0.07*span)
	a.failY = a.from(edge + dir*0.14*span)
	return a
}

func (a *fitAxis) to(v float64) float64 {
	if a.log {
		return math.Log10(v)
	}
	return v
}

func (a *fitAxis) from(v float64) float64 {
	if a.log {
		return math.Pow(10, v)
	}
	return v
}

// y places a genome's fitness: its value as shown, or a row.
func (a *fitAxis) y(g gahpo.GenomeRecord) (y float64, row string) {
	if failed(g) {
		a.anyFail = true
		return a.failY, "failed"
	}
	v := float64(gahpo.ShownFitness(a.max, g.Fitness))
	if a.max && v < a.lo || !a.max && v > a.hi {
		a.anyOff = true
		return a.offY, "off"
	}
	return v, ""
}

// offText says where the off-scale row's values are: "higher ↑" (a
// fitness, the worse the higher) or "lower ↓" (a maximised objective).
func (a *fitAxis) offText() string {
	if a.max {
		return "lower ↓"
	}
	return "higher ↑"
}

// offWhat names the off-scale row's values in a legend: "fitness above
// the axis", or "val_acc below the axis" (a maximised objective).
func (a *fitAxis) offWhat(s *Snapshot) string {
	if a.max {
		return fitName(s) + " below the axis"
	}
	return fitName(s) + " above the axis"
}

// apply sets the plot's y axis; call it after placing every point.
func (a *fitAxis) apply(ax *plot.Axis) {
	var base plot.Ticker = plot.DefaultTicks{}
	if a.log {
		ax.Scale = plot.LogScale{}
		base = niceLogTicks{}
	}
	rows := []plot.Tick{}
	bottom, top := a.lo, a.hi
	beyond := func(y float64) {
		if a.max {
			bottom = y
		} else {
			top = y
		}
	}
	if a.anyOff {
		rows = append(rows, plot.Tick{Value: a.offY, Label: a.offText()})
		beyond(a.offY)
	}
	if a.anyFail {
		rows = append(rows, plot.Tick{Value: a.failY, Label: "failed"})
		beyond(a.failY)
	}
	ax.Tick.Marker = rowTicks{base: base, bottom: a.lo, top: a.hi, rows: rows, below: a.max}
	// A margin each way: the best and the worst points (the box plots'
	// whiskers) clear the axis line and the title.
	pad := 0.03 * (a.to(a.hi) - a.to(a.lo))
	ax.Min, ax.Max = a.from(a.to(bottom)-pad), a.from(a.to(top)+pad)
}

// scatter returns a scatter of points with a glyph style.
func scatter(xys plotter.XYs, c color.Color, shape draw.GlyphDrawer, r vg.Length) (*plotter.Scatter, error) {
	s, err := plotter.NewScatter(xys)
	if err != nil {
		return nil, err
	}
	s.GlyphStyle = draw.GlyphStyle{Color: c, Shape: shape, Radius: r}
	return s, nil
}

// line returns a line through points.
func line(xys plotter.XYs, c color.Color, width vg.Length, dashes ...vg.Length) (*plotter.Line, error) {
	l, err := plotter.NewLine(xys)
	if err != nil {
		return nil, err
	}
	l.LineStyle = draw.LineStyle{Color: c, Width: width, Dashes: dashes}
	return l, nil
}

// lossLabel names a problem's losses with their unit: a problem file's
// are the metrics its training reports with "loss" in their names.
func lossLabel(rc gahpo.RunConfig) string {
	switch {
	case problems.IsCNN(rc.Problem):
		return "loss (NLL, nats)"
	case rc.Problem == problems.Regression:
		return "loss (MSE)"
	}
	return "loss (as the training reports it)"
}

// objectiveLabel names a problem file's fitness axis: its objective, in
// its own sign (the figures draw a maximised one as its trainer reports
// it, the higher the better).
func objectiveLabel(rc gahpo.RunConfig) string {
	switch {
	case rc.Objective == "":
		return "fitness (lower is better)"
	case rc.Maximize:
		return rc.Objective + " (maximised: higher is better)"
	}
	return "fitness: " + rc.Objective + " (lower is better)"
}

// fitnessLabel names the fitness axis of a run.
func fitnessLabel(s *Snapshot) string {
	switch {
	case problems.IsCNN(s.Run.Config.Problem):
		if s.Run.Config.FitnessOnTest {
			return "fitness: test loss (NLL, nats)"
		}
		return "fitness: validation loss (NLL, nats)"
	case s.Run.Config.Problem == problems.Regression:
		return "fitness: 10-fold CV loss (MSE)"
	}
	return objectiveLabel(s.Run.Config)
}

// fitName names what a run's fitness figures draw (gahpo.RunConfig.ShownName):
// "fitness", or a maximised objective's name; fitTitle the same at the
// start of a title ("Fitness", "val_acc").
func fitName(s *Snapshot) string { return s.Run.Config.ShownName() }

func fitTitle(s *Snapshot) string {
	if n := fitName(s); n != "fitness" {
		return n
	}
	return "Fitness"
}

// shownFit is a fitness as a run's figures draw it (gahpo.RunConfig.Shown).
func shownFit(s *Snapshot, f gahpo.Float) float64 { return float64(s.Run.Config.Shown(f)) }

// intTicks labels integers (generations, epochs) without fractions.
type intTicks struct{}

func (intTicks) Ticks(lo, hi float64) []plot.Tick {
	lo, hi = math.Ceil(lo), math.Floor(hi)
	step := 1.0
	for (hi-lo)/step > 12 {
		switch {
		case step == 1:
			step = 2
		case step == 2:
			step = 5
		default:
			step *= 2
		}
	}
	var out []plot.Tick
	for v := math.Ceil(lo/step) * step; v <= hi; v += step {
		out = append(out, plot.Tick{Value: v, Label: strconv.Itoa(int(v))})
	}
	return out
}

// withAlpha returns c with opacity a (premultiplied).
func withAlpha(c color.RGBA, a uint8) color.Color {
	return color.NRGBA{R: c.R, G: c.G, B: c.B, A: a}
}

// legendRoom raises the top of a plot's y axis so that a legend of n
// entries drawn at the top has a band of its own, above every point.
func legendRoom(p *plot.Plot, n int) {
	frac := 0.045*float64(n) + 0.03
	lo, hi := p.Y.Min, p.Y.Max
	if _, ok := p.Y.Scale.(plot.LogScale); ok && lo > 0 && hi > 0 {
		p.Y.Max = hi * math.Pow(hi/lo, frac)
		return
	}
	p.Y.Max = hi + frac*(hi-lo)
}

// padRange widens an axis a little beyond its data (by a factor on a log
// axis), so that the points at either end are not cut by the axis line; a
// range of one value (one epoch, one genome) gets half that value each way
// (or 1 at zero) instead of gonum's one each way, which sends a small
// positive loss's axis below zero.
func padRange(a *plot.Axis) {
	if math.IsInf(a.Min, 0) || math.IsInf(a.Max, 0) || math.IsNaN(a.Min) || math.IsNaN(a.Max) {
		return
	}
	if a.Min == a.Max {
		d := math.Abs(a.Min) / 2
		if d == 0 {
			d = 1
		}
		a.Min, a.Max = a.Min-d, a.Max+d
		return
	}
	if _, ok := a.Scale.(plot.LogScale); ok && a.Min > 0 {
		f := math.Pow(a.Max/a.Min, 0.04)
		a.Min, a.Max = a.Min/f, a.Max*f
		return
	}
	d := 0.04 * (a.Max - a.Min)
	a.Min, a.Max = a.Min-d, a.Max+d
}
