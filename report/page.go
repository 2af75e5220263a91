package report

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"html/template"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gahpo/gahpo"
)

//go:embed page.html
var pageHTML string

var pageTmpl = template.Must(template.New("page").Funcs(template.FuncMap{
	"fit": fmtFit,
	// shown: a fitness as the run's users read it (a maximised objective
	// in its own sign), under the name shownName gives.
	"shown":     func(rc gahpo.RunConfig, f gahpo.Float) string { return fmtFit(rc.Shown(f)) },
	"shownName": func(rc gahpo.RunConfig) string { return rc.ShownName() },
	"params":    FormatParams,
	"pct": func(v float64) string {
		if v <= 0 {
			return "-"
		}
		return fmt.Sprintf("%.2f%%", 100*v)
	},
	"duration":      Duration,
	"finalWorkers":  FinalWorkers,
	"finalDuration": func(f gahpo.FinalTraining) string { return FinalDuration(f, Duration) },
	"epochs":        newEpochTable,
	"header":        func(metric string) string { return strings.ReplaceAll(metric, "_", " ") },
	"when": func(t time.Time) string {
		if t.IsZero() {
			return "-"
		}
		return t.UTC().Format("2006-01-02 15:04:05 UTC")
	},
	"deref":     func(f *gahpo.Float) gahpo.Float { return *f },
	"shape":     Shape,
	"method":    Method,
	"objective": ObjectiveText,
	"shq":       ShellQuote,
}).Parse(pageHTML))

// page is what the template shows.
type page struct {
	S      *Snapshot
	Config string
	Gens   []GenStats
	// Confirmed are the genomes confirmed on more seeds, if any.
	Confirmed []Confirmed
	Figures   []Figure
	Counts    counts
	Wall      time.Duration
	Training  time.Duration
	Live      bool   // served by Handler: the page follows updates
	Version   string // changes with every new result
	// Ended: the run is over (done or failed); nothing more will change.
	Ended bool
	// Interrupted: the run has not ended but no coordinator is at work on
	// it (Snapshot.Offline); LastActivity is when it last stored a result,
	// where its wall time stops.
	Interrupted  bool
	LastActivity time.Time
	// Gone, on a dashboard, says since when and why its source (a
	// coordinator) no longer answers: the page shows what it last did.
	Gone *goneInfo
	// FinalETA: the run's ETA includes a final training still to come
	// or under way.
	FinalETA bool
	// Stop says why the run stopped breeding, Spent what it spent (see
	// StopText and SpentText), Shortfall why it confirmed fewer genomes
	// than asked (ConfirmShortfall); each "" when there is nothing to say.
	Stop, Spent, Shortfall string
	// FinalResult is what the final training measured: a problem file's
	// objective, the test loss and accuracy (see finalResult).
	FinalResult string
	// LiveFinal lists the epochs a final training under way has reported
	// so far (the coordinator's status), before it is stored: a problem
	// file's objective first, then the test loss and accuracy; no rows
	// when there is none, or the final training is stored.
	LiveFinal epochTable
	// Failures groups the failed genomes by cause, FailureHead says how
	// many failed of how many trained (see FailureGroups).
	Failures    []FailureGroup
	FailureHead string
	// Accuracy: some genome of the run has an accuracy (Accuracy
	// above 0), which the table of the best genomes then shows; a
	// problem that measures none (regression, a problem file's
	// trainer) has no such column.
	Accuracy bool
}

type counts struct {
	Genomes, Evaluated, Trained, Failed, Duplicates, Queued int
	// Stopped counts a population based training's genomes whose place
	// was taken (GenomeStatus), failures left out.
	Stopped int
	Workers []string
}

