// Command headline runs the README's headline experiment as one resumable
// command: a search (by default `gahpo run --problem cnn-shift --preset pbt
// --population 8 --seed 1`, the one that met the goal), then full
// trainings (-epochs, 14) of the
// genome it chose, or of its schedule after a population based training,
// and of each baseline (PyTorch's default genome unless -baseline says
// otherwise) on all 60,000 training images, over training seeds 1, 2 and 3,
// each training on a core of its own; then the table of their test loss and
// accuracy seed by seed and on average, and the verdict against the goal: a
// lower mean test loss than every baseline's and a mean test accuracy of at
// least -goal-accuracy.
//
//	go run ./bench/headline -out DIR
//	go run ./bench/headline -out DIR -search '--preset best --confirm-seeds 3 --time-budget 80m --seed 2'
//
// Everything lands in DIR: the search's history (search.db; `gahpo run`
// resumes an interrupted search), each training's log and -json report
// (train-LABEL-sSEED.log, .json: a training whose report exists, with the
// same settings, is not run again; one that was interrupted starts over),
// the binaries it built (DIR/gahpo, DIR/cnntrain: reused, so that a resumed
// experiment runs one build; delete them to build anew), and the table
// (headline.md). Run the same command again after an interruption and it
// goes on; use another DIR for another search. -search is split at spaces:
// no quoting.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/gahpo/gahpo"
	"github.com/gahpo/gahpo/models/cnn"
	"github.com/gahpo/gahpo/search"
	"github.com/gahpo/gahpo/store"
)

// defaultSearch is the search that met the README's headline (2026-12-04).
const defaultSearch = "--problem cnn-shift --preset pbt --population 8 --seed 1"

// pytorchDefault is the genome of PyTorch's MNIST example.
const pytorchDefault = "default=batch_size=64,lr=1,gamma=0.7,weight_decay=0"

// config is the command's flags.
type config struct {
	out          string
	search       string // gahpo run's arguments
	seeds        []uint64
	epochs       int
	baselines    []candidate
	parallel     int
	trainImages  int
	testImages   int
	goalAccuracy float64 // percent
	gahpoBin     string
	cnntrainBin  string
}

// candidate is a genome (or a schedule) to train over the seeds.
type candidate struct {
	label    string   // file names and the table's first column
	about    string   // what it is, for the table
	args     []string // cnntrain's hyperparameter flags
	genome   cnn.Config
	schedule string // a schedule's -schedule, instead of genome
}

// training is one candidate's training on one seed, once finished.
type training struct {
	loss, accuracy float64 // accuracy in [0, 1]
	seconds        float64
}

// baselineFlag collects -baseline LABEL=GENOME; the first use replaces the
// default.
type baselineFlag struct {
	list []candidate
	set  bool
}

func (b *baselineFlag) String() string { return "" }

