// Command search compares search methods on the real CNN at equal compute,
// counted in epoch-trainings (one epoch of one genome on the training
// subset), so that the comparison does not depend on the machine's speed
// or load:
//
//   - ga-one-epoch: the paper's GA (one-epoch fitness, generational), whose
//     best genome then gets a final training of -max-epochs;
//   - ga-halving: the GA with asynchronous successive halving from 1 to
//     -max-epochs epochs, steady state;
//   - random-halving: random search with the same halving (ASHA itself);
//   - ga-halving-confirm: ga-halving that, its search over, trains its three
//     best full-trained genomes once more each with another seed and
//     chooses on the mean (--confirm-seeds 2 --confirm-top 3); those three
//     trainings come out of its budget.
//
// Each method runs once per search seed with `gahpo run` (a resumable
// history file per run in -out: run the command again after an
// interruption and it goes on); the chosen genome's loss and accuracy on
// the test set after -max-epochs epochs is the result, against the epochs
// the search spent. The table is printed and written to -out/results.csv.
//
//	go run ./bench/search -out /tmp/gahpo-search -seeds 1,2,3 -budget 40
//
// -plot draws results files, one budget each, into one figure: every
// search's test loss against the epochs it spent, and each method's mean.
//
//	go run ./bench/search -plot compute.png results-40.csv results-120.csv
package main

import (
	"context"
	"encoding/csv"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/gahpo/gahpo"
	"github.com/gahpo/gahpo/search"
	"github.com/gahpo/gahpo/store"
)

type method struct {
	name string
	args func(budget, pop, maxEpochs int) []string
}

var methods = []method{
	{"ga-one-epoch", func(budget, pop, maxEpochs int) []string {
		gens := max((budget-maxEpochs+pop/2)/pop, 1) // the nearest to the budget
		return []string{"--fidelity", "one-epoch", "--breeding", "generational", "--population", itoa(pop),
			"--generations", itoa(gens), "--final-epochs", itoa(maxEpochs)}
	}},
	{"ga-halving", func(budget, pop, maxEpochs int) []string {
		return []string{"--fidelity", "halving", "--breeding", "steady-state", "--population", itoa(pop),
			"--generations", "100", "--budget-epochs", itoa(budget), "--min-epochs", "1", "--max-epochs", itoa(maxEpochs)}
	}},
	{"ga-halving-confirm", func(budget, pop, maxEpochs int) []string {
		return []string{"--fidelity", "halving", "--breeding", "steady-state", "--population", itoa(pop),
			"--generations", "100", "--budget-epochs", itoa(max(budget-3*maxEpochs, 1)), "--min-epochs", "1", "--max-epochs", itoa(maxEpochs),
			"--confirm-seeds", "2", "--confirm-top", "3"}
	}},
	{"random-halving", func(budget, pop, maxEpochs int) []string {
		return []string{"--fidelity", "halving", "--breeding", "random", "--population", itoa(pop),
			"--generations", "100", "--budget-epochs", itoa(budget), "--min-epochs", "1", "--max-epochs", itoa(maxEpochs)}
	}},
}

func itoa(i int) string { return strconv.Itoa(i) }

// result is one search's outcome.
type result struct {
	method          string
	seed            int
	spent           int // epoch-trainings, the final training included
	genome          int
	params          map[string]float64
	testLoss, acc   float64
	wall            time.Duration
	genomes, failed int
}