func newPage(s *Snapshot, figs []Figure, live bool) page {
	pg := page{S: s, Config: configText(s.Run.Config), Gens: RunStats(s.Run, s.Genomes), Confirmed: Confirmations(s.Run, s.Genomes), Figures: figs, Live: live, Version: Version(s),
		Ended:    s.Run.Status == gahpo.RunDone || s.Run.Status == gahpo.RunFailed,
		FinalETA: s.Run.Status == gahpo.RunFinal || !s.Run.Config.MultiFidelity() && s.Run.Config.FinalEpochs > 0, // a halving run in state final trains its best again
		Stop:     StopText(s.Run.StoppedBy, s.Run.Config), Spent: SpentText(s.Run, s.Genomes), Shortfall: ConfirmShortfall(s.Run.Config, s.Genomes)}
	for _, g := range s.Genomes {
		pg.Counts.Genomes++
		switch {
		case !g.Evaluated():
			pg.Counts.Queued++
			continue
		case g.Status == gahpo.GenomeDuplicate:
			pg.Counts.Duplicates++
		case failed(g):
			pg.Counts.Failed++
		case GenomeStatus(g) == "stopped":
			pg.Counts.Stopped++
		}
		pg.Counts.Evaluated++
		if g.Status != gahpo.GenomeDuplicate {
			pg.Counts.Trained++
			pg.Training += g.Duration
		}
		pg.Accuracy = pg.Accuracy || g.Accuracy > 0
		if g.Worker != "" && !slices.Contains(pg.Counts.Workers, g.Worker) {
			pg.Counts.Workers = append(pg.Counts.Workers, g.Worker)
		}
	}
	slices.Sort(pg.Counts.Workers)
	if s.Final != nil {
		pg.FinalResult = finalResult(s.Run.Config, s.Final)
	} else if s.Status != nil && !pg.Ended {
		pg.LiveFinal = liveFinalTable(s.Status)
	}
	var trained int
	if pg.Failures, trained = FailureGroups(s.Genomes); len(pg.Failures) > 0 {
		head := failureHeadline(s.Run, pg.Failures, trained)
		pg.FailureHead = strings.ToUpper(head[:1]) + head[1:] // "Failed: ..."
	}
	end := s.Run.Ended
	if end.IsZero() {
		end = s.Taken
	}
	if !pg.Ended && s.Offline {
		pg.Interrupted, pg.LastActivity = true, s.LastActivity()
		end = pg.LastActivity // not the time it has lain since
	}
	if !s.Run.Started.IsZero() {
		pg.Wall = end.Sub(s.Run.Started) // Duration rounds it as its length asks
	}
	return pg
}

// Version identifies the state of a snapshot: it changes when a genome is
// bred or evaluated (or trained to another rung, or one of its
// confirmation trainings is), the final training is stored or the run's
// status changes.
func Version(s *Snapshot) string {
	ev := 0
	for _, g := range s.Genomes {
		if g.Evaluated() {
			ev++
		}
		ev += len(g.RungFitness) // a promoted genome's result at the next rung
		for _, r := range g.Replicates {
			if r.Status != gahpo.GenomeQueued {
				ev++
			}
		}
	}
	fin := 0
	if s.Final != nil {
		fin = len(s.Final.Epochs) + len(s.Final.Curve) + 1
	}
	v := fmt.Sprintf("%d-%d-%d-%s", len(s.Genomes), ev, fin, s.Run.Status)
	if s.Status != nil {
		v += fmt.Sprintf("-%d-%d-%d", s.Status.InFlight, len(s.Status.Final), s.Status.Generation)
	}
	return v
}

// render executes the page template, or only its content with fragment.
func (pg page) render() ([]byte, error) { return pg.exec("page") }

func (pg page) exec(name string) ([]byte, error) {
	var b bytes.Buffer
	if err := pageTmpl.ExecuteTemplate(&b, name, pg); err != nil {
		return nil, fmt.Errorf("report: page: %w", err)
	}
	return b.Bytes(), nil
}

