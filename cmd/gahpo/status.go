package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	"github.com/gahpo/gahpo"
	"github.com/gahpo/gahpo/coordinator"
	"github.com/gahpo/gahpo/ga"
	"github.com/gahpo/gahpo/report"
)

func (m *Main) runStatus(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("gahpo status", flag.ContinueOnError)
	fs.SetOutput(m.Stderr)
	setUsage(fs, m.Stderr, "Usage: gahpo status --nats URL [--run ID] [--watch 2s] [--json]\n\n"+
		"Shows a running coordinator's progress: done, in flight, queued, who holds what, the ETA, the best so far.\n"+
		"A stopped run is in its history file: gahpo query runs --db FILE.")
	var nf natsFlags
	nf.register(fs, true)
	run := fs.String("run", "", "run id (default: the newest running coordinator)")
	asJSON := fs.Bool("json", false, "print JSON")
	watch := fs.Duration("watch", 0, "print again every interval until interrupted (e.g. 2s)")
	db := fs.String("db", "gahpo.db", "not read: status asks a running coordinator; gahpo query runs --db FILE reads a history file")
	if err := parseNone(fs, args); err != nil {
		return err
	}
	given := false
	fs.Visit(func(f *flag.Flag) { given = given || f.Name == "db" })
	if given {
		// The history file's view of a run is query's: status is the
		// live one (what is in flight, who holds what, the ETA).
		return fmt.Errorf("status: asks a running coordinator over NATS (--nats URL); a history file's runs are in gahpo query runs --db %s, a run's best genomes in gahpo query best --db %s, the whole of it in gahpo report --db %s --out DIR", report.ShellQuote(*db), report.ShellQuote(*db), report.ShellQuote(*db))
	}
	if nf.url == "" {
		return errors.New(`status: --nats URL is required: the NATS server of the running coordinator (gahpo run prints its own, "embedded NATS on nats://..."); a stopped run's history: gahpo query runs --db FILE`)
	}
	q, release, err := m.openQuerier(ctx, nf, "", *run)
	if err != nil {
		return err
	}
	defer release()
	for {
		var st gahpo.Status
		if err := q.query(ctx, coordinator.EndpointStatus, coordinator.QueryRequest{}, &st); err != nil {
			return err
		}
		if *asJSON {
			if err := writeJSON(m.Stdout, st, ""); err != nil {
				return err
			}
		} else {
			printStatus(m.Stdout, st)
		}
		if *watch <= 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(*watch):
		}
	}
}

// printStatus prints a running coordinator's status (gahpo status).
func printStatus(w io.Writer, st gahpo.Status) {
	fmt.Fprintln(w, statusHeadline(st))
	if st.Fault != "" {
		fmt.Fprintf(w, "  FAULT: %s\n", st.Fault)
	}
	printStatusCounts(w, st)
	if st.EpochsSpent > 0 {
		budget := ""
		if st.BudgetEpochs > 0 {
			budget = fmt.Sprintf(" of the budget of %d", st.BudgetEpochs)
		}
		fmt.Fprintf(w, "  epoch-trainings spent or under way: %d%s\n", st.EpochsSpent, budget)
	}
	if why := report.StopText(st.StoppedBy, gahpo.RunConfig{GA: ga.Config{Population: st.Population}, MaxFailures: st.MaxFailures, Fidelity: st.Fidelity}); why != "" {
		fmt.Fprintf(w, "  breeding stopped: %s\n", why)
	}
	printHolders(w, st)
	switch { // the run's ETA includes its final training; written as the dashboard writes it
	case st.GenETA > 0:
		fmt.Fprintf(w, "  ETA: generation %s, run %s\n", report.Duration(st.GenETA), report.Duration(st.RunETA))
	case st.RunETA > 0:
		fmt.Fprintf(w, "  ETA of the run: %s\n", report.Duration(st.RunETA))
	case st.NoETA != "":
		fmt.Fprintf(w, "  no ETA of the run yet: %s\n", st.NoETA)
	}
	if st.Best != nil {
		fmt.Fprintf(w, "  best so far: %s\n", statusBest(st))
	}
	for _, e := range st.Final {
		fmt.Fprintf(w, "  final epoch %d: %s\n", e.Epoch, finalEpochFigures(st, e))
	}
}

// statusHeadline is the first line of a status: the run, its problem,
// its state, and its progress as its kind of search counts it.
func statusHeadline(st gahpo.Status) string {
	switch {
	case st.Fidelity == gahpo.FidelityPBT:
		return fmt.Sprintf("run %s (%s): %s, population based training of %d genomes", st.RunID, st.Problem, st.State, st.Population)
	case st.Continuous(): // no generation to wait for: the budget and the rungs tell the progress
		return fmt.Sprintf("run %s (%s): %s, %s breeding, %s fidelity", st.RunID, st.Problem, st.State, or(st.Breeding, gahpo.BreedingGenerational), or(st.Fidelity, gahpo.FidelityOneEpoch))
	}
	return fmt.Sprintf("run %s (%s): %s, generation %d/%d", st.RunID, st.Problem, st.State, st.Generation, st.Generations)
}

