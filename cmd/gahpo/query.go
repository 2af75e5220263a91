package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/gahpo/gahpo"
	"github.com/gahpo/gahpo/bus"
	"github.com/gahpo/gahpo/coordinator"
	"github.com/gahpo/gahpo/report"
	"github.com/gahpo/gahpo/store"
)

// querier answers queries offline (a history file) or live (a coordinator).
type querier interface {
	query(ctx context.Context, endpoint string, req coordinator.QueryRequest, resp any) error
}

type offline struct{ q coordinator.Queries }

func (o offline) query(_ context.Context, endpoint string, req coordinator.QueryRequest, resp any) error {
	var v any
	var err error
	switch endpoint {
	case coordinator.EndpointRuns:
		v, err = o.q.Runs()
	case coordinator.EndpointBest:
		v, err = o.q.Best(req.Run)
	case coordinator.EndpointGeneration:
		v, err = o.q.Generation(req.Run, req.Generation)
	case coordinator.EndpointGenome:
		v, err = o.q.Genome(req.Run, req.Genome)
	case coordinator.EndpointFinal:
		v, err = o.q.Final(req.Run)
	default:
		return fmt.Errorf("%s needs a running coordinator: use --nats", endpoint)
	}
	if err != nil {
		return err
	}
	// Go through JSON so that offline and live answers are the same values.
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, resp)
}

type live struct {
	conn *bus.Conn
	run  string
}

func (l live) query(ctx context.Context, endpoint string, req coordinator.QueryRequest, resp any) error {
	return l.conn.Query(ctx, l.run, endpoint, req, resp)
}

// openQuerier opens the history file read-only, or finds the coordinator
// on NATS; the returned function releases it.
func (m *Main) openQuerier(ctx context.Context, nf natsFlags, db, run string) (querier, func(), error) {
	if nf.url != "" {
		opts, err := nf.options("gahpo-query")
		if err != nil {
			return nil, nil, err
		}
		conn, err := bus.Connect(ctx, opts)
		if err != nil {
			return nil, nil, err
		}
		svcs, err := conn.Discover(ctx)
		if errors.Is(err, bus.ErrNoService) {
			// A newcomer asks after the run ended (compose's query service).
			err = fmt.Errorf("%w; a run whose coordinator has stopped (done, failed or interrupted) is in its history file: gahpo query and gahpo report read it with --db FILE", err)
		}
		if err != nil {
			conn.Close()
			return nil, nil, err
		}
		target := svcs[0].RunID
		if run != "" {
			target = run
			found := slices.ContainsFunc(svcs, func(s bus.Service) bool { return s.RunID == run })
			if !found {
				conn.Close()
				return nil, nil, fmt.Errorf("no running coordinator of run %s (running: %s)", run, runIDs(svcs))
			}
		}
		return live{conn: conn, run: target}, conn.Close, nil
	}
	st, err := store.Open(db, store.Options{ReadOnly: true, Timeout: 300 * time.Millisecond})
	if errors.Is(err, store.ErrLocked) {
		return nil, nil, fmt.Errorf("%w (a running coordinator?); query it live with --nats", err)
	}
	if err != nil {
		return nil, nil, historyErr(db, err)
	}
	return offline{q: coordinator.Queries{Store: st}}, func() { st.Close() }, nil
}

func runIDs(svcs []bus.Service) string {
	ids := make([]string, len(svcs))
	for i, s := range svcs {
		ids[i] = s.RunID
	}
	return strings.Join(ids, ", ")
}

