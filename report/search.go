package report

import (
	"fmt"
	"image/color"
	"math"
	"slices"

	"github.com/gahpo/gahpo"
	"github.com/gahpo/gahpo/ga"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// BestShare is the share of each generation's genomes that BestBoxes draws.
const BestShare = 0.3

// groupUnit names what byGeneration groups by: a generation, or a
// population based training's rung.
func groupUnit(s *Snapshot) string {
	if s.Run.Config.PBT() {
		return "rung"
	}
	return "generation"
}

// byGeneration groups the evaluated genomes by generation (0-based keys,
// drawn at key+1), each group best first; a population based training's
// by rung (see below).
func byGeneration(s *Snapshot) (gens []int, groups map[int][]gahpo.GenomeRecord) {
	groups = map[int][]gahpo.GenomeRecord{}
	add := func(key int, g gahpo.GenomeRecord) {
		if _, ok := groups[key]; !ok {
			gens = append(gens, key)
		}
		groups[key] = append(groups[key], g)
	}
	for _, g := range s.Genomes {
		if !g.Evaluated() {
			continue
		}
		if !s.Run.Config.PBT() {
			add(g.Generation, g)
			continue
		}
		// A population based training breeds no generations: its groups
		// are its rungs (key rung-1, drawn at rung), each genome at every
		// rung it trained itself (an exploiting genome's rungs before it
		// exploited are its source's), with its fitness there.
		first := 0
		if g.Exploited != 0 {
			first = g.Inherited
		}
		for k := first; k < len(g.RungFitness); k++ {
			r := g
			r.Rung, r.Fitness = k, g.RungFitness[k]
			if k < len(g.RungFitness)-1 {
				r.Status = gahpo.GenomeDone // it went on from there
			}
			add(k-1, r)
		}
	}
	slices.Sort(gens)
	for _, gs := range groups {
		slices.SortStableFunc(gs, func(a, b gahpo.GenomeRecord) int {
			switch {
			case gahpo.Better(a, b):
				return -1
			case gahpo.Better(b, a):
				return 1
			}
			return 0
		})
	}
	return gens, groups
}

// BestBoxes draws the distribution of the fitness of each generation's best
// 30% genomes (at least one), a box per generation, as the paper does; failed
// genomes among them are drawn on the "failed" row.
func BestBoxes(s *Snapshot) (*plot.Plot, error) {
	gens, groups := byGeneration(s)
	if len(gens) == 0 {
		return nil, fmt.Errorf("%w: no genome evaluated yet", ErrNoData)
	}
	var vals []float64
	best := map[int][]gahpo.GenomeRecord{}
	for _, g := range gens {
		n := max(1, int(math.Ceil(BestShare*float64(len(groups[g])))))
		best[g] = groups[g][:n]
		for _, r := range best[g] {
			vals = append(vals, shownFit(s, r.Fitness))
		}
	}
	ax := newFitAxis(vals, false, s.Run.Config.Maximize)
	p := newPlot(fmt.Sprintf("%s of the best %.0f%% of each %s", fitTitle(s), 100*BestShare, groupUnit(s)), groupUnit(s), fitnessLabel(s))
	var fails plotter.XYs
	for _, g := range gens {
		var v plotter.Values
		for _, r := range best[g] {
			if y, row := ax.y(r); row == "" {
				v = append(v, y)
			} else {
				fails = append(fails, plotter.XY{X: float64(g + 1), Y: y})
			}
		}
		if len(v) == 0 {
			continue
		}
		b, err := plotter.NewBoxPlot(boxWidth(gens[len(gens)-1]-gens[0]+1), float64(g+1), v)
		if err != nil {
			return nil, fmt.Errorf("report: box plot: %w", err)
		}
		b.FillColor = withAlpha(colDone, 90)
		p.Add(b)
	}
	if len(fails) > 0 {
		sc, err := scatter(fails, colFailed, draw.CrossGlyph{}, vg.Points(4))
		if err != nil {
			return nil, err
		}
		p.Add(sc)
		p.Legend.Add("failed", sc)
	}
	ax.apply(&p.Y)
	legendRoom(p, countNonEmpty(fails))
	p.X.Tick.Marker = intTicks{}
	p.X.Min, p.X.Max = float64(gens[0])+0.4, float64(gens[len(gens)-1])+1.6
	return p, nil
}

// boxWidth is the width of each of n boxes side by side across a figure
// figW wide: 14 points up to 26 of them, narrower beyond, so that boxes
// never overlap (two points at least: a line with whiskers).
func boxWidth(n int) vg.Length {
	const usable = 0.85 * figW // less the y axis and the margins
	return max(2, min(14, 0.75*usable/vg.Length(max(n, 1))))
}

// trained lists the genomes that were trained (not duplicates, not queued)
// in the order they finished.
func trained(s *Snapshot) []gahpo.GenomeRecord {
	var out []gahpo.GenomeRecord
	for _, g := range s.Genomes {
		if g.Evaluated() && g.Status != gahpo.GenomeDuplicate {
			out = append(out, g)
		}
	}
	slices.SortStableFunc(out, func(a, b gahpo.GenomeRecord) int { return a.Finished.Compare(b.Finished) })
	return out
}

// BestSoFar draws every trained genome's fitness and the best so far,
// against the number of genomes trained or, with byTime, against the time
// since the run started.
func BestSoFar(s *Snapshot, byTime bool) (*plot.Plot, error) {
	gs := trained(s)
	if len(gs) == 0 {
		return nil, fmt.Errorf("%w: no genome trained yet", ErrNoData)
	}
	xlabel, scale := "genomes trained", 1.0
	if byTime {
		span := gs[len(gs)-1].Finished.Sub(s.Run.Started).Seconds()
		xlabel = "time since the run started (s)"
		if span > 300 {
			xlabel, scale = "time since the run started (min)", 60
		}
	}
	xOf := func(i int) float64 {
		if byTime {
			return gs[i].Finished.Sub(s.Run.Started).Seconds() / scale
		}
		return float64(i + 1)
	}
	vals := make([]float64, len(gs))
	for i, g := range gs {
		vals[i] = shownFit(s, g.Fitness)
	}
	ax := newFitAxis(vals, true, s.Run.Config.Maximize)
	title := "Best " + fitName(s) + " so far, by genomes trained"
	if byTime {
		title = "Best " + fitName(s) + " so far, by time"
	}
	p := newPlot(title, xlabel, fitnessLabel(s))
	var pts, off, fails plotter.XYs
	for i, g := range gs {
		y, row := ax.y(g)
		pt := plotter.XY{X: xOf(i), Y: y}
		switch row {
		case "failed":
			fails = append(fails, pt)
		case "off":
			off = append(off, pt)
		default:
			pts = append(pts, pt)
		}
	}
	bestLine := bestSoFarLine(s, gs, xOf)
	if err := addPoints(p, pts, off, fails, "genome", ax.offWhat(s)); err != nil {
		return nil, err
	}
	if len(bestLine) > 0 {
		l, err := line(bestLine, colBest, vg.Points(2))
		if err != nil {
			return nil, err
		}
		p.Add(l)
		p.Legend.Add("best so far", l)
	}
	ax.apply(&p.Y)
	legendRoom(p, 1+countNonEmpty(pts, off, fails))
	if !byTime {
		p.X.Tick.Marker = intTicks{}
	}
	padRange(&p.X) // the first and last genomes clear the axes
	return p, nil
}

// bestSoFarLine is the step line of the best fitness so far of the
// trained genomes gs, in the order they finished (genome i at xOf(i)),
// as shown: a maximised objective's highest so far.
func bestSoFarLine(s *Snapshot, gs []gahpo.GenomeRecord, xOf func(int) float64) plotter.XYs {
	var out plotter.XYs
	best := math.Inf(1) // the best genome's fitness, minimised
	for i, g := range gs {
		if failed(g) || float64(g.Fitness) >= best {
			continue
		}
		if len(out) > 0 {
			out = append(out, plotter.XY{X: xOf(i), Y: shownFit(s, gahpo.Float(best))})
		}
		best = float64(g.Fitness)
		out = append(out, plotter.XY{X: xOf(i), Y: shownFit(s, gahpo.Float(best))})
	}
	if len(out) > 0 {
		out = append(out, plotter.XY{X: xOf(len(gs) - 1), Y: shownFit(s, gahpo.Float(best))})
	}
	return out
}

// addPoints adds drawn values, off-scale values (offWhat says where) and
// failed genomes, each with its own glyph and legend entry.
func addPoints(p *plot.Plot, pts, off, fails plotter.XYs, what, offWhat string) error {
	add := func(xys plotter.XYs, c color.Color, shape draw.GlyphDrawer, name string) error {
		if len(xys) == 0 {
			return nil
		}
		sc, err := scatter(xys, c, shape, vg.Points(3))
		if err != nil {
			return err
		}
		p.Add(sc)
		p.Legend.Add(name, sc)
		return nil
	}
	if err := add(pts, withAlpha(colDone, 160), draw.CircleGlyph{}, what); err != nil {
		return err
	}
	if err := add(off, colOff, draw.TriangleGlyph{}, what+", "+offWhat); err != nil {
		return err
	}
	return add(fails, colFailed, draw.CrossGlyph{}, what+", failed")
}

// jitter spreads points of one generation over ±0.3 without randomness.
func jitter(i, n int) float64 {
	if n <= 1 {
		return 0
	}
	return -0.3 + 0.6*float64(i)/float64(n-1)
}

// ParamByGeneration draws one parameter of every evaluated genome against
// its generation (log axis for a log-scaled parameter); the best genome of
// each generation is ringed, failed genomes are crosses.
func ParamByGeneration(s *Snapshot, name string) (*plot.Plot, error) {
	gens, groups := byGeneration(s)
	if len(gens) == 0 {
		return nil, fmt.Errorf("%w: no genome evaluated yet", ErrNoData)
	}
	spec := paramSpecs(s)[name]
	p := newPlot(fmt.Sprintf("%s by %s", name, groupUnit(s)), groupUnit(s), paramLabel(spec))
	var pts, fails, best plotter.XYs
	for _, g := range gens {
		gs := slices.Clone(groups[g])
		slices.SortFunc(gs, func(a, b gahpo.GenomeRecord) int { return a.ID - b.ID })
		for i, r := range gs {
			v, ok := r.Params[name]
			if !ok {
				continue
			}
			pt := plotter.XY{X: float64(g+1) + jitter(i, len(gs)), Y: v}
			if failed(r) {
				fails = append(fails, pt)
			} else {
				pts = append(pts, pt)
			}
			if r.ID == groups[g][0].ID && !failed(r) {
				best = append(best, pt)
			}
		}
	}
	if err := addPoints(p, pts, nil, fails, "genome", ""); err != nil {
		return nil, err
	}
	if len(best) > 0 {
		sc, err := scatter(best, colBest, draw.RingGlyph{}, vg.Points(5))
		if err != nil {
			return nil, err
		}
		p.Add(sc)
		p.Legend.Add("best of its "+groupUnit(s), sc)
	}
	if spec.Scale == ga.Log && allPositive(append(pts, fails...)) {
		setLog(&p.Y)
	}
	if spec.Max > spec.Min && !math.IsInf(spec.Max, 0) {
		p.Y.Min, p.Y.Max = min(p.Y.Min, spec.Min), max(p.Y.Max, spec.Max)
	}
	if t := choiceTicks(spec); t != nil {
		p.Y.Tick.Marker = t
		p.Y.Min, p.Y.Max = spec.Min-0.5, spec.Max+0.5
	}
	legendRoom(p, 1+countNonEmpty(pts, fails))
	p.X.Tick.Marker = intTicks{}
	p.X.Min, p.X.Max = float64(gens[0])+0.5, float64(gens[len(gens)-1])+1.5
	p.Legend.Top, p.Legend.Left = true, false
	return p, nil
}

// ParamVsFitness draws each evaluated genome's fitness against one of its
// parameters (log axis for a log-scaled parameter).
func ParamVsFitness(s *Snapshot, name string) (*plot.Plot, error) {
	var gs []gahpo.GenomeRecord
	var vals []float64
	for _, g := range s.Genomes {
		if _, ok := g.Params[name]; ok && g.Evaluated() {
			gs = append(gs, g)
			vals = append(vals, shownFit(s, g.Fitness))
		}
	}
	if len(gs) == 0 {
		return nil, fmt.Errorf("%w: no genome evaluated yet", ErrNoData)
	}
	spec := paramSpecs(s)[name]
	ax := newFitAxis(vals, true, s.Run.Config.Maximize)
	p := newPlot(fmt.Sprintf("%s by %s", fitTitle(s), name), paramLabel(spec), fitnessLabel(s))
	var pts, off, fails plotter.XYs
	for _, g := range gs {
		y, row := ax.y(g)
		pt := plotter.XY{X: g.Params[name], Y: y}
		switch row {
		case "failed":
			fails = append(fails, pt)
		case "off":
			off = append(off, pt)
		default:
			pts = append(pts, pt)
		}
	}
	if err := addPoints(p, pts, off, fails, "genome", ax.offWhat(s)); err != nil {
		return nil, err
	}
	ax.apply(&p.Y)
	legendRoom(p, countNonEmpty(pts, off, fails))
	if spec.Scale == ga.Log && allPositiveX(gs, name) {
		setLog(&p.X)
	}
	if t := choiceTicks(spec); t != nil {
		p.X.Tick.Marker = t
		p.X.Min, p.X.Max = spec.Min-0.5, spec.Max+0.5
	}
	return p, nil
}

// paramLabel names a parameter's axis with its scale.
func paramLabel(p ga.Param) string {
	switch p.Scale {
	case ga.Log:
		return p.Name + " (log scale)"
	case ga.Logit:
		return p.Name + " (logit-scaled in the search)"
	}
	return p.Name
}

func allPositive(xys plotter.XYs) bool {
	for _, xy := range xys {
		if xy.Y <= 0 {
			return false
		}
	}
	return len(xys) > 0
}

func allPositiveX(gs []gahpo.GenomeRecord, name string) bool {
	for _, g := range gs {
		if g.Params[name] <= 0 {
			return false
		}
	}
	return true
}

func countNonEmpty(sets ...plotter.XYs) int {
	n := 0
	for _, s := range sets {
		if len(s) > 0 {
			n++
		}
	}
	return n
}