// Write draws the report of the source's run into dir: a PNG per figure and
// index.html, which references only those files. It returns the figures.
func Write(ctx context.Context, src Source, dir string, opt Options) ([]Figure, error) {
	s, err := src.Snapshot(ctx)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	figs := Figures(s, opt)
	for _, f := range figs {
		if f.Plot == nil {
			continue
		}
		b, err := f.PNG()
		if err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(dir, f.File()), b, 0o644); err != nil {
			return nil, fmt.Errorf("report: %w", err)
		}
	}
	html, err := newPage(s, figs, false).render()
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "index.html"), html, 0o644); err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	return figs, nil
}

// finalResult says what a final training measured: a problem file's
// objective at its last epoch, the test loss (when finite, or when nothing
// else is known) and the test accuracy.
func finalResult(rc gahpo.RunConfig, f *gahpo.FinalTraining) string {
	var parts []string
	if v, ok := finalObjective(rc, f); ok {
		goal := "minimised"
		if rc.Maximize {
			goal = "maximised"
		}
		parts = append(parts, fmt.Sprintf("%s %s at its last epoch (the objective, %s)", rc.Objective, fmtFit(gahpo.Float(v)), goal))
	}
	if rc.Objective != "test_loss" && (finite(float64(f.TestLoss)) || len(parts) == 0) {
		parts = append(parts, "test loss "+fmtFit(f.TestLoss))
	}
	if f.TestAccuracy > 0 {
		parts = append(parts, fmt.Sprintf("test accuracy %.2f%%", 100*f.TestAccuracy))
	}
	return strings.Join(parts, ", ")
}

func fmtFit(f gahpo.Float) string {
	v := float64(f)
	switch {
	case math.IsNaN(v):
		return "-"
	case math.IsInf(v, 0):
		return "failed"
	}
	return strconv.FormatFloat(v, 'g', 5, 64)
}

// FormatParams prints hyperparameters as name=value, sorted by name, four
// significant digits (an integer whole: 123456, not 1.235e+05, which
// --enqueue would take for another genome), a choice by its value where
// choices name it.
func FormatParams(p map[string]float64, choices ...map[string]string) string {
	keys := make([]string, 0, len(p))
	for k := range p {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		v := p[k]
		if v == math.Trunc(v) && math.Abs(v) < 1<<53 {
			parts[i] = k + "=" + strconv.FormatFloat(v, 'f', -1, 64)
		} else {
			parts[i] = k + "=" + strconv.FormatFloat(v, 'g', 4, 64)
		}
		for _, c := range choices {
			if v, ok := c[k]; ok {
				parts[i] = k + "=" + v // a choice by its value
			}
		}
	}
	return strings.Join(parts, " ")
}

// epochTable is the final training's table: a column per metric its
// epochs reported (the CNN's lr, losses and accuracy; a problem file's
// command's own), a row per epoch, at most maxEpochRows evenly spaced
// (spacedRow).
type epochTable struct {
	Cols []string
	Rows []epochRow
	All  int // epochs recorded
}

type epochRow struct {
	Epoch    int
	Vals     []string
	Duration time.Duration
}

// metricOrder puts the CNN's columns first, in their usual order, then the
// rest by name.
var metricOrder = []string{"lr", "train_loss", "val_loss", "val_accuracy", "test_loss", "test_accuracy"}

// maxEpochRows is the most rows an epochTable shows.
const maxEpochRows = 15

// spacedRow is the epoch, of all, that row i of an epochTable shows: the
// i-th, or with more than maxEpochRows epochs, maxEpochRows evenly spaced,
// the first and the last included.
func spacedRow(i, all int) int {
	if all <= maxEpochRows {
		return i
	}
	return i * (all - 1) / (maxEpochRows - 1)
}