func (m *Main) runQuery(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("gahpo query", flag.ContinueOnError)
	fs.SetOutput(m.Stderr)
	fs.Usage = func() {
		fmt.Fprintln(m.Stderr, "Usage: gahpo query best [--per-generation=false] | generation N | genome ID | final | runs  [flags]\n\n"+
			"Generations count from 1, as in the logs, the progress and status. --json prints durations in\n"+
			"nanoseconds (duration) and in seconds (duration_s).\n\nFlags:")
		fs.PrintDefaults()
	}
	var nf natsFlags
	nf.register(fs, false)
	db := fs.String("db", "gahpo.db", "history database file (offline query); --nats queries a running coordinator instead (a --db given wins over GAHPO_NATS)")
	run := fs.String("run", "", "run id (default: the latest run, or the newest running coordinator)")
	asJSON := fs.Bool("json", false, "print JSON")
	perGen := fs.Bool("per-generation", true, "best: one line per generation; false: only the best genome of the run (the one it chose once it has, on the mean of its trainings after --confirm-seeds)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if err := nf.readHistory(fs); err != nil {
		return fmt.Errorf("query: %w", err)
	}
	endpoint, req, err := parseQuery(pos, *run, fs.Usage)
	if err != nil {
		return err
	}
	q, release, err := m.openQuerier(ctx, nf, *db, *run)
	if err != nil {
		return err
	}
	defer release()
	out := queryAnswers[endpoint]()
	if err := q.query(ctx, endpoint, req, out); err != nil {
		return historyErr(*db, explainNotFound(ctx, q, endpoint, req, err))
	}
	if v, ok := out.(*[]gahpo.BestEntry); ok && !*perGen && len(*v) > 0 {
		best, err := overallBest(ctx, q, req.Run, *v)
		if err != nil {
			return historyErr(*db, err)
		}
		*v = []gahpo.BestEntry{best}
	}
	renumber(out)
	var stats []report.GenStats
	if v, ok := out.(*[]gahpo.BestEntry); ok && *perGen {
		if rungs := rungStats(*v); rungs != nil {
			stats = rungs // a population based training's rows are rungs
		} else {
			stats = generationStats(ctx, q, req.Run, len(*v))
		}
	}
	var rc gahpo.RunConfig // how the run's fitness is shown (a maximised objective in its own sign)
	if endpoint != coordinator.EndpointRuns {
		if r, err := queriedRun(ctx, q, req.Run); err == nil {
			rc = r.Config
		}
	}
	if *asJSON {
		return writeJSON(m.Stdout, withSeconds(out, rc, stats), "  ")
	}
	switch v := out.(type) {
	case *[]gahpo.Run:
		_, offline := q.(offline) // the history file was free: no coordinator is at work on it
		printRuns(m.Stdout, *v, offline)
	case *[]gahpo.BestEntry:
		printBest(m.Stdout, rc, *v, stats...)
		if !*perGen && len(*v) == 1 {
			printChosen(m.Stdout, rc, (*v)[0])
		}
	case *[]gahpo.GenomeRecord:
		printGenomes(m.Stdout, rc, *v)
	case *gahpo.GenomeRecord:
		printGenome(m.Stdout, rc, *v, lineageOf(ctx, q, req.Run, v.Schedule))
	case *gahpo.FinalTraining:
		printFinal(m.Stdout, rc, *v, lineageOf(ctx, q, req.Run, v.Schedule))
	}
	return nil
}

// parseQuery reads what `gahpo query` asks for from its arguments (pos):
// the endpoint, and the request for it of run ("" = the default). It calls
// usage before the errors of a query missing or unknown.
func parseQuery(pos []string, run string, usage func()) (string, coordinator.QueryRequest, error) {
	req := coordinator.QueryRequest{Run: run}
	if len(pos) == 0 {
		usage()
		return "", req, errors.New("query: say what to query")
	}
	switch pos[0] {
	case "best", "runs", "final":
		if len(pos) != 1 {
			return "", req, fmt.Errorf("query %s takes no argument", pos[0])
		}
	case "generation", "genome":
		if len(pos) != 2 {
			return "", req, fmt.Errorf("query %s needs a number", pos[0])
		}
		n, err := strconv.Atoi(pos[1])
		if err != nil || n < 1 {
			return "", req, fmt.Errorf("query %s: bad number %q (they count from 1)", pos[0], pos[1])
		}
		req.Generation, req.Genome = n-1, n
	default:
		usage()
		return "", req, fmt.Errorf("query: unknown query %q", pos[0])
	}
	return pos[0], req, nil
}

// queryAnswers makes, for each endpoint of a query, the value its answer
// is decoded into.
var queryAnswers = map[string]func() any{
	coordinator.EndpointRuns:       func() any { return new([]gahpo.Run) },
	coordinator.EndpointBest:       func() any { return new([]gahpo.BestEntry) },
	coordinator.EndpointGeneration: func() any { return new([]gahpo.GenomeRecord) },
	coordinator.EndpointGenome:     func() any { return new(gahpo.GenomeRecord) },
	coordinator.EndpointFinal:      func() any { return new(gahpo.FinalTraining) },
}

