package main

import (
	"cmp"
	"flag"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/gahpo/gahpo"
	"github.com/gahpo/gahpo/ga"
	"github.com/gahpo/gahpo/models/problems"
	"github.com/gahpo/gahpo/report"
	"github.com/gahpo/gahpo/store"
)

// runField ties a search flag to the stored run configuration it sets.
type runField struct {
	flag string
	get  func(gahpo.RunConfig) any
}

// runFields are the flags that define a run; on resume, one given with a
// value other than the stored run's is refused. --ack-wait is the one
// search flag a resumed run takes; --workers (gahpo run's), --data and
// the connection flags are not part of a run.
var runFields = []runField{
	{"problem", func(c gahpo.RunConfig) any { return c.Problem }},
	{"preset", func(c gahpo.RunConfig) any { return c.Preset }},
	{"population", func(c gahpo.RunConfig) any { return c.GA.Population }},
	{"generations", func(c gahpo.RunConfig) any { return c.GA.Generations }},
	{"elites", func(c gahpo.RunConfig) any { return c.GA.Elites }},
	{"tournament", func(c gahpo.RunConfig) any { return c.GA.TournamentSize }},
	{"crossover-rate", func(c gahpo.RunConfig) any { return c.GA.CrossoverRate }},
	{"seed", func(c gahpo.RunConfig) any { return c.GA.Seed }},
	{"train-subset", func(c gahpo.RunConfig) any { return c.TrainSubset }},
	{"final-subset", func(c gahpo.RunConfig) any { return c.FinalSubset }},
	{"final-epochs", func(c gahpo.RunConfig) any { return c.FinalEpochs }},
	{"fitness-on-test", func(c gahpo.RunConfig) any { return c.FitnessOnTest }},
	{"max-attempts", func(c gahpo.RunConfig) any { return c.MaxAttempts }},
	{"fidelity", func(c gahpo.RunConfig) any { return cmp.Or(c.Fidelity, gahpo.FidelityOneEpoch) }},
	{"breeding", func(c gahpo.RunConfig) any { return cmp.Or(c.Breeding, gahpo.BreedingGenerational) }},
	{"min-epochs", func(c gahpo.RunConfig) any { return c.MinEpochs }},
	{"max-epochs", func(c gahpo.RunConfig) any { return c.MaxEpochs }},
	{"eta", func(c gahpo.RunConfig) any { return c.Eta }},
	{"in-flight", func(c gahpo.RunConfig) any { return c.InFlight }},
	{"budget-epochs", func(c gahpo.RunConfig) any { return c.BudgetEpochs }},
	{"time-budget", func(c gahpo.RunConfig) any { return c.TimeBudget }},
	{"confirm-seeds", func(c gahpo.RunConfig) any { return c.ConfirmSeeds }},
	{"confirm-top", func(c gahpo.RunConfig) any { return c.ConfirmTop }},
	{"enqueue", func(c gahpo.RunConfig) any { return enqueued(c.GA.Initial, nil) }},
}

// enqueued shows known genomes as --enqueue reads them, name=value,...
// in gene order, a choice by its value; without the space, which names
// the genes, each as its genes' values in order.
func enqueued(initial [][]float64, sp *ga.Space) string {
	if len(initial) == 0 {
		return "none"
	}
	out := make([]string, len(initial))
	for i, g := range initial {
		if sp == nil || len(g) != len(sp.Params) {
			vals := make([]string, len(g))
			for j, v := range g {
				vals[j] = strconv.FormatFloat(v, 'g', -1, 64)
			}
			out[i] = "(" + strings.Join(vals, ", ") + ")"
			continue
		}
		values := sp.Values(g)
		kv := make([]string, len(sp.Params))
		for j, p := range sp.Params {
			switch v := values[p.Name].(type) {
			case float64:
				kv[j] = p.Name + "=" + strconv.FormatFloat(v, 'g', -1, 64)
			default:
				kv[j] = fmt.Sprintf("%s=%v", p.Name, v)
			}
		}
		out[i] = strings.Join(kv, ",")
	}
	return strings.Join(out, " ")
}

