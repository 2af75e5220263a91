package report

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/gahpo/gahpo"
)

// problemFileRun is a finished one-epoch search of a problem file whose
// objective, score, is maximised and not a loss: some genomes failed (two
// of them out of memory, with other sizes, one without an objective), the
// final training reported its score over two epochs.
func problemFileRun() *Snapshot {
	rc := gahpo.RunConfig{Problem: "flaky", Objective: "score", Maximize: true, FinalEpochs: 2}
	rc.GA.Population, rc.GA.Generations = 3, 2
	start := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	oom := func(mib string) string {
		return "command: models: cannot train this genome: the command failed: exit status 1; standard error ends:\nTraceback (most recent call last):\nRuntimeError: CUDA out of memory. Tried to allocate " + mib + " MiB\n"
	}
	var gs []gahpo.GenomeRecord
	for i := range 6 {
		score := 0.5 + 0.05*float64(i)
		g := gahpo.GenomeRecord{ID: i + 1, Generation: i / 3, Params: map[string]float64{"x": float64(i) / 6}, Status: gahpo.GenomeDone,
			Fitness: gahpo.Float(-score), Epochs: 1, Finished: start.Add(time.Duration(i+1) * time.Second), Duration: time.Second,
			Curve: []gahpo.EpochReport{{Epoch: 1, Metrics: map[string]gahpo.Float{"score": gahpo.Float(score), "val_loss": gahpo.Float(1 - score)}}}}
		switch i {
		case 1:
			g.Status, g.Fitness, g.Failure = gahpo.GenomeFailed, gahpo.Float(math.Inf(1)), oom("955")
		case 4:
			g.Status, g.Fitness, g.Failure = gahpo.GenomeFailed, gahpo.Float(math.Inf(1)), oom("1024")
		case 2:
			g.Status, g.Fitness, g.Failure = gahpo.GenomeFailed, gahpo.Float(math.Inf(1)), "command: models: cannot train this genome: objective score is NaN at epoch 1"
		}
		gs = append(gs, g)
	}
	final := &gahpo.FinalTraining{GenomeID: 6, Params: gs[5].Params, TestLoss: gahpo.Float(math.NaN()), Worker: "w1", Duration: 2 * time.Second, Finished: start.Add(time.Minute),
		Curve: []gahpo.EpochReport{
			{Epoch: 1, Metrics: map[string]gahpo.Float{"score": 0.8, "val_loss": 0.2}},
			{Epoch: 2, Metrics: map[string]gahpo.Float{"score": 0.9125, "val_loss": 0.0875}}}}
	return &Snapshot{Run: gahpo.Run{ID: "r", Config: rc, Params: []string{"x"}, Status: gahpo.RunDone, Best: 6, Started: start, Ended: start.Add(time.Minute)},
		Genomes: gs, Final: final, Taken: start.Add(time.Hour)}
}

// TestOneEpochProblemFileReport: a one-epoch search has no learning curve
// to draw (a point per genome): the figure says why instead; a problem
// file's final objective is on the page and in a figure of its own; the
// failed genomes' causes are on the page, grouped with their counts.
func TestOneEpochProblemFileReport(t *testing.T) {
	s := problemFileRun()
	figs := map[string]Figure{}
	for _, f := range Figures(s, Options{}) {
		figs[f.Name] = f
	}
	if f := figs["learning-curves"]; f.Plot != nil || !strings.Contains(f.Missing, "one epoch") {
		t.Errorf("learning curves of one-epoch genomes: drawn %v, missing %q; want not drawn, saying every genome trained one epoch", f.Plot != nil, f.Missing)
	}
	if f, ok := figs["final-objective"]; !ok || f.Plot == nil {
		t.Errorf("final-objective: present %v, missing %q; want the final training's score drawn", ok, f.Missing)
	} else {
		if !strings.Contains(f.Plot.Title.Text, "score 0.9125") {
			t.Errorf("final-objective's title %q does not give the final score", f.Plot.Title.Text)
		}
		b, err := f.PNG()
		if err != nil {
			t.Fatal(err)
		}
		checkPNG(t, f.Name, b, int(f.W.Dots(96)), int(f.H.Dots(96)))
	}

	page, err := newPage(s, nil, true).exec("content")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"score 0.9125 at its last epoch (the objective, maximised); no model kept (its training wrote none)",
		"Failed: 3 of 6 trained genomes. By cause",
		"<tr><td>2</td><td class=\"l\">RuntimeError: CUDA out of memory. Tried to allocate 955 MiB</td><td>2</td></tr>",
		"<tr><td>1</td><td class=\"l\">objective score is NaN at epoch 1</td><td>3</td></tr>",
	} {
		if !strings.Contains(string(page), want) {
			t.Errorf("page lacks %q", want)
		}
	}
	if strings.Contains(string(page), "test loss -") {
		t.Error("page says \"test loss -\" for a problem file's final training, which has its objective instead")
	}
}

// TestAxesOfOnePoint: a final training of one epoch gets a loss axis
// around its value, not gonum's one each way (below zero), and a fitness
// axis leaves a margin beyond its best and worst values.
func TestAxesOfOnePoint(t *testing.T) {
	s := problemFileRun()
	s.Final.Curve = s.Final.Curve[:1]
	p, err := FinalLoss(s)
	if err != nil {
		t.Fatal(err)
	}
	if !(p.Y.Min > 0 && p.Y.Min < 0.2 && p.Y.Max > 0.2) || !(p.X.Min < 1 && p.X.Max > 1) {
		t.Errorf("one epoch's loss 0.2: axes x %v..%v, y %v..%v; want both around the point, y above zero", p.X.Min, p.X.Max, p.Y.Min, p.Y.Max)
	}
	a := newFitAxis([]float64{1, 2, 3}, false, false)
	p, err = BestSoFar(s, false)
	if err != nil {
		t.Fatal(err)
	}
	a.apply(&p.Y)
	if !(p.Y.Min < 1 && p.Y.Max > 3) {
		t.Errorf("fitness 1..3: axis %v..%v, want a margin each way", p.Y.Min, p.Y.Max)
	}
}