func fmtFloat(f gahpo.Float) string {
	v := float64(f)
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return fmt.Sprint(v)
	}
	return strconv.FormatFloat(v, 'g', 6, 64)
}

// shownHeader is the column of a run of rc's fitness: FITNESS, or a
// maximised objective's name (VAL_ACC), its values in their own sign.
func shownHeader(rc gahpo.RunConfig) string {
	return strings.ToUpper(rc.ShownName())
}

// printRuns lists runs; offline, read from a history file no coordinator
// holds, an unfinished run is shown interrupted (its status says running
// or final, as its coordinator left it), and how it resumes.
func printRuns(w io.Writer, runs []gahpo.Run, offline bool) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RUN\tPROBLEM\tSTATUS\tSIZE\tSEED\tSTARTED\tBEST\tEPOCHS SPENT\tSTOPPED BY")
	interrupted := false
	for _, r := range runs {
		status := string(r.Status)
		if offline && unfinished(r) {
			status, interrupted = "interrupted", true
		}
		spent, why, best := "-", or(r.StoppedBy, "-"), "-"
		if r.EpochsSpent > 0 {
			spent = strconv.Itoa(r.EpochsSpent)
		}
		if r.Best > 0 { // genomes count from 1: none chosen yet (a run under way) or none (a failed one)
			best = strconv.Itoa(r.Best)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\n", r.ID, r.Config.Problem, status, report.ShapeShort(r.Config), r.Config.GA.Seed, r.Started.Local().Format(time.DateTime), best, spent, why)
	}
	tw.Flush()
	if interrupted {
		fmt.Fprintln(w, "interrupted: its coordinator stopped before the run's end; the command that started it resumes it (gahpo run or gahpo coordinator with this --db; --run ID names the run)")
	}
}

// printBest prints the best genomes of a run of rc; with the generations'
// statistics (in the same order), their median and mean fitness too. A
// maximised objective is shown in its own sign, under its name.
func printBest(w io.Writer, rc gahpo.RunConfig, best []gahpo.BestEntry, stats ...report.GenStats) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	withStats := len(stats) == len(best) && len(best) > 0
	// A population based training's rows are rungs: which (from 0, as in
	// the JSON's rung), and after how many epochs.
	first := "GEN"
	rungs := len(best) > 0 && best[0].RungResults > 0
	if rungs {
		first = "RUNG\tEPOCHS"
	}
	// An accuracy column only when a row has an accuracy: the
	// regression and a problem file's trainer measure none.
	accHeader := ""
	if slices.ContainsFunc(best, func(b gahpo.BestEntry) bool { return b.Accuracy > 0 }) {
		accHeader = "\tACCURACY"
	}
	if withStats {
		fmt.Fprintln(tw, first+"\tGENOME\t"+shownHeader(rc)+accHeader+"\tMEDIAN\tMEAN\tFAILED\tTRAINED BY\tPARAMS")
	} else {
		fmt.Fprintln(tw, first+"\tGENOME\t"+shownHeader(rc)+accHeader+"\tTRAINED BY\tPARAMS")
	}
	for i, b := range best {
		acc := ""
		switch {
		case accHeader == "":
		case b.Accuracy > 0:
			acc = fmt.Sprintf("\t%.2f%%", 100*b.Accuracy)
		default:
			acc = "\t"
		}
		who := b.Worker
		if b.DuplicateOf != 0 {
			who = fmt.Sprintf("(same as %d)", b.DuplicateOf)
		}
		gen := strconv.Itoa(b.Generation)
		if rungs {
			gen = strconv.Itoa(b.Rung) + "\t" + strconv.Itoa(b.Epochs)
		}
		if withStats {
			st := stats[i]
			fmt.Fprintf(tw, "%s\t%d\t%s%s\t%s\t%s\t%d/%d\t%s\t%s\n", gen, b.GenomeID, fmtFloat(rc.Shown(b.Fitness)), acc,
				fmtFloat(rc.Shown(st.Median)), fmtFloat(rc.Shown(st.Mean)), st.Failed, st.Evaluated, who, report.FormatParams(b.Params, b.Choices))
			continue
		}
		fmt.Fprintf(tw, "%s\t%d\t%s%s\t%s\t%s\n", gen, b.GenomeID, fmtFloat(rc.Shown(b.Fitness)), acc, who, report.FormatParams(b.Params, b.Choices))
	}
	tw.Flush()
}