// conflicts names the flags in given whose value in want differs from the
// stored run configuration have, as "--flag X (the run's: Y)"; sp, the
// run's space when known, names the genes of known genomes.
func conflicts(given map[string]bool, want, have gahpo.RunConfig, sp *ga.Space) []string {
	var out []string
	for _, f := range runFields {
		if !given[f.flag] {
			continue
		}
		w, h := f.get(want), f.get(have)
		if reflect.DeepEqual(w, h) {
			continue
		}
		if f.flag == "final-epochs" && want.MultiFidelity() && have.MultiFidelity() {
			continue // no effect on halving or pbt (a run stored before this recorded the flag)
		}
		if f.flag == "enqueue" {
			if reflect.DeepEqual(w, enqueued(uniqueGenomes(have.GA.Initial), nil)) {
				continue // a run stored before a genome given twice was enqueued once: it goes on with its own
			}
			w, h = enqueued(want.GA.Initial, sp), enqueued(have.GA.Initial, sp)
		}
		if f.flag == "problem" && given["problem-file"] {
			out = append(out, fmt.Sprintf("--problem-file of problem %v (the run's: %v)", w, h))
			continue
		}
		out = append(out, fmt.Sprintf("--%s %v (the run's: %v)", f.flag, w, h))
	}
	return out
}

// finishedError says the history's run is done: the command has nothing to
// do, which is not a failure (the process exits 0 saying so).
type finishedError string

func (e finishedError) Error() string { return string(e) }

// checkResume decides, before the coordinator opens the history, whether
// the command may go on: a run to resume must have been started with the
// flags given (a changed --ack-wait is stored and said); a history whose
// runs are all over is not rerun without --new.
func (s *searchFlags) checkResume(st *store.Store, rc gahpo.RunConfig, out io.Writer) (gahpo.Run, error) {
	target, err := s.resumeTarget(st, rc, out)
	if err == nil && s.fid.legacy != nil && (target.ID == "" || target.Config.BudgetGene != "") {
		// Only a run stored before the budget gene takes it in --enqueue.
		return gahpo.Run{}, s.fid.legacy
	}
	return target, err
}

func (s *searchFlags) resumeTarget(st *store.Store, rc gahpo.RunConfig, out io.Writer) (gahpo.Run, error) {
	if s.newRun && s.runID != "" {
		return gahpo.Run{}, fmt.Errorf("--run %s resumes a run and --new starts another: give one of them", s.runID)
	}
	if s.newRun {
		return gahpo.Run{}, nil
	}
	var target gahpo.Run
	if s.runID != "" {
		r, err := st.Run(s.runID)
		if err != nil {
			return gahpo.Run{}, err
		}
		target = r
	} else {
		runs, err := st.Runs()
		if err != nil {
			return gahpo.Run{}, err
		}
		if len(runs) == 0 {
			return gahpo.Run{}, nil
		}
		target = runs[len(runs)-1]
		for i := len(runs) - 1; i >= 0; i-- {
			if unfinished(runs[i]) {
				target = runs[i]
				break
			}
		}
	}
	given := map[string]bool{}
	s.fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	if given["problem-file"] {
		given["problem"] = true // the file's name is the run's problem
	}
	var sp *ga.Space
	if p, err := problems.Lookup(target.Config.Problem); err == nil && p.Space != nil {
		sp, _ = p.SpaceFor(target.Config) // nil, when it cannot: genes shown by value
	}
	if !unfinished(target) {
		return gahpo.Run{}, s.overError(target, conflicts(given, rc, target.Config, sp))
	}
	mayChange := "--ack-wait and --max-failures" // the coordinator's flags a run may change
	if s.fs.Lookup("workers") != nil {
		mayChange = "--ack-wait, --max-failures and --workers" // gahpo run's own workers
	}
	if c := conflicts(given, rc, target.Config, sp); len(c) > 0 {
		return gahpo.Run{}, fmt.Errorf("run %s, left %s, was started with other flags: %s; resume it without them (only %s may change), or --new starts another run in this history, or another --db one in a history of its own",
			target.ID, target.Status, strings.Join(c, ", "), mayChange)
	}
	if _, err := problems.Lookup(target.Config.Problem); err != nil {
		return gahpo.Run{}, fmt.Errorf("run %s, left %s, is of problem %q, which this command was not given: resume it with the --problem-file it was started with (%w)", target.ID, target.Status, target.Config.Problem, err)
	}
	changed := false
	if given["ack-wait"] && rc.AckWait != target.Config.AckWait {
		fmt.Fprintf(out, "gahpo: run %s resumes with --ack-wait %v (was %v)\n", target.ID, rc.AckWait, target.Config.AckWait)
		target.Config.AckWait, changed = rc.AckWait, true
	}
	if was, now := maxFailuresText(target.Config), maxFailuresText(rc); given["max-failures"] && was != now {
		if target.StoppedBy == gahpo.StopFailures {
			// The rule that stopped it is kept: its error and its
			// stop's text name it, with the count it stopped at.
			fmt.Fprintf(out, "gahpo: run %s stopped for failures already (--max-failures %s): it ends failed once its trainings under way are back, whatever --max-failures says now (fix the cause, then start another search with --new)\n", target.ID, was)
		} else {
			fmt.Fprintf(out, "gahpo: run %s resumes with --max-failures %s (was %s)\n", target.ID, now, was)
			target.Config.MaxFailures, changed = rc.MaxFailures, true
		}
	}
	if changed {
		if err := st.Commit(target.ID, store.Change{Run: &target}); err != nil {
			return gahpo.Run{}, err
		}
	}
	return target, nil
}