func newEpochTable(f *gahpo.FinalTraining) epochTable {
	curve := f.Curve
	if len(curve) == 0 { // a final training stored before curves: its fixed metrics
		for _, e := range f.Epochs {
			curve = append(curve, gahpo.EpochReport{Epoch: e.Epoch, Duration: e.Duration, Metrics: map[string]gahpo.Float{
				"lr": gahpo.Float(e.LR), "train_loss": e.TrainLoss, "test_loss": e.TestLoss, "test_accuracy": gahpo.Float(e.TestAccuracy)}})
		}
	}
	seen := map[string]bool{}
	for _, e := range curve {
		for k := range e.Metrics {
			seen[k] = true
		}
	}
	var t epochTable
	for _, k := range metricOrder {
		if seen[k] {
			t.Cols = append(t.Cols, k)
			delete(seen, k)
		}
	}
	t.Cols = append(t.Cols, slices.Sorted(maps.Keys(seen))...)
	t.All = len(curve)
	for i := range min(maxEpochRows, len(curve)) {
		e := curve[spacedRow(i, len(curve))]
		row := epochRow{Epoch: e.Epoch, Duration: e.Duration}
		for _, k := range t.Cols {
			v, ok := e.Metrics[k]
			switch {
			case !ok || math.IsNaN(float64(v)):
				row.Vals = append(row.Vals, "-")
			case strings.HasSuffix(k, "accuracy") && v >= 0 && v <= 1:
				row.Vals = append(row.Vals, fmt.Sprintf("%.2f%%", 100*float64(v)))
			default:
				row.Vals = append(row.Vals, strconv.FormatFloat(float64(v), 'g', 5, 64))
			}
		}
		t.Rows = append(t.Rows, row)
	}
	return t
}

// liveFinalTable is the table of the epochs st's final training has
// reported, at most 15 evenly spaced: the run's objective as its trainer reported it (a problem
// file's; a built-in problem's is the test loss, a column already), the
// test loss and the accuracy where reported, the duration.
func liveFinalTable(st *gahpo.Status) epochTable {
	var t epochTable
	if len(st.Final) == 0 {
		return t
	}
	objective := st.Objective != "" && st.Objective != "test_loss" && len(st.FinalObjective) > 0
	var loss, acc bool
	for _, e := range st.Final {
		loss = loss || !math.IsNaN(float64(e.TestLoss))
		acc = acc || e.TestAccuracy > 0
	}
	if objective {
		t.Cols = append(t.Cols, st.Objective)
	}
	if loss {
		t.Cols = append(t.Cols, "test_loss")
	}
	if acc {
		t.Cols = append(t.Cols, "test_accuracy")
	}
	num := func(v gahpo.Float) string {
		if math.IsNaN(float64(v)) {
			return "-"
		}
		return strconv.FormatFloat(float64(v), 'g', 5, 64)
	}
	t.All = len(st.Final)
	for i := range min(maxEpochRows, len(st.Final)) { // as the stored final's table
		e := st.Final[spacedRow(i, len(st.Final))]
		row := epochRow{Epoch: e.Epoch, Duration: e.Duration}
		if objective {
			v, ok := st.FinalObjective[e.Epoch]
			if !ok {
				v = gahpo.Float(math.NaN())
			}
			row.Vals = append(row.Vals, num(v))
		}
		if loss {
			row.Vals = append(row.Vals, num(e.TestLoss))
		}
		if acc {
			a := "-"
			if e.TestAccuracy > 0 {
				a = fmt.Sprintf("%.2f%%", 100*e.TestAccuracy)
			}
			row.Vals = append(row.Vals, a)
		}
		t.Rows = append(t.Rows, row)
	}
	return t
}

// configText prints a run's configuration as JSON, its lease in seconds.
func configText(c gahpo.RunConfig) string {
	b, _ := json.Marshal(c)
	var m map[string]any
	if json.Unmarshal(b, &m) != nil {
		return string(b)
	}
	delete(m, "ack_wait")
	m["ack_wait_s"] = c.AckWait.Seconds()
	out, _ := json.MarshalIndent(m, "", "  ")
	return string(out)
}