// printChosen says, under the best genome of a run chosen on the mean of
// its trainings (--confirm-seeds), that mean: the row above has its own
// training's fitness.
func printChosen(w io.Writer, rc gahpo.RunConfig, b gahpo.BestEntry) {
	if b.ConfirmedFitness == nil {
		return
	}
	fmt.Fprintf(w, "%s; %s above is its own (gahpo query genome %d shows the others)\n", chosenOn(rc, b.Seeds, *b.ConfirmedFitness), shownHeader(rc), b.GenomeID)
}

// chosenOn says that a run of rc chose its best genome on the mean of its
// trainings on seeds seeds, and that mean.
func chosenOn(rc gahpo.RunConfig, seeds int, mean gahpo.Float) string {
	return fmt.Sprintf("chosen on %d trainings (its own and %d with other seeds): mean %s %s", seeds, seeds-1, rc.ShownName(), fmtFloat(rc.Shown(mean)))
}

// printGenomes lists a generation's genomes. When some trained past a
// first rung (halving, pbt), each row says its rung (from 0, as in the
// JSON) and how many epochs its fitness is of: the list is ranked rung
// first, so a fitness is only comparable with those of its rung.
func printGenomes(w io.Writer, rc gahpo.RunConfig, gs []gahpo.GenomeRecord) {
	rungs := slices.ContainsFunc(gs, func(g gahpo.GenomeRecord) bool { return g.Rung > 0 || g.Epochs > 1 })
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	if rungs {
		fmt.Fprintln(tw, "GENOME\tSTATUS\tRUNG\tEPOCHS\t"+shownHeader(rc)+"\tWORKER\tDURATION\tOPS\tPARAMS")
	} else {
		fmt.Fprintln(tw, "GENOME\tSTATUS\t"+shownHeader(rc)+"\tWORKER\tDURATION\tOPS\tPARAMS")
	}
	for _, g := range gs {
		// A genome queued or in training has no fitness (NaN) and no
		// duration yet, a duplicate no duration of its own: "-", not
		// "NaN" and "0s".
		fit, took := "-", "-"
		if !math.IsNaN(float64(g.Fitness)) {
			fit = fmtFloat(rc.Shown(g.Fitness))
		}
		if g.Duration > 0 {
			took = report.Duration(g.Duration)
		}
		if rungs {
			fit = fmt.Sprintf("%d\t%d\t%s", g.Rung, g.Epochs, fit)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", g.ID, report.GenomeStatus(g), fit, g.Worker, took, strings.Join(g.Ops, ","), report.FormatParams(g.Params, g.Choices))
	}
	tw.Flush()
}

// printGenome prints one genome; l is the lineage of its schedule (see
// lineageOf), when it has one.
func printGenome(w io.Writer, rc gahpo.RunConfig, g gahpo.GenomeRecord, l lineage) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	row := func(k, v string) {
		if v != "" {
			fmt.Fprintf(tw, "%s\t%s\n", k, v)
		}
	}
	row("genome", strconv.Itoa(g.ID))
	row("generation", strconv.Itoa(g.Generation))
	status := report.GenomeStatus(g)
	if status == "stopped" {
		status = fmt.Sprintf("stopped at rung %d (%d epochs)", g.Rung, g.Epochs)
	}
	row("status", status)
	if !math.IsNaN(float64(g.Fitness)) { // queued: no fitness yet
		row(rc.ShownName(), fmtFloat(rc.Shown(g.Fitness)))
	}
	if g.Accuracy > 0 {
		row("accuracy", fmt.Sprintf("%.2f%%", 100*g.Accuracy))
	}
	row("params", report.FormatParams(g.Params, g.Choices))
	if len(g.Parents) > 0 {
		row("parents", strings.Trim(fmt.Sprint(g.Parents), "[]"))
	}
	row("ops", strings.Join(g.Ops, ", "))
	if g.DuplicateOf != 0 {
		row("same as", strconv.Itoa(g.DuplicateOf))
	}
	if g.Exploited != 0 {
		inherited := 0
		if n := len(g.Schedule); n > 0 {
			inherited = g.Schedule[n-1].Epoch - 1
		}
		row("exploited", fmt.Sprintf("genome %d (its first %d epochs are that genome's), in the place of genome %d", g.Exploited, inherited, g.Replaces))
	}
	if len(g.Schedule) > 1 {
		row("schedule", gahpo.ScheduleArg(g.Schedule))
		if l.known() {
			row("schedule seed", l.origin())
		}
		row("train again", l.command(g.Schedule, g.Epochs))
	}
	row("stopped", g.Stopped)
	row("worker", g.Worker)
	all, workers, _ := g.RungsTime() // every rung's that trained its weights, when known
	if len(workers) > 1 {
		row("workers", strings.Join(workers, ", ")+" (of its rungs)")
	}
	if g.Duration > 0 {
		d := report.Duration(g.Duration)
		if g.Inherited > 0 && all > 0 {
			d += fmt.Sprintf(" (its own rungs; %s with those the genomes of its schedule trained before it)", report.Duration(all))
		}
		row("duration", d)
	}
	if g.Epochs > 0 {
		row("epochs", strconv.Itoa(g.Epochs))
	}
	if g.Rung > 0 {
		row("rung", strconv.Itoa(g.Rung))
	}
	if g.Attempts > 0 {
		row("attempts", strconv.Itoa(g.Attempts))
	}
	row("failure", g.Failure)
	if !g.Finished.IsZero() {
		row("finished", g.Finished.Local().Format(time.DateTime))
	}
	seed := strconv.FormatUint(g.Seed, 10)
	if l.known() && l.root != g.ID {
		seed += " (its tasks'; its schedule's is the schedule seed above)"
	}
	row("seed", seed)
	if g.ConfirmedFitness != nil {
		row("confirmed", fmt.Sprintf("mean %s %s over %d trainings", rc.ShownName(), fmtFloat(rc.Shown(*g.ConfirmedFitness)), 1+len(g.Replicates)))
	}
	for k, rep := range g.Replicates {
		row(fmt.Sprintf("replicate %d", k+1), replicateText(rc, rep))
	}
	tw.Flush()
	printOutput(w, g.Log)
}