func main() {
	out := flag.String("out", "search-experiment", "directory of the runs' history files and results.csv")
	seeds := flag.String("seeds", "1,2,3", "search seeds, comma separated")
	budget := flag.Int("budget", 40, "epoch-trainings per search (the one-epoch GA's final training included)")
	pop := flag.Int("population", 8, "population")
	maxEpochs := flag.Int("max-epochs", 9, "epochs of a full training (the top rung, the final training)")
	subset := flag.Int("train-subset", 6000, "training images per epoch")
	only := flag.String("methods", "", "run only these methods, comma separated (default: all)")
	bin := flag.String("gahpo", "", "the gahpo binary (default: built from this module)")
	plotTo := flag.String("plot", "", "draw the results files given as arguments (one budget each) into this PNG file, and run nothing")
	flag.Parse()
	if *plotTo != "" {
		if err := plotFiles(*plotTo, flag.Args(), *maxEpochs, *subset); err != nil {
			fmt.Fprintln(os.Stderr, "search:", err)
			os.Exit(1)
		}
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, *out, *seeds, *budget, *pop, *maxEpochs, *subset, *only, *bin); err != nil {
		fmt.Fprintln(os.Stderr, "search:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, out, seedList string, budget, pop, maxEpochs, subset int, only, bin string) error {
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	if bin == "" {
		bin = filepath.Join(out, "gahpo")
		build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/gahpo")
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			return fmt.Errorf("build gahpo: %w", err)
		}
	}
	var results []result
	for _, s := range strings.Split(seedList, ",") {
		seed, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil {
			return fmt.Errorf("bad seed %q", s)
		}
		for _, m := range methods {
			if only != "" && !strings.Contains(","+only+",", ","+m.name+",") {
				continue
			}
			db := filepath.Join(out, fmt.Sprintf("%s-seed%d.db", m.name, seed))
			r, err := load(db)
			if err != nil {
				args := append([]string{"run", "--db", db, "--seed", itoa(seed), "--train-subset", itoa(subset),
					"--final-subset", itoa(subset), "--workers", "2", "--no-progress"}, m.args(budget, pop, maxEpochs)...)
				fmt.Fprintf(os.Stderr, "search: %s seed %d: gahpo %s\n", m.name, seed, strings.Join(args, " "))
				cmd := exec.CommandContext(ctx, bin, args...)
				cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
				if err := cmd.Run(); err != nil {
					return fmt.Errorf("%s seed %d: %w", m.name, seed, err)
				}
				if r, err = load(db); err != nil {
					return fmt.Errorf("%s seed %d: %w", m.name, seed, err)
				}
			}
			r.method, r.seed = m.name, seed
			results = append(results, r)
			printTable(results)
		}
	}
	return writeCSV(filepath.Join(out, "results.csv"), results)
}

// load reads a finished run's result from its history file.
func load(db string) (result, error) {
	if _, err := os.Stat(db); err != nil {
		return result{}, err
	}
	st, err := store.Open(db, store.Options{ReadOnly: true})
	if err != nil {
		return result{}, err
	}
	defer st.Close()
	runs, err := st.Runs()
	if err != nil || len(runs) == 0 {
		return result{}, fmt.Errorf("no run in %s: %v", db, err)
	}
	run := runs[len(runs)-1]
	if run.Status != gahpo.RunDone {
		return result{}, fmt.Errorf("run %s is %s", run.ID, run.Status)
	}
	gs, err := st.Genomes(run.ID, -1)
	if err != nil {
		return result{}, err
	}
	r := result{genome: run.Best, wall: run.Ended.Sub(run.Started)}
	for _, g := range gs {
		if g.DuplicateOf != 0 {
			continue
		}
		r.genomes++
		if g.Status == gahpo.GenomeFailed {
			r.failed++
		}
	}
	r.spent = search.EpochsSpent(run.Config.RungEpochs(), gs)
	f, err := st.Final(run.ID)
	if err != nil {
		return result{}, fmt.Errorf("final training: %w", err)
	}
	r.params, r.testLoss, r.acc = f.Params, float64(f.TestLoss), f.TestAccuracy
	if !run.Config.MultiFidelity() {
		r.spent += len(f.Epochs) // the final training is the one-epoch GA's cost of a full training
	}
	return r, nil
}

func printTable(rs []result) {
	tw := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "METHOD\tSEED\tEPOCHS SPENT\tGENOMES\tFAILED\tCHOSEN\tTEST LOSS\tTEST ACC\tWALL\tPARAMS")
	for _, r := range rs {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%.4f\t%.2f%%\t%s\t%s\n", r.method, r.seed, r.spent, r.genomes, r.failed, r.genome,
			r.testLoss, 100*r.acc, r.wall.Round(time.Second), fmtParams(r.params))
	}
	tw.Flush()
	fmt.Println()
}

func fmtParams(p map[string]float64) string {
	var parts []string
	for _, k := range []string{"batch_size", "lr", "gamma", "weight_decay"} {
		if v, ok := p[k]; ok {
			parts = append(parts, fmt.Sprintf("%s=%.4g", k, v))
		}
	}
	return strings.Join(parts, " ")
}

func writeCSV(path string, rs []result) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := csv.NewWriter(f)
	_ = w.Write([]string{"method", "seed", "epochs_spent", "genomes", "failed", "genome", "test_loss", "test_accuracy", "wall_s", "batch_size", "lr", "gamma", "weight_decay"})
	for _, r := range rs {
		rec := []string{r.method, itoa(r.seed), itoa(r.spent), itoa(r.genomes), itoa(r.failed), itoa(r.genome),
			strconv.FormatFloat(r.testLoss, 'g', 6, 64), strconv.FormatFloat(r.acc, 'g', 6, 64), strconv.FormatFloat(r.wall.Seconds(), 'f', 0, 64)}
		for _, k := range []string{"batch_size", "lr", "gamma", "weight_decay"} {
			rec = append(rec, strconv.FormatFloat(r.params[k], 'g', 6, 64))
		}
		_ = w.Write(rec)
	}
	w.Flush()
	return errors.Join(w.Error(), f.Close())
}