// printStatusCounts prints how many genomes are done, in flight and
// queued: of the generation, or of a continuous run's budget with its
// results per rung and its confirmations.
func printStatusCounts(w io.Writer, st gahpo.Status) {
	if !st.Continuous() {
		fmt.Fprintf(w, "  %d/%d done, %d in flight, %d queued, %d failed\n", st.Done, st.Population, st.InFlight, st.Queued, st.Failed)
		return
	}
	if st.Fidelity == gahpo.FidelityPBT {
		fmt.Fprintf(w, "  %d genomes (%d took the place of one of the worst quarter), %d in flight, %d queued, %d outstanding\n", st.Bred, max(st.Bred-st.Population, 0), st.InFlight, st.Queued, st.Outstanding)
	} else {
		fmt.Fprintf(w, "  %d/%d genomes bred, %d in flight, %d queued, %d outstanding\n", st.Bred, st.Budget, st.InFlight, st.Queued, st.Outstanding)
	}
	if len(st.Rungs) > 0 {
		parts := make([]string, len(st.Rungs))
		for i, n := range st.Rungs {
			parts[i] = fmt.Sprint(n)
		}
		fmt.Fprintf(w, "  results per rung: %s\n", strings.Join(parts, " / "))
	}
	if st.Confirming > 0 {
		fmt.Fprintf(w, "  confirming the best genomes on other seeds: %d trainings left\n", st.Confirming)
	}
}

// printHolders prints a line for each training under way: who trains it,
// since when, and the epoch its curve has reached.
func printHolders(w io.Writer, st gahpo.Status) {
	curveShown := map[int]bool{} // a genome's curve is its first training's under way (Holders are sorted so)
	for _, h := range st.Holders {
		what := fmt.Sprintf("genome %d", h.GenomeID)
		if h.Replicate > 0 {
			what += fmt.Sprintf(" (confirmation training %d)", h.Replicate)
		}
		line := fmt.Sprintf("  %s on %s (attempt %d) for %s", what, h.Worker, h.Attempt, report.Duration(time.Since(h.Since)))
		if c := st.Curves[h.GenomeID]; len(c) > 0 && !curveShown[h.GenomeID] {
			curveShown[h.GenomeID] = true
			line += fmt.Sprintf(", epoch %d done", c[len(c)-1].Epoch)
		}
		fmt.Fprintln(w, line)
	}
}

// statusBest describes a status's best genome so far: where it was found,
// and its fitness, as the run shows it (its mean over the seeds, once
// confirmed), with its parameters.
func statusBest(st gahpo.Status) string {
	at := fmt.Sprintf("generation %d", st.Best.Generation)
	if st.Continuous() {
		at = fmt.Sprintf("%d %s", st.Best.Epochs, pluralS(st.Best.Epochs, "epoch", "epochs"))
	}
	name := st.ShownName()
	fitness := name + " " + fmtFloat(st.Shown(st.Best.Fitness))
	if c := st.Best.ConfirmedFitness; c != nil {
		fitness = fmt.Sprintf("mean %s %s over %d trainings (its own: %s)", name, fmtFloat(st.Shown(*c)), st.Best.Seeds, fmtFloat(st.Shown(st.Best.Fitness)))
	}
	return fmt.Sprintf("genome %d (%s) %s %s", st.Best.GenomeID, at, fitness, report.FormatParams(st.Best.Params, st.Best.Choices))
}

// finalEpochFigures is what the trainer reported of an epoch e of st's
// final training, "done" when nothing: a problem file's objective first,
// named and as its trainer reported it (a maximised one not negated).
func finalEpochFigures(st gahpo.Status, e gahpo.EpochMetrics) string {
	var figs []string
	if v, ok := st.FinalObjective[e.Epoch]; ok && st.Objective != "" {
		figs = append(figs, st.Objective+" "+fmtFloat(v))
	}
	if v := float64(e.TestLoss); !math.IsNaN(v) && st.Objective != "test_loss" {
		figs = append(figs, "test loss "+fmtFloat(e.TestLoss))
	}
	if e.TestAccuracy > 0 {
		figs = append(figs, fmt.Sprintf("accuracy %.2f%%", 100*e.TestAccuracy))
	}
	return or(strings.Join(figs, ", "), "done")
}

// or returns s, or def when s is empty.
func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
