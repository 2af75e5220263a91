package report

import (
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"gonum.org/v1/plot"

	"github.com/gahpo/gahpo"
)

// maximisedRun is problemFileRun (score maximised, genomes 2, 3 and 5
// failed) and a third generation: scores 0.7 and 0.72, and a genome whose
// score is far below every other (-1000), off the scale.
func maximisedRun() *Snapshot {
	s := problemFileRun()
	s.Run.Config.GA.Generations = 3
	start := s.Run.Started
	for i, score := range []float64{0.7, 0.72, -1000} {
		id := 7 + i
		s.Genomes = append(s.Genomes, gahpo.GenomeRecord{ID: id, Generation: 2, Params: map[string]float64{"x": float64(id) / 10}, Status: gahpo.GenomeDone,
			Fitness: gahpo.Float(-score), Epochs: 1, Finished: start.Add(time.Duration(id) * time.Second), Duration: time.Second})
	}
	return s
}

// TestFiguresShowAMaximisedObjectiveInItsSign: every figure of a run's
// fitness draws a maximised objective as its trainer reports it (score
// 0.75, not -0.75), on an axis named by it, the higher the better: its
// failed genomes' row and the genomes far worse than the rest below the
// values, the best so far the highest so far.
func TestFiguresShowAMaximisedObjectiveInItsSign(t *testing.T) {
	s := maximisedRun()
	figs := map[string]Figure{}
	for _, f := range Figures(s, Options{}) {
		figs[f.Name] = f
	}
	for _, name := range []string{"best-boxes", "best-so-far", "best-so-far-time", "param-x-vs-fitness"} {
		t.Run(name, func(t *testing.T) {
			f := figs[name]
			if f.Plot == nil {
				t.Fatalf("not drawn: %s", f.Missing)
			}
			p := f.Plot
			for _, text := range []string{p.Y.Label.Text, p.Title.Text, f.Caption} {
				if strings.HasPrefix(text, "The same") {
					continue // best-so-far-time's caption: best-so-far's against time
				}
				if !strings.Contains(text, "score") || strings.Contains(text, "−") || strings.Contains(text, "negated") || strings.Contains(text, "itness") {
					t.Errorf("%q does not name the objective, score, alone", text)
				}
			}
			if p.Y.Max < 0.75 || p.Y.Min < 0.3 {
				t.Errorf("y axis %v..%v, want the scores 0.5..0.75 on it, in their own sign", p.Y.Min, p.Y.Max)
			}
			lowest, rows := math.Inf(1), map[string]float64{}
			for _, tk := range p.Y.Tick.Marker.Ticks(p.Y.Min, p.Y.Max) {
				if v, err := strconv.ParseFloat(tk.Label, 64); err == nil {
					lowest = min(lowest, v)
				} else if tk.Label != "" {
					rows[tk.Label] = tk.Value
				}
			}
			if y, ok := rows["failed"]; name != "best-boxes" && (!ok || y >= lowest) { // the best 30% have none failed
				t.Errorf("rows %v, values from %v: want the failed genomes' row below the values", rows, lowest)
			}
			if y, ok := rows["lower ↓"]; name != "best-boxes" && (!ok || y >= lowest || y <= rows["failed"]) {
				t.Errorf("rows %v, values from %v: want the row of score -1000, lower ↓, below the values, above failed", rows, lowest)
			}
		})
	}
	gs := trained(s)
	line := bestSoFarLine(s, gs, func(i int) float64 { return float64(i + 1) })
	if len(line) == 0 || line[0].Y != 0.5 || line[len(line)-1].Y != 0.75 {
		t.Errorf("best so far %v, want from score 0.5 to 0.75", line)
	}
	for i := 1; i < len(line); i++ {
		if line[i].Y < line[i-1].Y {
			t.Errorf("best so far %v goes down at %v", line, line[i])
		}
	}

	f := figs["parallel"]
	if f.Plot == nil {
		t.Fatalf("parallel not drawn: %s", f.Missing)
	}
	if !strings.Contains(f.Caption, "score") || !hasTick(f.Plot.X, "score", 0) {
		t.Errorf("parallel coordinates: caption %q, want its last axis named score", f.Caption)
	}
	if !hasTick(f.Plot.Y, "failed", -1) || !hasTick(f.Plot.Y, "score lower ↓", -1) {
		t.Errorf("parallel coordinates: y ticks %v, want the rows failed and score lower ↓ below the axes (the worse, the lower)", f.Plot.Y.Tick.Marker.Ticks(f.Plot.Y.Min, f.Plot.Y.Max))
	}
	for _, name := range []string{"best-boxes", "best-so-far", "best-so-far-time", "parallel", "param-x-vs-fitness"} {
		b, err := figs[name].PNG()
		if err != nil {
			t.Fatal(err)
		}
		checkPNG(t, name, b, int(figs[name].W.Dots(96)), int(figs[name].H.Dots(96)))
		if dir := os.Getenv("GAHPO_REPORT_KEEP"); dir != "" { // to look at
			if err := os.WriteFile(filepath.Join(dir, "maximised-"+figs[name].File()), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// hasTick reports whether an axis has a tick labelled label, of a value
// below 0 (sign -1) or not (0).
func hasTick(a plot.Axis, label string, sign int) bool {
	for _, tk := range a.Tick.Marker.Ticks(a.Min, a.Max) {
		if tk.Label == label && (sign < 0) == (tk.Value < 0) {
			return true
		}
	}
	return false
}
