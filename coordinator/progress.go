package coordinator

import (
	"fmt"
	"io"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/gahpo/gahpo"
	"github.com/gahpo/gahpo/report"
)

// progress draws one line per generation on a terminal: a bar with done,
// running and queued counts and the ETA, rewritten in place.
// Without a bar (not a terminal, a log file), it prints a line per
// finished generation and, in a steady-state or multi-fidelity run (which
// has no generations to finish), the bar's line as a plain line at most
// once per plainEvery when it changed.
type progress struct {
	mu      sync.Mutex
	w       io.Writer
	bar     bool
	last    string    // the bar on screen
	plain   string    // the last plain line
	plainAt time.Time // when it was printed
	every   time.Duration
}

// plainEvery is the least time between two plain progress lines.
const plainEvery = time.Minute

func newProgress(w io.Writer, bar bool) *progress {
	return &progress{w: w, bar: bar, every: plainEvery}
}

func (c *Coordinator) drawProgress() {
	if c.progress == nil || !c.progress.due(time.Now()) { // nothing to draw: no status to build
		return
	}
	c.progress.draw(c.Status(), time.Now())
}

// due tells whether a line may be drawn at now.
func (p *progress) due(now time.Time) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.bar || p.plainAt.IsZero() || now.Sub(p.plainAt) >= p.every
}

func (p *progress) draw(st gahpo.Status, now time.Time) {
	line := progressLine(st)
	if line == "" {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.bar {
		if st.State != gahpo.RunRunning || !st.Continuous() || line == p.plain || (!p.plainAt.IsZero() && now.Sub(p.plainAt) < p.every) {
			return // generations and the final training print their own lines
		}
		fmt.Fprintf(p.w, "%s %s\n", now.UTC().Format(time.TimeOnly), line)
		p.plain, p.plainAt = line, now
		return
	}
	if line == p.last {
		return
	}
	pad := max(len(p.last)-len(line), 0)
	fmt.Fprintf(p.w, "\r%s%s", line, strings.Repeat(" ", pad))
	p.last = line
}

// progressLine is the bar's text for st ("" when there is none).
func progressLine(st gahpo.Status) string {
	var line string
	switch {
	case st.State == gahpo.RunRunning && st.Continuous():
		line = fmt.Sprintf("genomes %d/%d bred, %d training, %d queued", st.Bred, st.Budget, st.InFlight, st.Queued)
		if st.Fidelity == gahpo.FidelityPBT {
			line = fmt.Sprintf("genomes %d (%d replacements), %d training, %d queued", st.Bred, max(st.Bred-st.Population, 0), st.InFlight, st.Queued)
		}
		if len(st.Rungs) > 0 {
			parts := make([]string, len(st.Rungs))
			for i, n := range st.Rungs {
				parts[i] = fmt.Sprint(n)
			}
			line += ", results per rung " + strings.Join(parts, "/")
		}
		switch b := st.Best; {
		case b != nil && b.ConfirmedFitness != nil && !math.IsInf(float64(*b.ConfirmedFitness), 0):
			line += fmt.Sprintf(", best genome %d: %s%.4g mean of %d trainings at %s", b.GenomeID, shownPrefix(st), float64(st.Shown(*b.ConfirmedFitness)), b.Seeds, epochs(b.Epochs))
		case b != nil && !math.IsInf(float64(b.Fitness), 0):
			line += fmt.Sprintf(", best %s%.4g at %s", shownPrefix(st), float64(st.Shown(b.Fitness)), epochs(b.Epochs))
		}
		if st.Confirming > 0 {
			line += fmt.Sprintf(", confirming the best on other seeds: %d trainings left", st.Confirming)
		}
		line += etaText(st, ", ETA %s")
	case st.State == gahpo.RunRunning:
		const width = 30
		done := 0
		if st.Population > 0 {
			done = st.Done * width / st.Population
		}
		running := 0
		if st.Population > 0 {
			running = st.InFlight * width / st.Population
		}
		bar := strings.Repeat("#", done) + strings.Repeat(">", running)
		bar += strings.Repeat(".", max(width-len(bar), 0))
		line = fmt.Sprintf("gen %d/%d [%s] %d/%d done, %d running, %d queued", st.Generation, st.Generations, bar, st.Done, st.Population, st.InFlight, st.Queued)
		if st.Failed > 0 {
			line += fmt.Sprintf(", %d failed", st.Failed)
		}
		if st.GenETA > 0 {
			line += fmt.Sprintf(", ETA gen %s", report.Duration(st.GenETA))
			line += etaText(st, " run %s")
		} else {
			line += etaText(st, ", ETA run %s")
		}
		if st.Best != nil && !math.IsInf(float64(st.Best.Fitness), 0) {
			line += fmt.Sprintf(", best %s%.4g", shownPrefix(st), float64(st.Shown(st.Best.Fitness)))
		}
	case st.State == gahpo.RunFinal:
		line = "final training of the best genome"
		if n := len(st.Final); n > 0 {
			e := st.Final[n-1]
			line += fmt.Sprintf(": epoch %d", e.Epoch)
			if v, ok := st.FinalObjective[e.Epoch]; ok && st.Objective != "" {
				line += fmt.Sprintf(", %s %.4g", st.Objective, float64(v))
			}
			if !math.IsNaN(float64(e.TestLoss)) && st.Objective != "test_loss" {
				line += fmt.Sprintf(", test loss %.4f", float64(e.TestLoss))
			}
			if e.TestAccuracy > 0 {
				line += fmt.Sprintf(", accuracy %.2f%%", 100*e.TestAccuracy)
			}
		}
		line += etaText(st, ", ETA %s")
	}
	return line
}

// shownPrefix names a maximised objective before its value on the bar
// ("val_acc "), and nothing before a fitness, as the bar always showed it.
func shownPrefix(st gahpo.Status) string {
	if n := st.ShownName(); n != "fitness" {
		return n + " "
	}
	return ""
}

// etaText formats the run's ETA with format, or says why there is none;
// "" when the run has nothing left to estimate.
func etaText(st gahpo.Status, format string) string {
	switch {
	case st.RunETA > 0:
		return fmt.Sprintf(format, report.Duration(st.RunETA))
	case st.NoETA != "":
		return ", no ETA yet: " + st.NoETA
	}
	return ""
}

// epochs says n epochs in words: "1 epoch", "3 epochs".
func epochs(n int) string {
	if n == 1 {
		return "1 epoch"
	}
	return fmt.Sprintf("%d epochs", n)
}

// generationDone prints a summary as it comes: a generation's, judged on
// its first rung under halving (the rung its genomes all reached), or a
// population based training's rung's.
func (p *progress) generationDone(sum gahpo.GenerationSummary, rc gahpo.RunConfig) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.last != "" { // clear the bar
		fmt.Fprintf(p.w, "\r%s\r", strings.Repeat(" ", len(p.last)))
	}
	what := fmt.Sprintf("generation %d done", sum.Generation+1)
	switch rungs := rc.RungEpochs(); {
	case rc.PBT() && sum.Generation < len(rungs):
		what = fmt.Sprintf("rung %d done (%s)", sum.Generation, epochs(rungs[sum.Generation])) // from 0, as in the JSON
	case rc.Halving():
		what += fmt.Sprintf(" (its first rung, %s)", epochs(rungs[0]))
	}
	fmt.Fprintf(p.w, "%s: best genome %d %s %.5g, median %.5g, mean %.5g, failed %d\n",
		what, sum.Best, rc.ShownName(), float64(rc.Shown(sum.Fitness)), float64(rc.Shown(sum.Median)), float64(rc.Shown(sum.Mean)), sum.Failed)
	p.last = ""
}