// replicateText describes a confirmation training of a run of rc: its
// seed, its status, its fitness once trained and the test figures of its
// last epoch, and why it failed.
func replicateText(rc gahpo.RunConfig, rep gahpo.Replicate) string {
	v := fmt.Sprintf("seed %d, %s", rep.Seed, rep.Status)
	if rep.Status != gahpo.GenomeQueued {
		v += ", " + rc.ShownName() + " " + fmtFloat(rc.Shown(rep.Fitness))
	}
	if n := len(rep.Curve); n > 0 {
		if tl, ok := rep.Curve[n-1].Metrics["test_loss"]; ok {
			v += ", test loss " + fmtFloat(tl)
		}
		if ta, ok := rep.Curve[n-1].Metrics["test_accuracy"]; ok {
			v += fmt.Sprintf(", test accuracy %.2f%%", 100*float64(ta))
		}
	}
	if rep.Failure != "" {
		v += " (" + rep.Failure + ")"
	}
	return v
}

// shownOutput is how many of a training's output lines the text views
// print (--json prints every line kept).
const shownOutput = 10

// printOutput prints the last lines a training's command printed that
// were not metrics (a problem file's; a genome keeps the last 50): what
// its trainer said, for one who debugs it.
func printOutput(w io.Writer, log []string) {
	if len(log) == 0 {
		return
	}
	shown := log[max(len(log)-shownOutput, 0):]
	if len(shown) < len(log) {
		fmt.Fprintf(w, "output, the last %d of %d lines kept that were not metrics (--json prints them all):\n", len(shown), len(log))
	} else {
		fmt.Fprintln(w, "output, the lines that were not metrics:")
	}
	for _, l := range shown {
		fmt.Fprintf(w, "  %s\n", l)
	}
}