func (b *baselineFlag) Set(s string) error {
	c, err := parseBaseline(s)
	if err != nil {
		return err
	}
	if !b.set {
		b.list, b.set = nil, true
	}
	b.list = append(b.list, c)
	return nil
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cfg, err := parseFlags(os.Args[1:], os.Stderr)
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "headline:", err)
		}
		os.Exit(2)
	}
	if err := run(ctx, cfg, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "headline:", err)
		os.Exit(1)
	}
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	fs := flag.NewFlagSet("headline", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg config
	def, _ := parseBaseline(pytorchDefault)
	base := baselineFlag{list: []candidate{def}}
	fs.StringVar(&cfg.out, "out", "headline-experiment", "directory of the search's history, the trainings' reports and logs, and headline.md")
	fs.StringVar(&cfg.search, "search", defaultSearch, "gahpo run's arguments (its --db is DIR/search.db)")
	seeds := fs.String("seeds", "1,2,3", "training seeds, comma separated")
	fs.IntVar(&cfg.epochs, "epochs", 14, "epochs of each training")
	fs.Var(&base, "baseline", "a genome to compare with, LABEL=name=value,... (repeatable; default: "+pytorchDefault+")")
	fs.IntVar(&cfg.parallel, "parallel", runtime.NumCPU(), "trainings at once; each gets NumCPU/parallel cores (GOMAXPROCS)")
	fs.IntVar(&cfg.trainImages, "train-images", 0, "train on the first N images only (0: all 60,000)")
	fs.IntVar(&cfg.testImages, "test-images", 0, "test on the first N test images only (0: all 10,000)")
	fs.Float64Var(&cfg.goalAccuracy, "goal-accuracy", 99.25, "the goal's mean test accuracy, in percent")
	fs.StringVar(&cfg.gahpoBin, "gahpo", "", "the gahpo binary (default: built from this module into DIR)")
	fs.StringVar(&cfg.cnntrainBin, "cnntrain", "", "the cnntrain binary (default: built from this module into DIR)")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	for _, s := range strings.Split(*seeds, ",") {
		v, err := strconv.ParseUint(strings.TrimSpace(s), 10, 64)
		if err != nil || v == 0 {
			return cfg, fmt.Errorf("-seeds: %q is not a seed (a positive integer)", s)
		}
		cfg.seeds = append(cfg.seeds, v)
	}
	cfg.baselines = base.list
	seen := map[uint64]bool{}
	for _, s := range cfg.seeds {
		if seen[s] {
			return cfg, fmt.Errorf("-seeds: %d given twice", s)
		}
		seen[s] = true
	}
	labels := map[string]bool{}
	for _, b := range cfg.baselines {
		if labels[b.label] {
			return cfg, fmt.Errorf("-baseline: label %q given twice", b.label)
		}
		labels[b.label] = true
	}
	switch {
	case cfg.epochs < 1:
		return cfg, fmt.Errorf("-epochs %d: want at least 1", cfg.epochs)
	case cfg.parallel < 1:
		return cfg, fmt.Errorf("-parallel %d: want at least 1", cfg.parallel)
	case cfg.trainImages < 0 || cfg.testImages < 0:
		return cfg, errors.New("-train-images and -test-images: want 0 (all) or more")
	}
	for _, a := range strings.Fields(cfg.search) {
		if a == "--db" || a == "-db" || strings.HasPrefix(a, "--db=") || strings.HasPrefix(a, "-db=") {
			return cfg, errors.New("-search: leave out --db: the search's history is DIR/search.db")
		}
	}
	return cfg, nil
}

// parseBaseline reads LABEL=batch_size=B,lr=L,gamma=G,weight_decay=W.
func parseBaseline(s string) (candidate, error) {
	label, genome, ok := strings.Cut(s, "=")
	label = strings.TrimSpace(label)
	if !ok || label == "" || label == "search" || strings.ContainsAny(label, "/\\ ,=|") {
		return candidate{}, fmt.Errorf("-baseline %q: want LABEL=batch_size=B,lr=L,gamma=G,weight_decay=W, LABEL a word other than \"search\"", s)
	}
	params := map[string]float64{}
	for _, kv := range strings.Split(genome, ",") {
		name, val, ok := strings.Cut(strings.TrimSpace(kv), "=")
		v, err := strconv.ParseFloat(strings.TrimSpace(val), 64)
		if !ok || err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			return candidate{}, fmt.Errorf("-baseline %q: %q is not name=number", s, kv)
		}
		if _, dup := params[name]; dup {
			return candidate{}, fmt.Errorf("-baseline %q: %s given twice", s, name)
		}
		params[name] = v
	}
	if b := params["batch_size"]; b != math.Trunc(b) {
		return candidate{}, fmt.Errorf("-baseline %q: batch_size %v is not a whole number", s, b)
	}
	c, err := genomeCandidate(label, params)
	if err != nil {
		return candidate{}, fmt.Errorf("-baseline %q: %w", s, err)
	}
	return c, nil
}

