package report

import (
	"bytes"
	"fmt"
	"path/filepath"
	"strings"
	"sync"

	"github.com/gahpo/gahpo/models/mnist"
	"github.com/gahpo/gahpo/models/problems"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"
)

// Figure is one figure of a report: its plot, or why it is absent.
type Figure struct {
	Name    string // file name without ".png"
	Caption string
	Plot    *plot.Plot
	Missing string // set when Plot is nil: what the run lacks
	W, H    vg.Length
}

// File is the figure's file name.
func (f Figure) File() string { return f.Name + ".png" }

// PNG renders the figure. gonum panics on what it cannot draw (a log axis
// reaching zero): that is this figure's error, not the report's end.
func (f Figure) PNG() (png []byte, err error) {
	if f.Plot == nil {
		return nil, fmt.Errorf("%w: figure %s: %s", ErrNoData, f.Name, f.Missing)
	}
	defer func() {
		if p := recover(); p != nil {
			png, err = nil, fmt.Errorf("report: render %s: %v", f.Name, p)
		}
	}()
	wt, err := f.Plot.WriterTo(f.W, f.H, "png")
	if err != nil {
		return nil, fmt.Errorf("report: render %s: %w", f.Name, err)
	}
	var b bytes.Buffer
	if _, err := wt.WriteTo(&b); err != nil {
		return nil, fmt.Errorf("report: render %s: %w", f.Name, err)
	}
	return b.Bytes(), nil
}

// Options set what the figures are drawn with.
type Options struct {
	// MNISTDir holds the MNIST files, for the CNN's test image ("": found
	// in the Go module cache).
	MNISTDir string
}

// Sizes of the figures.
const (
	figW = 8 * vg.Inch
	figH = 5 * vg.Inch
)

// testImage is MNIST's first test image (a 7), loaded once per directory.
var testImages sync.Map // dir → *testImage

type testImage struct {
	once  sync.Once
	px    []uint8
	label int
	err   error
}

func loadTestImage(dir string) ([]uint8, int, error) {
	v, _ := testImages.LoadOrStore(dir, &testImage{})
	t := v.(*testImage)
	t.once.Do(func() {
		d := dir
		if d == "" {
			if d, t.err = mnist.FindDir(); t.err != nil {
				return
			}
		}
		set, err := mnist.LoadSet(filepath.Join(d, mnist.TestImagesFile), filepath.Join(d, mnist.TestLabelsFile))
		if err != nil {
			t.err = err
			return
		}
		t.px, t.label = append([]uint8(nil), set.Image(0)...), int(set.Labels[0])
	})
	return t.px, t.label, t.err
}

// Figures draws every figure of a snapshot, in the page's order; those the
// run cannot have yet carry the reason in Missing.
func Figures(s *Snapshot, opt Options) []Figure {
	var figs []Figure
	add := func(name, caption string, w, h vg.Length, p *plot.Plot, err error) {
		f := Figure{Name: name, Caption: caption, Plot: p, W: w, H: h}
		if p != nil {
			// gonum draws a legend flush with the figure's edge, its
			// sample lines cut: a little inside.
			p.Legend.XOffs = -vg.Points(6)
			if p.Legend.Left {
				p.Legend.XOffs = vg.Points(6)
			}
		}
		if err != nil {
			f.Plot = nil
			f.Missing = strings.TrimPrefix(err.Error(), ErrNoData.Error()+": ")
		}
		figs = append(figs, f)
	}
	p, err := BestBoxes(s)
	add("best-boxes", fmt.Sprintf("%s of the best %.0f%% genomes of each %s (box: quartiles, whiskers: the rest).", fitTitle(s), 100*BestShare, groupUnit(s)), figW, figH, p, err)
	p, err = BestSoFar(s, false)
	add("best-so-far", fmt.Sprintf("Every trained genome's %s in the order they finished, and the best so far.", fitName(s)), figW, figH, p, err)
	p, err = BestSoFar(s, true)
	add("best-so-far-time", "The same against the time since the run started.", figW, figH, p, err)
	p, err = ParallelCoordinates(s)
	add("parallel", fmt.Sprintf("Every evaluated genome through its parameters and its %s.", fitName(s)), 10*vg.Inch, 5.5*vg.Inch, p, err)
	for _, name := range paramNames(s) {
		p, err = ParamByGeneration(s, name)
		add("param-"+name+"-by-generation", fmt.Sprintf("%s of each genome by %s.", name, groupUnit(s)), figW, figH, p, err)
		p, err = ParamVsFitness(s, name)
		add("param-"+name+"-vs-fitness", fmt.Sprintf("%s against %s.", fitTitle(s), name), figW, figH, p, err)
	}
	p, err = LearningCurves(s)
	add("learning-curves", "Per-epoch metric of the genomes trained over several epochs.", figW, figH, p, err)
	if s.Run.Config.PBT() {
		for _, name := range paramNames(s) {
			p, err = Schedule(s, name)
			add("schedule-"+name, fmt.Sprintf("%s that trained each genome at the highest rung, epoch by epoch (population based training).", name), figW, figH, p, err)
		}
	}
	p, err = FinalLoss(s)
	add("final-loss", "The final training's loss per epoch.", figW, figH, p, err)
	if obj := s.Run.Config.Objective; obj != "" && !strings.Contains(obj, "loss") { // a loss is on final-loss
		p, err = FinalObjective(s)
		add("final-objective", fmt.Sprintf("The final training's objective, %s, per epoch.", obj), figW, figH, p, err)
	}
	switch {
	case problems.IsCNN(s.Run.Config.Problem):
		p, err = Conv1Histograms(s)
		add("conv1-histograms", "Distribution of conv1's 288 weights after each epoch of the final training.", figW, figH, p, err)
		img, label, ierr := loadTestImage(opt.MNISTDir)
		if ierr != nil {
			add("conv1-activations", "conv1's activations on a test image.", figW, figH, nil, fmt.Errorf("%w: no MNIST test image: %w", ErrNoData, ierr))
			break
		}
		p, err = Conv1Activations(s, img, label)
		add("conv1-activations", "conv1's 32 activation maps on MNIST test image 0.", figW, 4.5*vg.Inch, p, err)
		p, err = InputImage(img, label)
		add("test-image", "The test image.", 2.5*vg.Inch, 2.5*vg.Inch, p, err)
	case s.Run.Config.Problem == problems.Regression:
		p, err = RegressionFit(s)
		add("regression-fit", "The data and the final model's curve.", figW, figH, p, err)
	}
	return figs
}
