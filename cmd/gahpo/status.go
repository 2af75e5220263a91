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
		return errors.New("status: --nats URL is required")
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

func printStatus(w io.Writer, st gahpo.Status) {
	continuous := st.Continuous()
	pbt := st.Fidelity == gahpo.FidelityPBT
	switch {
	case pbt:
		fmt.Fprintf(w, "run %s (%s): %s, population based training of %d genomes\n", st.RunID, st.Problem, st.State, st.Population)
	case continuous: // no generation to wait for: the budget and the rungs tell the progress
		fmt.Fprintf(w, "run %s (%s): %s, %s breeding, %s fidelity\n", st.RunID, st.Problem, st.State, or(st.Breeding, gahpo.BreedingGenerational), or(st.Fidelity, gahpo.FidelityOneEpoch))
	default:
		fmt.Fprintf(w, "run %s (%s): %s, generation %d/%d\n", st.RunID, st.Problem, st.State, st.Generation, st.Generations)
	}
	if st.Fault != "" {
		fmt.Fprintf(w, "  FAULT: %s\n", st.Fault)
	}
	if continuous {
		if pbt {
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
	} else {
		fmt.Fprintf(w, "  %d/%d done, %d in flight, %d queued, %d failed\n", st.Done, st.Population, st.InFlight, st.Queued, st.Failed)
	}
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
	switch { // the run's ETA includes its final training; written as the dashboard writes it
	case st.GenETA > 0:
		fmt.Fprintf(w, "  ETA: generation %s, run %s\n", report.Duration(st.GenETA), report.Duration(st.RunETA))
	case st.RunETA > 0:
		fmt.Fprintf(w, "  ETA of the run: %s\n", report.Duration(st.RunETA))
	case st.NoETA != "":
		fmt.Fprintf(w, "  no ETA of the run yet: %s\n", st.NoETA)
	}
	if st.Best != nil {
		at := fmt.Sprintf("generation %d", st.Best.Generation)
		if continuous {
			at = fmt.Sprintf("%d epochs", st.Best.Epochs)
		}
		name := st.ShownName()
		fitness := name + " " + fmtFloat(st.Shown(st.Best.Fitness))
		if c := st.Best.ConfirmedFitness; c != nil {
			fitness = fmt.Sprintf("mean %s %s over %d trainings (its own: %s)", name, fmtFloat(st.Shown(*c)), st.Best.Seeds, fmtFloat(st.Shown(st.Best.Fitness)))
		}
		fmt.Fprintf(w, "  best so far: genome %d (%s) %s %s\n", st.Best.GenomeID, at, fitness, report.FormatParams(st.Best.Params, st.Best.Choices))
	}
	for _, e := range st.Final {
		var figs []string // what the trainer reported
		if v := float64(e.TestLoss); !math.IsNaN(v) {
			figs = append(figs, "test loss "+fmtFloat(e.TestLoss))
		}
		if e.TestAccuracy > 0 {
			figs = append(figs, fmt.Sprintf("accuracy %.2f%%", 100*e.TestAccuracy))
		}
		fmt.Fprintf(w, "  final epoch %d: %s\n", e.Epoch, or(strings.Join(figs, ", "), "done"))
	}
}

// or returns s, or def when s is empty.
func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