// genomeCandidate checks a CNN genome and gives cnntrain's flags for it:
// the paper's four hyperparameters, and shift for a cnn-shift genome.
func genomeCandidate(label string, p map[string]float64) (candidate, error) {
	names := []string{"batch_size", "lr", "gamma", "weight_decay"}
	_, shifted := p["shift"]
	if len(p) != len(names)+boolInt(shifted) {
		return candidate{}, fmt.Errorf("want the CNN's four hyperparameters %v (and shift, on cnn-shift), got %d", names, len(p))
	}
	for _, n := range names {
		if _, ok := p[n]; !ok {
			return candidate{}, fmt.Errorf("want the CNN's four hyperparameters %v, %s is missing", names, n)
		}
	}
	g := cnn.Config{BatchSize: int(math.Round(p["batch_size"])), LR: p["lr"], Gamma: p["gamma"], WeightDecay: p["weight_decay"], Shift: int(math.Round(p["shift"]))}
	if err := g.Validate(); err != nil {
		return candidate{}, err
	}
	if s := p["shift"]; s != math.Trunc(s) {
		return candidate{}, fmt.Errorf("shift %v is not a whole number", s)
	}
	f := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
	args := []string{"-batch", strconv.Itoa(g.BatchSize), "-lr", f(g.LR), "-gamma", f(g.Gamma), "-wd", f(g.WeightDecay)}
	if shifted {
		args = append(args, "-shift", strconv.Itoa(g.Shift))
	}
	return candidate{label: label, about: describe(p), genome: g, args: args}, nil
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func describe(p map[string]float64) string {
	d := fmt.Sprintf("batch %d, lr %.4g, gamma %.4g, wd %.3g", int(math.Round(p["batch_size"])), p["lr"], p["gamma"], p["weight_decay"])
	if s, ok := p["shift"]; ok {
		d += fmt.Sprintf(", shift %d", int(math.Round(s)))
	}
	return d
}

func run(ctx context.Context, cfg config, stdout, stderr io.Writer) error {
	if err := os.MkdirAll(cfg.out, 0o755); err != nil {
		return err
	}
	var err error
	if cfg.gahpoBin, err = build(ctx, cfg.gahpoBin, filepath.Join(cfg.out, "gahpo"), "github.com/gahpo/gahpo/cmd/gahpo", stderr); err != nil {
		return err
	}
	if cfg.cnntrainBin, err = build(ctx, cfg.cnntrainBin, filepath.Join(cfg.out, "cnntrain"), "github.com/gahpo/gahpo/models/cnn/cmd/cnntrain", stderr); err != nil {
		return err
	}
	db := filepath.Join(cfg.out, "search.db")
	sum, chosen, err := searched(db)
	if err != nil {
		args := append([]string{"run", "--db", db, "--no-progress"}, strings.Fields(cfg.search)...)
		fmt.Fprintf(stderr, "headline: the search: gahpo %s\n", strings.Join(args, " "))
		cmd := exec.CommandContext(ctx, cfg.gahpoBin, args...)
		cmd.Stdout, cmd.Stderr = stderr, stderr
		// Interrupted, gahpo run stops its workers and closes its history
		// file; the next run resumes it.
		cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
		cmd.WaitDelay = time.Minute
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("the search: %w", err)
		}
		if sum, chosen, err = searched(db); err != nil {
			return err
		}
	}
	fmt.Fprintf(stderr, "headline: %s\n", sum)
	cands := append([]candidate{chosen}, cfg.baselines...)
	results, err := train(ctx, cfg, cands, stderr)
	if err != nil {
		return err
	}
	table := markdown(cfg, sum, cands, results)
	if err := os.WriteFile(filepath.Join(cfg.out, "headline.md"), []byte(table), 0o644); err != nil {
		return err
	}
	_, err = io.WriteString(stdout, table)
	return err
}

// build returns bin if given, else dst, built from pkg unless it exists
// (a resumed experiment goes on with the binaries it started with).
func build(ctx context.Context, bin, dst, pkg string, stderr io.Writer) (string, error) {
	if bin != "" {
		return bin, nil
	}
	if _, err := os.Stat(dst); err == nil {
		fmt.Fprintf(stderr, "headline: %s exists: used as it is (delete it to build anew)\n", dst)
		return dst, nil
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-o", dst, pkg)
	cmd.Stdout, cmd.Stderr = stderr, stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("build %s: %w", pkg, err)
	}
	return dst, nil
}

