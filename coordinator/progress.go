package coordinator

import (
	"fmt"
	"io"
	"math"
	"strings"
	"sync"
	"time"

	"github.com/gahpo/gahpo"
)

// progress draws one line per generation on a terminal: a bar with done,
// running and queued counts and the ETA, rewritten in place.
// Without a bar (not a terminal), it prints only a line per finished
// generation.
type progress struct {
	mu   sync.Mutex
	w    io.Writer
	bar  bool
	last string
}

func newProgress(w io.Writer, bar bool) *progress { return &progress{w: w, bar: bar} }

func (c *Coordinator) drawProgress() {
	if c.progress == nil || !c.progress.bar { // no bar: nothing to draw, no status to build
		return
	}
	st := c.Status()
	c.progress.draw(st)
}

func (p *progress) draw(st gahpo.Status) {
	if !p.bar {
		return
	}
	var line string
	switch {
	case st.State == gahpo.RunRunning && (st.Fidelity == gahpo.FidelityHalving || st.Breeding == gahpo.BreedingSteadyState):
		line = fmt.Sprintf("genomes %d/%d bred, %d training, %d queued", st.Bred, st.Budget, st.InFlight, st.Queued)
		if len(st.Rungs) > 0 {
			parts := make([]string, len(st.Rungs))
			for i, n := range st.Rungs {
				parts[i] = fmt.Sprint(n)
			}
			line += ", results per rung " + strings.Join(parts, "/")
		}
		if st.Best != nil && !math.IsInf(float64(st.Best.Fitness), 0) {
			line += fmt.Sprintf(", best %.4g at %d epochs", float64(st.Best.Fitness), st.Best.Epochs)
		}
		if st.RunETA > 0 {
			line += fmt.Sprintf(", ETA %s", roundDur(st.RunETA))
		}
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
			line += fmt.Sprintf(", ETA gen %s run %s", roundDur(st.GenETA), roundDur(st.RunETA))
		}
		if st.Best != nil && !math.IsInf(float64(st.Best.Fitness), 0) {
			line += fmt.Sprintf(", best %.4g", float64(st.Best.Fitness))
		}
	case st.State == gahpo.RunFinal:
		line = "final training of the best genome"
		if n := len(st.Final); n > 0 {
			e := st.Final[n-1]
			line += fmt.Sprintf(": epoch %d, test loss %.4f", e.Epoch, float64(e.TestLoss))
			if e.TestAccuracy > 0 {
				line += fmt.Sprintf(", accuracy %.2f%%", 100*e.TestAccuracy)
			}
		}
	default:
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if line == p.last {
		return
	}
	pad := max(len(p.last)-len(line), 0)
	fmt.Fprintf(p.w, "\r%s%s", line, strings.Repeat(" ", pad))
	p.last = line
}

func (p *progress) generationDone(sum gahpo.GenerationSummary) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, "\r%s\rgeneration %d done: best genome %d fitness %.5g, median %.5g, mean %.5g, failed %d\n",
		strings.Repeat(" ", len(p.last)), sum.Generation+1, sum.Best, float64(sum.Fitness), float64(sum.Median), float64(sum.Mean), sum.Failed)
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

func roundDur(d time.Duration) time.Duration {
	switch {
	case d > time.Minute:
		return d.Round(time.Second)
	case d > time.Second:
		return d.Round(100 * time.Millisecond)
	}
	return d.Round(time.Millisecond)
}

// finalEpoch prints a slow epoch of the final training when there is no
// bar to show it.
func (p *progress) finalEpoch(e gahpo.EpochMetrics) {
	if p.bar || e.Duration < time.Second {
		return // quick epochs need no progress report
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	line := fmt.Sprintf("final training epoch %d: train loss %.4f, test loss %.4f", e.Epoch, float64(e.TrainLoss), float64(e.TestLoss))
	if e.TestAccuracy > 0 {
		line += fmt.Sprintf(", test accuracy %.2f%%", 100*e.TestAccuracy)
	}
	fmt.Fprintf(p.w, "%s (%s)\n", line, roundDur(e.Duration))
}