// maxFailuresText is a run's --max-failures as the flag reads it, or its
// default.
func maxFailuresText(rc gahpo.RunConfig) string {
	if rc.MaxFailures == nil {
		return "default (the population)"
	}
	return strconv.Itoa(*rc.MaxFailures)
}

// resumeCommand is the command line that resumes run id, left unfinished
// by an interruption of the command sf parsed: its arguments as given,
// but for --new (which would start another search) and --run, with --run
// id, and without a secret given as a flag (the command's stderr may be a
// log file: the secret's file or variable gives it again).
func (s *searchFlags) resumeCommand(id string) string {
	out := []string{s.fs.Name()}
	for i := 0; i < len(s.args); i++ {
		a := s.args[i]
		if a == "--" {
			break
		}
		name, _, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.HasPrefix(a, "-") {
			out = append(out, report.ShellQuote(a))
			continue
		}
		_, secret := secretFlags[name]
		switch {
		case name == "new":
			continue
		case name == "run" || secret:
			if !hasValue {
				i++ // its value follows
			}
			continue
		}
		out = append(out, report.ShellQuote(a))
	}
	return strings.Join(append(out, "--run", report.ShellQuote(id)), " ")
}

// overError says that the history's run is over and how another search
// starts: once, by hand, with --new (a service that restarts must not
// carry it: each start would begin a search, abandoning the one under
// way), or in another history file. changed are the search flags given
// with values other than the run's: they alone start nothing, and a
// service whose flags were changed for a new search must be told so. A
// finished run is a finishedError (nothing to do: exit 0, a restarted
// service stays down); a failed one a runFailedError (exit 3, which the
// systemd unit does not restart from).
func (s *searchFlags) overError(target gahpo.Run, changed []string) error {
	how := "finished"
	if target.Status == gahpo.RunFailed {
		how = "failed"
	}
	msg := "run " + target.ID + " " + how
	if !target.Ended.IsZero() {
		msg += " at " + target.Ended.UTC().Format(time.RFC3339)
	}
	if target.Error != "" {
		msg += " (" + target.Error + ")"
	}
	if target.StoppedBy == gahpo.StopFailures {
		msg += "; a run stopped for failures is over, whatever --max-failures says now: fix the cause"
	}
	if target.Status == gahpo.RunDone {
		msg += "; nothing to do"
	}
	if len(changed) > 0 {
		msg += "; the flags given differ from the run's, " + strings.Join(changed, ", ") + ", but changed flags start no new run"
	}
	msg += fmt.Sprintf("; to start another search in this history, run %s --new with its flags once, by hand "+
		"(never in a service that restarts: --new starts a search at every start), or give it another --db", s.fs.Name())
	if target.Status == gahpo.RunDone {
		return finishedError(msg)
	}
	return runFailedError(msg)
}

func unfinished(r gahpo.Run) bool { return r.Status == gahpo.RunRunning || r.Status == gahpo.RunFinal }
