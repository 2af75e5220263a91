package report

import (
	"fmt"
	"image"
	"image/color"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/gahpo/gahpo"
	"github.com/gahpo/gahpo/models/cnn"
	"github.com/gahpo/gahpo/models/regression"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// series is one named curve over epochs.
type series struct {
	name string
	xys  plotter.XYs
}

// finalLosses returns the final training's loss curves: from the per-epoch
// metrics of Curve when recorded (every metric named *loss), else from
// Epochs (training and test loss).
func finalLosses(f *gahpo.FinalTraining) []series {
	var out []series
	if len(f.Curve) > 0 {
		var names []string
		for _, e := range f.Curve {
			for k := range e.Metrics {
				if strings.Contains(k, "loss") && !slices.Contains(names, k) {
					names = append(names, k)
				}
			}
		}
		slices.SortFunc(names, func(a, b string) int { return lossOrder(a) - lossOrder(b) })
		for _, n := range names {
			s := series{name: strings.ReplaceAll(n, "_", " ")}
			for _, e := range f.Curve {
				if v, ok := e.Metrics[n]; ok && finite(float64(v)) {
					s.xys = append(s.xys, plotter.XY{X: float64(e.Epoch), Y: float64(v)})
				}
			}
			out = append(out, s)
		}
		if len(out) > 0 {
			return out
		}
	}
	train, test := series{name: "train loss"}, series{name: "test loss"}
	for _, e := range f.Epochs {
		if finite(float64(e.TrainLoss)) {
			train.xys = append(train.xys, plotter.XY{X: float64(e.Epoch), Y: float64(e.TrainLoss)})
		}
		if finite(float64(e.TestLoss)) {
			test.xys = append(test.xys, plotter.XY{X: float64(e.Epoch), Y: float64(e.TestLoss)})
		}
	}
	return []series{train, test}
}

// lossOrder puts training, validation and test losses in that order.
func lossOrder(name string) int {
	for i, p := range []string{"train", "val", "test"} {
		if strings.HasPrefix(name, p) {
			return i
		}
	}
	return 3
}

func finite(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }

var seriesColours = []color.Color{colDone, colOff, colTest, color.RGBA{R: 148, G: 103, B: 189, A: 255}}

// noFinal says why a run has no final training.
func noFinal(run gahpo.Run) string {
	switch {
	case run.Status == gahpo.RunRunning || run.Status == gahpo.RunFinal:
		return "no final training stored yet"
	case run.Status == gahpo.RunDone && run.Best == 0:
		return "no final training: every genome failed"
	case run.Status == gahpo.RunDone && run.Config.FinalEpochs == 0 && !run.Config.MultiFidelity():
		return "no final training: the run had --final-epochs 0"
	}
	return fmt.Sprintf("no final training: the run is %s", run.Status)
}

// FinalLoss draws the final training's training and test loss (and the
// validation loss when recorded) per epoch.
func FinalLoss(s *Snapshot) (*plot.Plot, error) {
	if s.Final == nil {
		return nil, fmt.Errorf("%w: %s", ErrNoData, noFinal(s.Run))
	}
	ss := finalLosses(s.Final)
	p := newPlot(fmt.Sprintf("Final training of genome %d: loss per epoch", s.Final.GenomeID), "epoch", lossLabel(s.Run.Config))
	lo, hi, n := math.Inf(1), math.Inf(-1), 0
	for _, sr := range ss {
		if len(sr.xys) == 0 {
			continue
		}
		l, pts, err := plotter.NewLinePoints(sr.xys)
		if err != nil {
			return nil, fmt.Errorf("report: %w", err)
		}
		c := seriesColours[min(lossOrder(sr.name), len(seriesColours)-1)]
		l.LineStyle.Color, l.LineStyle.Width = c, vg.Points(2)
		pts.GlyphStyle = draw.GlyphStyle{Color: c, Shape: draw.CircleGlyph{}, Radius: vg.Points(2.5)}
		if len(sr.xys) > 40 {
			pts.GlyphStyle.Radius = 0
		}
		p.Add(l, pts)
		p.Legend.Add(sr.name, l, pts)
		for _, xy := range sr.xys {
			lo, hi = min(lo, xy.Y), max(hi, xy.Y)
		}
		n += len(sr.xys)
	}
	if n == 0 {
		return nil, fmt.Errorf("%w: the final training recorded no finite loss", ErrNoData)
	}
	if lo > 0 && hi/lo > 5 {
		setLog(&p.Y)
	}
	padRange(&p.Y)
	legendRoom(p, len(ss))
	p.X.Tick.Marker = intTicks{}
	padRange(&p.X)
	return p, nil
}

// finalObjective returns a problem file's objective as the final
// training reported it last, and whether it did.
func finalObjective(rc gahpo.RunConfig, f *gahpo.FinalTraining) (float64, bool) {
	if rc.Objective == "" || f == nil {
		return 0, false
	}
	for i := len(f.Curve) - 1; i >= 0; i-- {
		if v, ok := f.Curve[i].Metrics[rc.Objective]; ok && finite(float64(v)) {
			return float64(v), true
		}
	}
	return 0, false
}

// FinalObjective draws a problem file's objective per epoch of the final
// training, when it is not a loss (FinalLoss draws those).
func FinalObjective(s *Snapshot) (*plot.Plot, error) {
	rc := s.Run.Config
	if s.Final == nil {
		return nil, fmt.Errorf("%w: %s", ErrNoData, noFinal(s.Run))
	}
	last, ok := finalObjective(rc, s.Final)
	if !ok {
		return nil, fmt.Errorf("%w: the final training reported no finite %s", ErrNoData, rc.Objective)
	}
	var xys plotter.XYs
	for _, e := range s.Final.Curve {
		if v, ok := e.Metrics[rc.Objective]; ok && finite(float64(v)) {
			xys = append(xys, plotter.XY{X: float64(e.Epoch), Y: float64(v)})
		}
	}
	ylabel, goal := strings.ReplaceAll(rc.Objective, "_", " "), "lower is better"
	if rc.Maximize {
		goal = "higher is better"
	}
	p := newPlot(fmt.Sprintf("Final training of genome %d: its objective, %s %s at the end", s.Final.GenomeID, rc.Objective, strconv.FormatFloat(last, 'g', 5, 64)),
		"epoch", ylabel+" (the objective, "+goal+")")
	l, pts, err := plotter.NewLinePoints(xys)
	if err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	l.LineStyle.Color, l.LineStyle.Width = colTest, vg.Points(2)
	pts.GlyphStyle = draw.GlyphStyle{Color: colTest, Shape: draw.CircleGlyph{}, Radius: vg.Points(2.5)}
	if len(xys) > 40 {
		pts.GlyphStyle.Radius = 0
	}
	p.Add(l, pts)
	p.Legend.Add(strings.ReplaceAll(rc.Objective, "_", " "), l, pts)
	padRange(&p.Y)
	legendRoom(p, 1)
	p.X.Tick.Marker = intTicks{}
	padRange(&p.X)
	return p, nil
}

// gray maps v in [0, 1] to a dark-on-light scale: 0 white, 1 black.
func gray(v float64) color.Gray {
	return color.Gray{Y: uint8(255 * (1 - min(max(v, 0), 1)))}
}

// Conv1Activations draws the first convolution's activations (after its
// ReLU) on one test image, a tile per channel, each tile scaled to its own
// maximum, with the input image first.
func Conv1Activations(s *Snapshot, img []uint8, label int) (*plot.Plot, error) {
	if s.Final == nil || len(s.Weights) == 0 {
		return nil, fmt.Errorf("%w: no final weights stored", ErrNoData)
	}
	acts, err := cnn.Conv1Activations(s.Weights, img)
	if err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	const cols, scale, gap = 8, 4, 6
	side := cnn.Conv1Size * scale
	rows := (len(acts) + cols - 1) / cols
	canvas := image.NewRGBA(image.Rect(0, 0, cols*(side+gap)-gap, rows*(side+gap)-gap))
	for i := range canvas.Pix {
		canvas.Pix[i] = 255
	}
	for c, m := range acts {
		peak := float32(0)
		for _, v := range m {
			peak = max(peak, v)
		}
		x0, y0 := (c%cols)*(side+gap), (c/cols)*(side+gap)
		for y := range side {
			for x := range side {
				v := 0.0
				if peak > 0 {
					v = float64(m[(y/scale)*cnn.Conv1Size+x/scale] / peak)
				}
				canvas.Set(x0+x, y0+y, gray(v))
			}
		}
	}
	p := newPlot(fmt.Sprintf("conv1 activations (ReLU) on test image 0 (digit %d): channels 1-%d, each tile scaled to its maximum", label, len(acts)), "", "")
	p.Title.TextStyle.Font.Size = vg.Points(11)
	w, h := float64(canvas.Bounds().Dx()), float64(canvas.Bounds().Dy())
	p.Add(plotter.NewImage(canvas, 0, 0, w, h))
	var labels plotter.XYLabels
	for c := range acts {
		labels.XYs = append(labels.XYs, plotter.XY{X: float64((c%cols)*(side+gap)) + 2, Y: h - float64((c/cols)*(side+gap)) - 12})
		labels.Labels = append(labels.Labels, fmt.Sprint(c+1))
	}
	lb, err := plotter.NewLabels(labels)
	if err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	for i := range lb.TextStyle {
		lb.TextStyle[i].Color = color.RGBA{R: 214, G: 39, B: 40, A: 255}
		lb.TextStyle[i].Font.Size = vg.Points(8)
	}
	p.Add(lb)
	p.HideAxes()
	return p, nil
}

// InputImage draws the test image itself.
func InputImage(img []uint8, label int) (*plot.Plot, error) {
	const n = 28
	if len(img) != n*n {
		return nil, fmt.Errorf("report: image of %d pixels, want %d", len(img), n*n)
	}
	const scale = 8 // nearest neighbour: the pixels stay pixels
	im := image.NewGray(image.Rect(0, 0, n*scale, n*scale))
	for y := range n * scale {
		for x := range n * scale {
			im.Pix[y*n*scale+x] = 255 - img[(y/scale)*n+x/scale]
		}
	}
	p := newPlot(fmt.Sprintf("test image 0 (digit %d)", label), "", "")
	p.Add(plotter.NewImage(im, 0, 0, n, n))
	p.HideAxes()
	return p, nil
}

// Conv1Histograms draws the distribution of the first convolution's 288
// weights after every epoch of the final training (from the probes the
// final training records), one line per epoch, later epochs darker.
func Conv1Histograms(s *Snapshot) (*plot.Plot, error) {
	if s.Final == nil {
		return nil, fmt.Errorf("%w: %s", ErrNoData, noFinal(s.Run))
	}
	type ep struct {
		epoch int
		w     []float32
	}
	var eps []ep
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, e := range s.Final.Curve {
		if w := e.Probe["conv1.weight"]; len(w) > 0 {
			eps = append(eps, ep{e.Epoch, w})
			for _, v := range w {
				lo, hi = min(lo, float64(v)), max(hi, float64(v))
			}
		}
	}
	if len(eps) == 0 {
		return nil, fmt.Errorf("%w: the final training recorded no conv1 weights per epoch", ErrNoData)
	}
	if hi == lo {
		lo, hi = lo-0.5, hi+0.5
	}
	const bins = 30
	width := (hi - lo) / bins
	p := newPlot("conv1 weights after each epoch of the final training", "weight value", "weights per bin (count)")
	for i, e := range eps {
		counts := make([]float64, bins)
		for _, v := range e.w {
			counts[min(int((float64(v)-lo)/width), bins-1)]++
		}
		var xys plotter.XYs
		for b, c := range counts {
			x := lo + float64(b)*width
			xys = append(xys, plotter.XY{X: x, Y: c}, plotter.XY{X: x + width, Y: c})
		}
		t := 1.0
		if len(eps) > 1 {
			t = float64(i) / float64(len(eps)-1)
		}
		l, err := line(xys, epochShade(t), vg.Points(1.5))
		if err != nil {
			return nil, fmt.Errorf("report: %w", err)
		}
		p.Add(l)
		if i == 0 || i == len(eps)-1 || len(eps) <= 8 {
			p.Legend.Add(fmt.Sprintf("epoch %d", e.epoch), l)
		}
	}
	p.Legend.Top, p.Legend.Left = true, false
	return p, nil
}

// epochShade runs from orange (first epoch) to dark purple (last).
func epochShade(t float64) color.Color {
	mix := func(a, b uint8) uint8 { return uint8(float64(a) + t*(float64(b)-float64(a))) }
	return color.NRGBA{R: mix(253, 63), G: mix(174, 0), B: mix(97, 125), A: 255}
}

// RegressionFit draws the regression problem's data (training points, and
// the noiseless test curve over the whole domain, with the gaps the
// training data leaves shaded) and the curve of the final training's model.
func RegressionFit(s *Snapshot) (*plot.Plot, error) {
	if s.Final == nil || len(s.Weights) == 0 {
		return nil, fmt.Errorf("%w: no final weights stored", ErrNoData)
	}
	d, err := regression.Load()
	if err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	dom := regression.Domain()
	const n = 400
	xs := make([]float64, n)
	for i := range xs {
		xs[i] = dom.Lo + (dom.Hi-dom.Lo)*float64(i)/(n-1)
	}
	ys, err := regression.Predict(s.Weights, xs)
	if err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	p := newPlot(fmt.Sprintf("Regression: data and the model of genome %d", s.Final.GenomeID), "x", "y = sin(x) + 0.3x")
	ylo, yhi := math.Inf(1), math.Inf(-1)
	for _, v := range append(slices.Clone(d.TrainY), d.TestY...) {
		ylo, yhi = min(ylo, v), max(yhi, v)
	}
	pad := 0.15 * (yhi - ylo)
	ylo, yhi = ylo-pad, yhi+pad
	for i, g := range regression.Gaps() {
		poly, err := plotter.NewPolygon(plotter.XYs{{X: g.Lo, Y: ylo}, {X: g.Hi, Y: ylo}, {X: g.Hi, Y: yhi}, {X: g.Lo, Y: yhi}})
		if err != nil {
			return nil, fmt.Errorf("report: %w", err)
		}
		poly.Color = color.Gray{Y: 230}
		poly.LineStyle.Width = 0
		p.Add(poly)
		if i == 0 {
			p.Legend.Add("no training data", poly)
		}
	}
	var train, test, model plotter.XYs
	for i := range d.TrainX {
		train = append(train, plotter.XY{X: d.TrainX[i], Y: d.TrainY[i]})
	}
	for i := range d.TestX {
		test = append(test, plotter.XY{X: d.TestX[i], Y: d.TestY[i]})
	}
	for i := range xs {
		if finite(ys[i]) {
			model = append(model, plotter.XY{X: xs[i], Y: min(max(ys[i], ylo), yhi)})
		}
	}
	sc, err := scatter(train, withAlpha(colDone, 150), draw.CircleGlyph{}, vg.Points(2))
	if err != nil {
		return nil, err
	}
	tl, err := line(test, colFaint, vg.Points(1.5), vg.Points(4), vg.Points(3))
	if err != nil {
		return nil, err
	}
	p.Add(sc, tl)
	p.Legend.Add("training data", sc)
	p.Legend.Add("test data (noiseless)", tl)
	if len(model) > 0 {
		ml, err := line(model, colFailed, vg.Points(2))
		if err != nil {
			return nil, err
		}
		p.Add(ml)
		p.Legend.Add("model", ml)
	}
	p.Y.Min, p.Y.Max = ylo, yhi
	p.X.Min, p.X.Max = dom.Lo, dom.Hi
	p.Legend.Top, p.Legend.Left = true, true
	return p, nil
}

// curveMetric picks the metric a learning curve shows: the run's objective
// (a problem file's) when recorded, else the validation loss, else the
// test loss, else the first loss, else the first metric.
func curveMetric(gs []gahpo.GenomeRecord, objective string) string {
	var names []string
	for _, g := range gs {
		for _, e := range g.Curve {
			for k := range e.Metrics {
				if !slices.Contains(names, k) {
					names = append(names, k)
				}
			}
		}
	}
	slices.Sort(names)
	for _, want := range []string{objective, "val_loss", "test_loss", "loss"} {
		if slices.Contains(names, want) {
			return want
		}
	}
	for _, n := range names {
		if strings.Contains(n, "loss") {
			return n
		}
	}
	if len(names) > 0 {
		return names[0]
	}
	return ""
}

// rungColours tell the rung a genome reached.
var rungColours = []color.Color{colFaint, colDone, colTest, colOff, color.RGBA{R: 148, G: 103, B: 189, A: 255}, colBest}

// LearningCurves draws the per-epoch metric of every genome that recorded a
// curve (multi-fidelity searches), coloured by the highest rung it reached;
// failed genomes' curves are dashed red and end in a cross.
func LearningCurves(s *Snapshot) (*plot.Plot, error) {
	var gs []gahpo.GenomeRecord
	for _, g := range s.Genomes {
		if len(g.Curve) > 0 {
			gs = append(gs, g)
		}
	}
	metric := curveMetric(gs, s.Run.Config.Objective)
	if metric == "" {
		return nil, fmt.Errorf("%w: no genome recorded a learning curve (one-epoch fitness)", ErrNoData)
	}
	longest := 0
	for _, g := range gs {
		longest = max(longest, len(g.Curve))
	}
	if longest < 2 { // a point per genome, no curve
		if s.Run.Config.MultiFidelity() {
			return nil, fmt.Errorf("%w: no genome has trained more than one epoch yet", ErrNoData)
		}
		return nil, fmt.Errorf("%w: every genome trained one epoch (one-epoch fitness): a curve needs two", ErrNoData)
	}
	ylabel := strings.ReplaceAll(metric, "_", " ")
	switch {
	case metric == s.Run.Config.Objective && s.Run.Config.Maximize:
		ylabel += " (maximised: higher is better)"
	case strings.Contains(metric, "loss"):
		ylabel = strings.Replace(lossLabel(s.Run.Config), "loss", ylabel, 1)
	}
	p := newPlot("Learning curves of the genomes (multi-fidelity)", "epoch", ylabel)
	pbt := s.Run.Config.PBT()
	slices.SortStableFunc(gs, func(a, b gahpo.GenomeRecord) int { return a.Rung - b.Rung })
	lo, hi := math.Inf(1), math.Inf(-1)
	seen := map[int]bool{}
	var ends plotter.XYs
	for _, g := range gs {
		var xys plotter.XYs
		for _, e := range g.Curve {
			if v, ok := e.Metrics[metric]; ok && finite(float64(v)) {
				xys = append(xys, plotter.XY{X: float64(e.Epoch), Y: float64(v)})
				lo, hi = min(lo, float64(v)), max(hi, float64(v))
			}
		}
		if len(xys) == 0 {
			continue
		}
		var l *plotter.Line
		var err error
		if failed(g) {
			l, err = line(xys, colFailed, vg.Points(1), vg.Points(3), vg.Points(2))
			ends = append(ends, xys[len(xys)-1])
		} else if pbt {
			// Population based training has a rung per step: tell the
			// genomes replaced from those trained to the end.
			col := colFaint
			if g.Stopped == "" {
				col = colDone
			}
			l, err = line(xys, col, vg.Points(1.2))
		} else {
			l, err = line(xys, rungColours[min(g.Rung, len(rungColours)-1)], vg.Points(1.2))
		}
		if err != nil {
			return nil, err
		}
		p.Add(l)
		if len(xys) == 1 { // one epoch: a point, not a line
			sc, err := scatter(xys, l.LineStyle.Color, draw.CircleGlyph{}, vg.Points(2.5))
			if err != nil {
				return nil, err
			}
			p.Add(sc)
		}
		switch {
		case failed(g):
		case pbt:
			key, label := -1, "trained to the end"
			if g.Stopped != "" {
				key, label = -2, "stopped, replaced by a better genome's copy"
			}
			if !seen[key] {
				seen[key] = true
				p.Legend.Add(label, l)
			}
		case !seen[g.Rung]:
			seen[g.Rung] = true
			p.Legend.Add(fmt.Sprintf("reached rung %d", g.Rung), l)
		}
	}
	if len(ends) > 0 {
		sc, err := scatter(ends, colFailed, draw.CrossGlyph{}, vg.Points(4))
		if err != nil {
			return nil, err
		}
		p.Add(sc)
		p.Legend.Add("failed genome (last epoch)", sc)
	}
	if math.IsInf(lo, 1) {
		return nil, fmt.Errorf("%w: the learning curves hold no finite %s", ErrNoData, metric)
	}
	if lo > 0 && hi/lo > 5 {
		setLog(&p.Y)
	}
	padRange(&p.Y)
	legendRoom(p, len(seen)+min(len(ends), 1))
	p.X.Tick.Marker = intTicks{}
	padRange(&p.X)
	p.Legend.Top, p.Legend.Left = true, false
	return p, nil
}