// searched reads a finished search from its history file: a line saying
// what it spent, and the candidate it chose.
func searched(db string) (string, candidate, error) {
	if _, err := os.Stat(db); err != nil {
		return "", candidate{}, err
	}
	st, err := store.Open(db, store.Options{ReadOnly: true})
	if err != nil {
		return "", candidate{}, fmt.Errorf("%w", err)
	}
	defer st.Close()
	runs, err := st.Runs()
	if err != nil {
		return "", candidate{}, fmt.Errorf("%w", err)
	}
	if len(runs) == 0 {
		return "", candidate{}, fmt.Errorf("no run in %s", db)
	}
	r := runs[len(runs)-1]
	if r.Status != gahpo.RunDone {
		return "", candidate{}, fmt.Errorf("run %s in %s is %s", r.ID, db, r.Status)
	}
	gs, err := st.Genomes(r.ID, -1)
	if err != nil {
		return "", candidate{}, fmt.Errorf("%w", err)
	}
	genomes := 0
	for _, g := range gs {
		if g.DuplicateOf == 0 {
			genomes++
		}
	}
	spent := search.EpochsSpent(r.Config.RungEpochs(), gs)
	f, err := st.Final(r.ID)
	if err != nil {
		return "", candidate{}, fmt.Errorf("the search's final training: %w", err)
	}
	if !r.Config.MultiFidelity() {
		spent += len(f.Epochs) // the one-epoch GA's final training is a full training of its own
	}
	sum := fmt.Sprintf("search %s: %s, %d genomes, %d epoch-trainings, chose genome %d", r.ID,
		r.Ended.Sub(r.Started).Round(time.Second), genomes, spent, f.GenomeID)
	if f.Seeds > 1 && f.ConfirmedFitness != nil {
		sum += fmt.Sprintf(" on the mean of %d trainings (%.4f)", f.Seeds, float64(*f.ConfirmedFitness))
	}
	if len(f.Schedule) > 0 {
		c := candidate{label: "search", schedule: gahpo.ScheduleArg(f.Schedule)}
		c.args = []string{"-schedule", c.schedule}
		c.about = fmt.Sprintf("genome %d's schedule of %d steps", f.GenomeID, len(f.Schedule))
		return sum, c, nil
	}
	c, err := genomeCandidate("search", f.Params)
	if err != nil {
		return "", candidate{}, fmt.Errorf("the search's genome %d: %w", f.GenomeID, err)
	}
	c.about = fmt.Sprintf("genome %d, %s", f.GenomeID, describe(f.Params))
	return sum, c, nil
}

// train runs every candidate's training on every seed that has no report
// yet, cfg.parallel at once, and reads the reports.
func train(ctx context.Context, cfg config, cands []candidate, stderr io.Writer) (map[string]training, error) {
	threads := max(runtime.NumCPU()/cfg.parallel, 1)
	results := map[string]training{}
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
	)
	type job struct {
		c    candidate
		seed uint64
		name string
	}
	var todo []job
	for _, c := range cands {
		for _, seed := range cfg.seeds {
			name := fmt.Sprintf("train-%s-s%d", c.label, seed)
			path := filepath.Join(cfg.out, name+".json")
			if t, err := readReport(path, cfg, c, seed); err == nil {
				results[name] = t
				continue
			} else if !errors.Is(err, os.ErrNotExist) {
				fmt.Fprintf(stderr, "headline: %v; training again\n", err)
			}
			todo = append(todo, job{c, seed, name})
		}
	}
	slots := make(chan struct{}, cfg.parallel)
	for _, j := range todo {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case slots <- struct{}{}:
			case <-ctx.Done():
				return
			}
			defer func() { <-slots }()
			t, err := trainOne(ctx, cfg, j.c, j.seed, threads, filepath.Join(cfg.out, j.name), stderr)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", j.name, err))
				return
			}
			results[j.name] = t
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		errs = append(errs, err)
	}
	return results, errors.Join(errs...)
}

