package main

import (
	"cmp"
	"encoding/csv"
	"errors"
	"fmt"
	"image/color"
	"io"
	"maps"
	"math"
	"os"
	"slices"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// point is one search's outcome as a results file holds it: what the
// search spent and the test loss of the genome it chose.
type point struct {
	method string
	seed   int
	spent  float64
	loss   float64
	budget int // the index of the file it came from: one budget per file
}

// readResults reads the points of results files written by run (or
// kept from earlier runs), one budget per file.
func readResults(paths []string) ([]point, error) {
	var out []point
	for i, path := range paths {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		rows, err := csv.NewReader(f).ReadAll()
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if len(rows) < 2 {
			return nil, fmt.Errorf("%s: no result", path)
		}
		col := map[string]int{}
		for j, name := range rows[0] {
			col[name] = j
		}
		for _, name := range []string{"method", "seed", "epochs_spent", "test_loss"} {
			if _, ok := col[name]; !ok {
				return nil, fmt.Errorf("%s: no column %q", path, name)
			}
		}
		for n, r := range rows[1:] {
			seed, err1 := strconv.Atoi(r[col["seed"]])
			spent, err2 := strconv.ParseFloat(r[col["epochs_spent"]], 64)
			loss, err3 := strconv.ParseFloat(r[col["test_loss"]], 64)
			if err := errors.Join(err1, err2, err3); err != nil {
				return nil, fmt.Errorf("%s: row %d: %w", path, n+2, err)
			}
			if !(loss > 0) || math.IsInf(loss, 0) || math.IsNaN(spent) || math.IsInf(spent, 0) {
				return nil, fmt.Errorf("%s: row %d: test loss %v and epochs spent %v: a loss must be finite and above 0 (the axis is logarithmic)", path, n+2, loss, spent)
			}
			out = append(out, point{method: r[col["method"]], seed: seed, spent: spent, loss: loss, budget: i})
		}
	}
	return out, nil
}

// methodStyle gives each method its colour and marker, in methods' order.
var methodStyle = map[string]struct {
	color color.Color
	shape draw.GlyphDrawer
}{
	"ga-one-epoch":       {color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}, draw.CircleGlyph{}},
	"ga-halving":         {color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff}, draw.TriangleGlyph{}},
	"random-halving":     {color.RGBA{R: 0x2c, G: 0xa0, B: 0x2c, A: 0xff}, draw.SquareGlyph{}},
	"ga-halving-confirm": {color.RGBA{R: 0x94, G: 0x67, B: 0xbd, A: 0xff}, draw.PyramidGlyph{}},
}

// plotResults draws each search's chosen genome's test loss against the
// epoch-trainings it spent, every seed a point and each method's mean
// over the seeds of one budget joined by a line, and writes it as PNG to w.
func plotResults(w io.Writer, pts []point, maxEpochs, subset int) error {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("The chosen genome's %d-epoch test loss against the compute spent", maxEpochs)
	p.X.Label.Text = fmt.Sprintf("epoch-trainings spent (one epoch of one genome on %d images)", subset)
	p.Y.Label.Text = "test loss of the chosen genome (log scale; lower is better)"
	p.Y.Scale, p.Y.Tick.Marker = plot.LogScale{}, lossTicks{}
	p.Legend.Top = true
	for _, m := range methods {
		var mine []point
		for _, q := range pts {
			if q.method == m.name {
				mine = append(mine, q)
			}
		}
		if len(mine) == 0 {
			continue
		}
		style := methodStyle[m.name]
		xys := make(plotter.XYs, len(mine))
		for i, q := range mine {
			xys[i] = plotter.XY{X: q.spent, Y: q.loss}
		}
		sc, err := plotter.NewScatter(xys)
		if err != nil {
			return err
		}
		sc.GlyphStyle.Color, sc.GlyphStyle.Shape, sc.GlyphStyle.Radius = style.color, style.shape, vg.Points(3.5)
		var means plotter.XYs
		budgets := map[int]bool{}
		for _, q := range mine {
			budgets[q.budget] = true
		}
		for _, b := range slices.Sorted(maps.Keys(budgets)) {
			var x, y float64
			n := 0
			for _, q := range mine {
				if q.budget == b {
					x, y, n = x+q.spent, y+q.loss, n+1
				}
			}
			means = append(means, plotter.XY{X: x / float64(n), Y: y / float64(n)})
		}
		slices.SortFunc(means, func(a, b plotter.XY) int { return cmp.Compare(a.X, b.X) })
		ln, err := plotter.NewLine(means)
		if err != nil {
			return err
		}
		ln.LineStyle.Color, ln.LineStyle.Width = style.color, vg.Points(1.5)
		p.Add(sc, ln)
		p.Legend.Add(m.name+" (each seed; line: mean)", sc, ln)
	}
	wt, err := p.WriterTo(9*vg.Inch, 5.5*vg.Inch, "png")
	if err != nil {
		return err
	}
	_, err = wt.WriteTo(w)
	return err
}

// plotFiles reads the results files csvs and draws them into png.
func plotFiles(png string, csvs []string, maxEpochs, subset int) error {
	if len(csvs) == 0 {
		return errors.New("-plot: no results file given")
	}
	pts, err := readResults(csvs)
	if err != nil {
		return err
	}
	f, err := os.Create(png)
	if err != nil {
		return err
	}
	if err := plotResults(f, pts, maxEpochs, subset); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// lossTicks labels 1, 1.5, 2, 3, 5 and 7 times the powers of ten, and
// marks the other integers between: the test losses here span about one
// decade, where gonum's LogTicks would label one value.
type lossTicks struct{}

func (lossTicks) Ticks(lo, hi float64) []plot.Tick {
	if !(lo > 0) || !(hi >= lo) || math.IsInf(hi, 0) {
		return nil // readResults keeps such values out
	}
	var out []plot.Tick
	for p := math.Pow(10, math.Floor(math.Log10(lo))); p <= hi; p *= 10 {
		for _, m := range []float64{1, 1.5, 2, 3, 4, 5, 6, 7, 8, 9} {
			v := m * p
			if v < lo || v > hi {
				continue
			}
			t := plot.Tick{Value: v}
			if m == 1 || m == 1.5 || m == 2 || m == 3 || m == 5 || m == 7 {
				t.Label = strconv.FormatFloat(v, 'g', 3, 64)
			}
			out = append(out, t)
		}
	}
	return out
}