// printFinal prints a run's final training; l is the lineage of its
// schedule (see lineageOf), when it has one.
func printFinal(w io.Writer, rc gahpo.RunConfig, f gahpo.FinalTraining, l lineage) {
	fmt.Fprintf(w, "final training of genome %d (%s) on %s, %s\n", f.GenomeID, report.FormatParams(f.Params, f.Choices), report.FinalWorkers(f), report.FinalDuration(f, report.Duration))
	if f.Seeds > 1 && f.ConfirmedFitness != nil {
		fmt.Fprintf(w, "%s; below, its own (gahpo query genome %d shows the others)\n", chosenOn(rc, f.Seeds, *f.ConfirmedFitness), f.GenomeID)
	}
	if len(f.Schedule) > 1 {
		fmt.Fprintln(w, "trained with a schedule (population based training):")
		for i, st := range f.Schedule {
			to := "on"
			if i+1 < len(f.Schedule) {
				to = fmt.Sprintf("to %d", f.Schedule[i+1].Epoch-1)
			}
			fmt.Fprintf(w, "  epochs %d %s: %s (genome %d)\n", st.Epoch, to, report.FormatParams(st.Params, st.Choices), st.Genome)
		}
		switch {
		case l.command(f.Schedule, len(f.Epochs)) != "":
			fmt.Fprintf(w, "  the same training again, on %s:\n    %s\n", l.origin(), l.command(f.Schedule, len(f.Epochs)))
			fmt.Fprintln(w, "  (without -train-images, on all 60,000 images; another -seed trains the schedule on another seed's luck)")
		case l.cnnSchedule(f.Schedule):
			fmt.Fprintf(w, "  cnntrain -schedule '%s'\n", gahpo.ScheduleArg(f.Schedule))
		default:
			fmt.Fprintf(w, "  as one line: %s\n", gahpo.ScheduleArg(f.Schedule))
			if l.known() {
				fmt.Fprintf(w, "  seed: %s\n", l.origin())
			}
		}
	}
	switch {
	case len(f.Curve) == 0 && len(f.Epochs) == 0:
		fmt.Fprintln(w, "no epoch recorded")
	case len(f.Curve) > 0 && len(f.Curve) == len(f.Epochs):
		printCurve(w, f.Curve)
	default:
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "EPOCH\tLR\tTRAIN LOSS\tTEST LOSS\tTEST ACCURACY\tDURATION")
		for _, e := range sample(f.Epochs, 15) {
			acc := "-"
			if e.TestAccuracy > 0 {
				acc = fmt.Sprintf("%.2f%%", 100*e.TestAccuracy)
			}
			fmt.Fprintf(tw, "%d\t%.4g\t%s\t%s\t%s\t%s\n", e.Epoch, e.LR, measured(e.TrainLoss), measured(e.TestLoss), acc, report.Duration(e.Duration))
		}
		tw.Flush()
	}
	if len(f.Epochs) > 15 {
		fmt.Fprintf(w, "(%d of %d recorded epochs shown; --json prints all)\n", 15, len(f.Epochs))
	}
	var end []string
	if v := float64(f.TestLoss); !math.IsNaN(v) && !math.IsInf(v, 0) {
		end = append(end, "test loss "+fmtFloat(f.TestLoss))
	}
	if f.TestAccuracy > 0 {
		end = append(end, fmt.Sprintf("test accuracy %.2f%%", 100*f.TestAccuracy))
	}
	if f.WeightsLost != "" {
		end = append(end, "no weights: "+f.WeightsLost)
	}
	if f.WeightsSize == 0 && f.NoModel() != "" {
		end = append(end, "no model kept: "+f.NoModel())
	}
	if f.WeightsSize > 0 {
		end = append(end, fmt.Sprintf("weights %d bytes", f.WeightsSize))
	}
	if f.Retrained {
		end = append(end, "trained again from scratch: the search's weights were lost with the object store")
	}
	if len(end) > 0 {
		fmt.Fprintln(w, strings.Join(end, "; "))
	}
}