func trainOne(ctx context.Context, cfg config, c candidate, seed uint64, threads int, base string, stderr io.Writer) (training, error) {
	log, err := os.Create(base + ".log")
	if err != nil {
		return training{}, err
	}
	defer log.Close()
	args := append(append([]string{}, c.args...), "-epochs", strconv.Itoa(cfg.epochs), "-seed", strconv.FormatUint(seed, 10),
		"-train-images", strconv.Itoa(cfg.trainImages), "-test-images", strconv.Itoa(cfg.testImages), "-json", base+".json")
	fmt.Fprintf(stderr, "headline: GOMAXPROCS=%d cnntrain %s\n", threads, strings.Join(args, " "))
	cmd := exec.CommandContext(ctx, cfg.cnntrainBin, args...)
	cmd.Env = append(os.Environ(), "GOMAXPROCS="+strconv.Itoa(threads))
	cmd.Stdout, cmd.Stderr = log, log
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 10 * time.Second
	if err := cmd.Run(); err != nil {
		return training{}, fmt.Errorf("cnntrain: %w (its log: %s)", err, log.Name())
	}
	return readReport(base+".json", cfg, c, seed)
}

// readReport reads a finished training's cnntrain -json report, and checks
// that it is the training of c on seed that cfg asks for.
func readReport(path string, cfg config, c candidate, seed uint64) (training, error) {
	r, err := cnn.ReadReport(path)
	if err != nil {
		return training{}, err
	}
	want := fmt.Sprint(seed, c.genome.BatchSize, c.genome.LR, c.genome.Gamma, c.genome.WeightDecay, c.genome.Shift, c.schedule)
	got := fmt.Sprint(r.Seed, r.BatchSize, r.LR, r.Gamma, r.WeightDecay, r.Shift, r.Schedule)
	trainWant, testWant := 60_000, 10_000
	if cfg.trainImages > 0 {
		trainWant = min(cfg.trainImages, trainWant)
	}
	if cfg.testImages > 0 {
		testWant = min(cfg.testImages, testWant)
	}
	switch {
	case got != want:
		return training{}, fmt.Errorf("%s: the report of another training (seed, batch, lr, gamma, wd, shift, schedule: %s, not %s)", path, got, want)
	case len(r.Epochs) != cfg.epochs:
		return training{}, fmt.Errorf("%s: a report of %d epochs, not %d", path, len(r.Epochs), cfg.epochs)
	case r.TrainImages != trainWant || r.TestImages != testWant:
		return training{}, fmt.Errorf("%s: a report of %d training and %d test images, not %d and %d", path, r.TrainImages, r.TestImages, trainWant, testWant)
	}
	return training{loss: r.TestLoss, accuracy: r.TestAccuracy, seconds: r.TrainSeconds}, nil
}

// verdict compares the search's mean figures with the baselines'.
func verdict(cfg config, cands []candidate, means map[string]training) string {
	s := means["search"]
	var short []string
	for _, c := range cands[1:] {
		if b := means[c.label]; s.loss >= b.loss {
			short = append(short, fmt.Sprintf("its mean test loss %.4f is not below %s's %.4f", s.loss, c.label, b.loss))
		}
	}
	if 100*s.accuracy < cfg.goalAccuracy {
		short = append(short, fmt.Sprintf("its mean test accuracy %.3f%% is below %.2f%%", 100*s.accuracy, cfg.goalAccuracy))
	}
	if len(short) == 0 {
		return fmt.Sprintf("**The goal is met**: the search's mean test loss is below every baseline's and its mean test accuracy is %.3f%% (at least %.2f%%).", 100*s.accuracy, cfg.goalAccuracy)
	}
	return "**The goal is not met**: " + strings.Join(short, "; ") + "."
}