func (p *progress) finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.last != "" {
		fmt.Fprintln(p.w)
		p.last = ""
	}
}

// finalEpoch prints a slow epoch of the final training when there is no
// bar to show it: the objective of a problem file's run (the run's
// objective names it), and the losses and accuracy the training measured
// (a problem file's trainer may report none of them).
func (p *progress) finalEpoch(e gahpo.EpochMetrics, rep *gahpo.EpochReport, objective string) {
	if p.bar || e.Duration < time.Second {
		return // quick epochs need no progress report
	}
	var parts []string
	if v, ok := objectiveOf(rep, objective); ok {
		parts = append(parts, fmt.Sprintf("%s %.4g", objective, float64(v)))
	}
	if v := float64(e.TrainLoss); !math.IsNaN(v) && objective != "train_loss" {
		parts = append(parts, fmt.Sprintf("train loss %.4f", v))
	}
	if v := float64(e.TestLoss); !math.IsNaN(v) && objective != "test_loss" {
		parts = append(parts, fmt.Sprintf("test loss %.4f", v))
	}
	if e.TestAccuracy > 0 {
		parts = append(parts, fmt.Sprintf("test accuracy %.2f%%", 100*e.TestAccuracy))
	}
	line := fmt.Sprintf("final training epoch %d", e.Epoch)
	if len(parts) > 0 {
		line += ": " + strings.Join(parts, ", ")
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, "%s (%s)\n", line, report.Duration(e.Duration))
}