// printCurve prints a training's epochs with every metric it reported:
// the built-in problems' in a fixed order, then the others by name.
func printCurve(w io.Writer, curve []gahpo.EpochReport) {
	known := []string{"lr", "train_loss", "val_loss", "val_accuracy", "test_loss", "test_accuracy"}
	seen := map[string]bool{}
	for _, e := range curve {
		for k := range e.Metrics {
			seen[k] = true
		}
	}
	var cols []string
	for _, k := range known {
		if seen[k] {
			cols = append(cols, k)
			delete(seen, k)
		}
	}
	cols = append(cols, slices.Sorted(maps.Keys(seen))...)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	head := []string{"EPOCH"}
	for _, c := range cols {
		head = append(head, strings.ToUpper(strings.ReplaceAll(c, "_", " ")))
	}
	fmt.Fprintln(tw, strings.Join(append(head, "DURATION"), "\t"))
	for _, e := range sample(curve, 15) {
		row := []string{strconv.Itoa(e.Epoch)}
		for _, c := range cols {
			v, ok := e.Metrics[c]
			switch {
			case !ok || math.IsNaN(float64(v)):
				row = append(row, "-")
			case strings.HasSuffix(c, "accuracy"):
				row = append(row, fmt.Sprintf("%.2f%%", 100*float64(v)))
			default:
				row = append(row, fmtFloat(v))
			}
		}
		fmt.Fprintln(tw, strings.Join(append(row, report.Duration(e.Duration)), "\t"))
	}
	tw.Flush()
}

// printSummary prints the end of a search.
func (m *Main) printSummary(run gahpo.Run, db string) error {
	st, err := store.Open(db, store.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		return err
	}
	defer st.Close()
	q := coordinator.Queries{Store: st}
	best, err := q.Best(run.ID)
	if err != nil {
		return err
	}
	all, err := st.Genomes(run.ID, -1)
	if err != nil {
		return err
	}
	rows := "best genome per generation"
	if run.Config.PBT() {
		rows = "best genome per rung"
	}
	fmt.Fprintf(m.Stdout, "\nrun %s: %s (%s, %s, seed %d)\n", run.ID, run.Status, run.Config.Problem, report.Shape(run.Config), run.Config.GA.Seed)
	fmt.Fprintf(m.Stdout, "method: %s\n", report.Method(run.Config))
	if s := report.ObjectiveText(run.Config); s != "" {
		fmt.Fprintf(m.Stdout, "objective: %s\n", s)
	}
	printSpent(m.Stdout, run, all)
	fmt.Fprintf(m.Stdout, "\n%s:\n", rows)
	for i := range best {
		best[i].Generation++
	}
	stats := rungStats(best) // a population based training's rows are rungs
	if stats == nil {
		stats = report.GenerationStats(all)
	}
	printBest(m.Stdout, run.Config, best, stats...)
	model := false
	if f, err := q.Final(run.ID); err == nil {
		fmt.Fprintln(m.Stdout)
		printFinal(m.Stdout, run.Config, f, lineageIn(run.Config, all, f.Schedule))
		model = f.WeightsSize > 0 && f.WeightsLost == ""
	}
	if s := report.ConfirmShortfall(run.Config, all); s != "" {
		fmt.Fprintln(m.Stdout, s)
	}
	printProxy(m.Stdout, run)
	if s := report.CheckpointText(all); s != "" {
		fmt.Fprintln(m.Stdout, s)
	}
	if s := report.FailureText(run, all); s != "" && run.StoppedBy != gahpo.StopFailures { // its error says it
		fmt.Fprintln(m.Stdout, s)
	}
	if run.Error != "" {
		fmt.Fprintln(m.Stdout, "error:", run.Error)
	}
	fmt.Fprintf(m.Stdout, "\nquery it: gahpo query best --per-generation --db %s\n", report.ShellQuote(db))
	if model {
		fmt.Fprintf(m.Stdout, "its model: gahpo export --db %s --weights FILE\n", report.ShellQuote(db))
	}
	return nil
}

// printSpent prints why a run stopped breeding and the epoch-trainings it
// spent, as far as the run record tells them.
func printSpent(w io.Writer, run gahpo.Run, genomes []gahpo.GenomeRecord) {
	if why := report.StopText(run.StoppedBy, run.Config); why != "" {
		fmt.Fprintf(w, "breeding stopped: %s\n", why)
	}
	if s := report.SpentText(run, genomes); s != "" {
		fmt.Fprintf(w, "spent: %s\n", s)
	}
}

// sample keeps at most n elements, evenly spaced, always the first and last.
func sample[T any](xs []T, n int) []T {
	if len(xs) <= n {
		return xs
	}
	out := make([]T, 0, n)
	for i := range n {
		out = append(out, xs[i*(len(xs)-1)/(n-1)])
	}
	return out
}