func markdown(cfg config, sum string, cands []candidate, results map[string]training) string {
	var b strings.Builder
	images := "60,000"
	if cfg.trainImages > 0 && cfg.trainImages < 60_000 {
		images = strconv.Itoa(cfg.trainImages)
	}
	if cfg.testImages > 0 && cfg.testImages < 10_000 {
		images += fmt.Sprintf(" (tested on %d)", cfg.testImages)
	}
	epochs := fmt.Sprintf("%d epochs", cfg.epochs)
	if cfg.epochs == 1 {
		epochs = "1 epoch"
	}
	fmt.Fprintf(&b, "%s.\n\n| %s on %s images: test loss / test accuracy |", sum, epochs, images)
	for _, s := range cfg.seeds {
		fmt.Fprintf(&b, " seed %d |", s)
	}
	b.WriteString(" mean |\n|---|")
	for range cfg.seeds {
		b.WriteString("---|")
	}
	b.WriteString("---|\n")
	means := map[string]training{}
	for _, c := range cands {
		fmt.Fprintf(&b, "| %s: %s |", c.label, c.about)
		var m training
		for _, s := range cfg.seeds {
			t := results[fmt.Sprintf("train-%s-s%d", c.label, s)]
			fmt.Fprintf(&b, " %.4f / %.2f%% |", t.loss, 100*t.accuracy)
			m.loss += t.loss / float64(len(cfg.seeds))
			m.accuracy += t.accuracy / float64(len(cfg.seeds))
		}
		means[c.label] = m
		fmt.Fprintf(&b, " **%.4f / %.2f%%** |\n", m.loss, 100*m.accuracy)
	}
	lo, hi := math.Inf(1), 0.0
	for _, t := range results {
		lo, hi = min(lo, t.seconds), max(hi, t.seconds)
	}
	fmt.Fprintf(&b, "\nEach training took %s to %s (its epochs and their tests).\n",
		time.Duration(lo*float64(time.Second)).Round(time.Second), time.Duration(hi*float64(time.Second)).Round(time.Second))
	for _, c := range cands[1:] {
		b.WriteString(paired(cfg, c.label, results))
	}
	fmt.Fprintf(&b, "\n%s\n", verdict(cfg, cands, means))
	return b.String()
}

// paired gives the search's figures less the baseline's seed by seed (the
// same seed is the same initial weights and data order for both), their
// mean and its standard error. With n seeds, a mean difference is told
// from luck at 95% when it exceeds the standard error times Student's t
// with n−1 degrees of freedom: 12.7 for 2 seeds, 4.30 for 3, 2.78 for 5.
func paired(cfg config, label string, results map[string]training) string {
	var dl, da []float64
	for _, s := range cfg.seeds {
		o, b := results[fmt.Sprintf("train-search-s%d", s)], results[fmt.Sprintf("train-%s-s%d", label, s)]
		dl, da = append(dl, o.loss-b.loss), append(da, 100*(o.accuracy-b.accuracy))
	}
	list := func(d []float64, format string) string {
		parts := make([]string, len(d))
		for i, v := range d {
			parts[i] = fmt.Sprintf(format, v)
		}
		return strings.Join(parts, ", ")
	}
	ml, sl := meanSE(dl)
	ma, sa := meanSE(da)
	return fmt.Sprintf("- search − %s, seed by seed: test loss %s (mean %+.4f, standard error %.4f); test accuracy %s points (mean %+.2f, standard error %.2f)\n",
		label, list(dl, "%+.4f"), ml, sl, list(da, "%+.2f"), ma, sa)
}

// meanSE returns the mean of d and its standard error (0 for one value).
func meanSE(d []float64) (mean, se float64) {
	for _, v := range d {
		mean += v / float64(len(d))
	}
	if len(d) < 2 {
		return mean, 0
	}
	var ss float64
	for _, v := range d {
		ss += (v - mean) * (v - mean)
	}
	return mean, math.Sqrt(ss / float64(len(d)-1) / float64(len(d)))
}
