package main

import (
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/gahpo/gahpo"
	"github.com/gahpo/gahpo/bus"
	"github.com/gahpo/gahpo/coordinator"
	"github.com/gahpo/gahpo/ga"
	"github.com/gahpo/gahpo/models/problems"
)

// natsFlags are the connection flags of every command that talks to NATS.
type natsFlags struct {
	url, user, password, token, creds, ca, cert, key string
	inbox                                            string
	// fs holds the flags, to tell which were given.
	fs *flag.FlagSet
	// secretErr is why a secret could not be had from the environment
	// (the key, tokenEnv or passwordEnv; [envSecret]): the command stops on
	// it rather than connect without, unless the command line gives that
	// secret.
	secretErr map[string]error
}

func (n *natsFlags) register(fs *flag.FlagSet, required bool) {
	help := "NATS server URL(s), comma separated"
	if required {
		help += " (required)"
	}
	// The environment's values are the flags' values, not their defaults:
	// -h and a usage message print defaults, and a URL may hold
	// credentials as the token and password variables do.
	n.fs = fs
	fs.StringVar(&n.url, "nats", "", help+"; env GAHPO_NATS")
	fs.StringVar(&n.user, "nats-user", os.Getenv("GAHPO_NATS_USER"), "NATS user name; env GAHPO_NATS_USER")
	fs.StringVar(&n.password, "nats-password", "", "NATS password (visible in ps: prefer --nats-password-file); env "+passwordEnv+" or "+passwordEnv+"_FILE, not both")
	fs.StringVar(&n.token, "nats-token", "", "NATS token (visible in ps: prefer --nats-token-file); env "+tokenEnv+" or "+tokenEnv+"_FILE, not both")
	n.url = os.Getenv("GAHPO_NATS")
	fs.StringVar(&n.creds, "nats-creds", "", "NATS credentials file")
	fs.StringVar(&n.ca, "tls-ca", "", "CA certificate file to verify the NATS server")
	fs.StringVar(&n.cert, "tls-cert", "", "client certificate file (mutual TLS)")
	fs.StringVar(&n.key, "tls-key", "", "client key file (mutual TLS)")
	n.registerSecretFiles(fs)
}

// readHistory settles where query, report and export read once fs is
// parsed: --db given on the command line reads that history file, even
// with GAHPO_NATS in the environment (the URL is dropped); --db and --nats
// both given are refused, as they name two sources. Without --db, a URL
// (flag or environment) reads a running coordinator.
func (n *natsFlags) readHistory(fs *flag.FlagSet) error {
	switch db := flagSet(fs, "db"); {
	case db && flagSet(fs, "nats"):
		return errors.New("give --db (a history file) or --nats (a running coordinator), not both")
	case db:
		n.url = ""
	}
	return nil
}

// options are the connection's options, or why they cannot be had (a
// secret of the environment that cannot be read, or is set twice), the
// error named by the command.
func (n *natsFlags) options(name string) (bus.Options, error) {
	for _, s := range natsSecrets {
		if err := n.secretErr[s.env]; err != nil && !flagSet(n.fs, s.flag) && !flagSet(n.fs, s.flag+"-file") {
			return bus.Options{}, fmt.Errorf("%s: %w", cmdName(n.fs), err)
		}
	}
	return bus.Options{URL: n.url, Name: name, User: n.user, Password: n.password, Token: n.token, Creds: n.creds, TLSCA: n.ca, TLSCert: n.cert, TLSKey: n.key, InboxPrefix: n.inbox}, nil
}

// searchFlags are the flags that define a search.
type searchFlags struct {
	fs                               *flag.FlagSet
	preset, problem                  string
	population, generations, elites  int
	tournament, trainSubset, finalEp int
	maxAttempts, finalSubset         int
	maxFailures                      int
	crossover                        float64
	seed                             uint64
	onTest, newRun                   bool
	ackWait                          time.Duration
	data, runID                      string
	fid                              fidelityFlags
	files                            problemFiles
	http                             string
	args                             []string // the command's arguments, as given (resumeCommand)
}

func (s *searchFlags) register(fs *flag.FlagSet) {
	s.fs = fs
	def := ga.DefaultConfig()
	fs.StringVar(&s.preset, "preset", "quick", "search preset: quick (a few minutes: 8 genomes × 4 generations on 6,000 images for the CNN, 20 × 8 for other problems), paper (population 30, 28 generations, one-epoch fitness on full data, 14 final epochs), best (successive halving from 1 to 14 epochs, steady state: 12 genomes × 6 generations, ~2 h on 2 cores, for the CNN; 20 × 8 for other problems) or pbt (population based training of 16 genomes to 14 epochs, ~2 h on 2 cores for the CNN)")
	fs.StringVar(&s.problem, "problem", problems.CNN, "problem: cnn (MNIST CNN, the paper's four genes), cnn-shift (the same with a fifth gene, shift: training images moved by up to 0-3 pixels, data augmentation) or regression (1-D net)")
	fs.IntVar(&s.population, "population", 0, "genomes per generation (default: the preset's)")
	fs.IntVar(&s.generations, "generations", 0, "generations (default: the preset's)")
	fs.IntVar(&s.elites, "elites", def.Elites, "best genomes kept unchanged in the next generation")
	fs.IntVar(&s.tournament, "tournament", def.TournamentSize, "tournament size of the selection")
	fs.Float64Var(&s.crossover, "crossover-rate", def.CrossoverRate, "probability that a child is bred by crossover")
	fs.Uint64Var(&s.seed, "seed", 1, "seed of all randomness of the run")
	fs.IntVar(&s.trainSubset, "train-subset", -1, "training images per fitness (CNN: 0 is all 54,000; a problem file's command is given it as GAHPO_TRAIN_SUBSET; default: the preset's)")
	fs.IntVar(&s.finalEp, "final-epochs", -1, "epochs of the final full training (0: none; default: the preset's)")
	fs.IntVar(&s.finalSubset, "final-subset", 0, "training images of the final training (CNN: 0 is all 60,000; a problem file's command is given it as GAHPO_TRAIN_SUBSET)")
	fs.BoolVar(&s.onTest, "fitness-on-test", false, "CNN: use the test loss as fitness, as the paper did (default: validation loss)")
	fs.IntVar(&s.maxAttempts, "max-attempts", 3, "deliveries of a genome before it is recorded as failed")
	fs.IntVar(&s.maxFailures, "max-failures", 0, "stop the run once this many genomes have failed (after their --max-attempts; a divergence, NaN loss or objective out of bounds, never counts); what is under way finishes, nothing more is bred, promoted or trained, and the run ends failed naming the commonest cause; 0: never (default: stop once the first --population genomes trained have all failed, none having succeeded; with --fidelity halving or pbt, also once --population trainings resumed from a checkpoint have all failed, none having succeeded)")
	fs.DurationVar(&s.ackWait, "ack-wait", bus.DefaultAckWait, "lease of a task: a silent worker loses it after this (one lease for every run on a NATS: shortened only while no worker holds a task)")
	fs.StringVar(&s.data, "data", "", "directory of the MNIST IDX files (default: the GoMNIST module in the Go module cache); a problem file's data files are read where its data: names them")
	fs.StringVar(&s.runID, "run", "", "resume this run id")
	fs.BoolVar(&s.newRun, "new", false, "start a new run even if the database has an unfinished one")
	s.fid.register(fs)
	fs.StringVar(&s.http, "http", "", "serve the live dashboard (the report's page, updated as results arrive) on this address, e.g. :8080 (loopback; beyond it needs "+httpTokenEnv+")")
	fs.Var(&s.files, "problem-file", "search a problem declared in this file (YAML or JSON; see README 'Tune your own model'); its name replaces --problem")
}

func (s *searchFlags) set(name string) bool {
	found := false
	s.fs.Visit(func(f *flag.Flag) { found = found || f.Name == name })
	return found
}

// pytorchDefault is the genome of PyTorch's MNIST example (its weight
// decay 0 is below the paper's range: its floor, 1e-7, is as good as none).
const pytorchDefault = "batch_size=64,lr=1,gamma=0.7,weight_decay=1e-7"

// pytorchDefaultOf is PyTorch's default genome in problem's space: on
// cnn-shift, with its images unmoved (shift 0), as PyTorch trains them.
func pytorchDefaultOf(problem string) string {
	if problem == problems.CNNShift {
		return pytorchDefault + ",shift=0"
	}
	return pytorchDefault
}

// preset holds the defaults of a preset per problem.
type preset struct {
	population, generations, trainSubset, finalEpochs, workers int
	fidelity, breeding                                         string
	enqueue                                                    []string // known genomes
}

func presetFor(name, problem string) (preset, error) {
	switch {
	case name == "quick" && problems.IsCNN(problem):
		return preset{population: 8, generations: 4, trainSubset: 6000, finalEpochs: 1, workers: 2}, nil
	case name == "quick":
		return preset{population: 20, generations: 8, finalEpochs: 1, workers: 2}, nil
	case name == "paper":
		return preset{population: 30, generations: 28, trainSubset: 0, finalEpochs: 14, workers: 2}, nil
	case name == "best" && problems.IsCNN(problem):
		// The best model in about two hours on two cores: successive
		// halving from one epoch to a full 14-epoch training, steady
		// state, PyTorch's default genome among the first.
		return preset{population: 12, generations: 6, finalEpochs: 0, workers: 2, fidelity: gahpo.FidelityHalving,
			breeding: gahpo.BreedingSteadyState, enqueue: []string{pytorchDefaultOf(problem)}}, nil
	case name == "best":
		return preset{population: 20, generations: 8, workers: 2, fidelity: gahpo.FidelityHalving, breeding: gahpo.BreedingSteadyState}, nil
	case name == "pbt" && problems.IsCNN(problem):
		// Population based training of 16 genomes to 14 epochs, judged
		// after every epoch: 16 × 14 = 224 epoch-trainings, 1 h 54 min on 2
		// cores; PyTorch's default genome among the first.
		return preset{population: 16, generations: 1, workers: 2, fidelity: gahpo.FidelityPBT, enqueue: []string{pytorchDefaultOf(problem)}}, nil
	case name == "pbt":
		return preset{population: 16, generations: 1, workers: 2, fidelity: gahpo.FidelityPBT}, nil
	}
	return preset{}, fmt.Errorf("unknown --preset %q (quick, paper, best or pbt)", name)
}

// config builds the run configuration from the preset and the flags.
func (s *searchFlags) config() (gahpo.RunConfig, preset, error) {
	if err := s.files.register(); err != nil {
		return gahpo.RunConfig{}, preset{}, err
	}
	switch {
	case len(s.files.names) > 1:
		return gahpo.RunConfig{}, preset{}, fmt.Errorf("--problem-file: a search has one problem, %d files given", len(s.files.names))
	case len(s.files.names) == 1 && s.set("problem"):
		return gahpo.RunConfig{}, preset{}, fmt.Errorf("--problem %s and --problem-file: give one", s.problem)
	case len(s.files.names) == 1:
		s.problem = s.files.names[0]
	}
	p, err := presetFor(s.preset, s.problem)
	if err != nil {
		return gahpo.RunConfig{}, p, err
	}
	if err := checkLimits(s.fs); err != nil {
		return gahpo.RunConfig{}, p, err
	}
	cfg := ga.DefaultConfig()
	cfg.Population, cfg.Generations = p.population, p.generations
	if s.population > 0 {
		cfg.Population = s.population
	}
	if s.generations > 0 {
		cfg.Generations = s.generations
	}
	cfg.Elites, cfg.TournamentSize, cfg.CrossoverRate, cfg.Seed = s.elites, s.tournament, s.crossover, s.seed
	if !s.set("elites") {
		cfg.Elites = min(cfg.Elites, cfg.Population-1)
	}
	if !s.set("tournament") {
		cfg.TournamentSize = min(cfg.TournamentSize, cfg.Population)
	}
	if n := cfg.Population * cfg.Generations; n > maxGenomes {
		return gahpo.RunConfig{}, p, fmt.Errorf("population %d × generations %d = %d genomes; at most %d fit in memory", cfg.Population, cfg.Generations, n, maxGenomes)
	}
	rc := gahpo.RunConfig{
		Problem: s.problem, Preset: s.preset, GA: cfg, TrainSubset: p.trainSubset, FinalEpochs: p.finalEpochs,
		FitnessOnTest: s.onTest, MaxAttempts: s.maxAttempts, AckWait: s.ackWait,
	}
	if s.trainSubset >= 0 {
		rc.TrainSubset = s.trainSubset
	}
	if s.set("max-failures") {
		n := s.maxFailures
		rc.MaxFailures = &n
	}
	if s.finalEp >= 0 {
		rc.FinalEpochs = s.finalEp
	}
	rc.FinalSubset = s.finalSubset
	prob, err := problems.Lookup(rc.Problem)
	if err != nil {
		return rc, p, err
	}
	if err := s.fid.apply(&rc, p, prob); err != nil {
		return rc, p, err
	}
	if prob.Digest != "" && prob.Budget.Max > 0 && !rc.MultiFidelity() {
		// A problem file's one-epoch fitness is its budget's lowest, and
		// its full training its highest: the presets' final epochs are
		// the CNN's.
		rc.FitnessEpochs = prob.Budget.Min
		if s.finalEp < 0 && rc.FinalEpochs > 0 {
			rc.FinalEpochs = prob.Budget.Max
		}
	}
	return rc, p, rc.Validate()
}

// problemFor resolves a problem for the coordinator: its space and the
// data files to distribute.
func problemFor(dataDir string) func(string) (coordinator.Problem, error) {
	return func(name string) (coordinator.Problem, error) {
		p, err := problems.Lookup(name)
		if err != nil {
			return coordinator.Problem{}, err
		}
		files, err := problems.DataFiles(name, dataDir)
		if err != nil {
			return coordinator.Problem{}, err
		}
		if err := readable(files, dataDir); err != nil {
			return coordinator.Problem{}, fmt.Errorf("problem %s: %w", name, err)
		}
		return coordinator.Problem{Space: p.Space(), DataFiles: files, Digest: p.Digest, FitnessMin: p.FitnessMin, FitnessMax: p.FitnessMax,
			Objective: p.Objective, Maximize: p.Maximize}, nil
	}
}

// readable checks that the data files can be read before a run is made
// of them: a missing one would fail the run at its upload, a run left
// behind. dataDir is --data, which names where they are looked for.
func readable(files []string, dataDir string) error {
	for _, f := range files {
		fi, err := os.Stat(f)
		if err == nil && fi.IsDir() {
			err = errors.New("a directory")
		}
		if err == nil {
			continue
		}
		if dataDir != "" {
			names := make([]string, len(files))
			for i, f := range files {
				names[i] = filepath.Base(f)
			}
			why := "not there"
			if !errors.Is(err, os.ErrNotExist) {
				why = err.Error()
			}
			return fmt.Errorf("--data %s: its data file %s: %s: give the folder that holds %s", dataDir, filepath.Base(f), why, strings.Join(names, ", "))
		}
		return fmt.Errorf("its data file %s cannot be read: %w", f, err)
	}
	return nil
}

// Bounds that keep a run's memory finite: the engine keeps every genome of
// the run in memory and in each checkpoint, and the history keeps a record
// of each, so population × generations is bounded as well.
const (
	maxPopulation  = 10_000
	maxGenerations = 10_000
	maxGenomes     = 1_000_000 // population × generations
)

// limit is the accepted range of a numeric flag, inclusive. Durations are
// in seconds.
type limit struct {
	lo, hi float64
	zero   bool // 0 is accepted as well (it means off)
	what   string
}

// limits holds the range of every numeric flag of every command, by name;
// a test checks that no numeric flag is missing.
var limits = map[string]limit{
	"population":       {lo: 2, hi: maxPopulation, what: "genomes per generation"},
	"generations":      {lo: 1, hi: maxGenerations, what: "generations"},
	"elites":           {lo: 0, hi: maxPopulation - 1, what: "elites (also fewer than the population)"},
	"tournament":       {lo: 1, hi: maxPopulation, what: "tournament size (also at most the population)"},
	"crossover-rate":   {lo: 0, hi: 1, what: "crossover probability"},
	"seed":             {lo: 0, hi: math.MaxUint64, what: "seed (any unsigned 64-bit value)"},
	"train-subset":     {lo: 0, hi: 54_000, what: "training images per fitness (0: all)"},
	"final-subset":     {lo: 0, hi: 60_000, what: "training images of the final training (0: all)"},
	"final-epochs":     {lo: 0, hi: 1000, what: "final training epochs (0: none)"},
	"max-attempts":     {lo: 1, hi: 100, what: "deliveries of a genome"},
	"max-failures":     {lo: 1, hi: 100_000_000, zero: true, what: "failed genomes that stop the run (0: never)"},
	"ack-wait":         {lo: 1, hi: 24 * 3600, what: "task lease"},
	"workers":          {lo: 1, hi: 1024, what: "local workers"},
	"concurrency":      {lo: 1, hi: 256, what: "genomes trained at once"},
	"watch":            {lo: 0.1, hi: 24 * 3600, zero: true, what: "status interval (0: once)"},
	"min-epochs":       {lo: 1, hi: 10_000, zero: true, what: "epochs of the first rung (0: the problem's budget)"},
	"max-epochs":       {lo: 1, hi: 10_000, zero: true, what: "epochs of the top rung (0: the problem's budget)"},
	"eta":              {lo: 2, hi: 100, what: "halving's reduction factor"},
	"in-flight":        {lo: 1, hi: 100_000, zero: true, what: "genomes queued or training at once (0: the default)"},
	"budget-epochs":    {lo: 1, hi: 100_000_000, zero: true, what: "epoch-trainings of the search (0: no limit)"},
	"time-budget":      {lo: 1, hi: 365 * 24 * 3600, zero: true, what: "wall time of the search's breeding (0: no limit)"},
	"confirm-seeds":    {lo: 1, hi: 100, zero: true, what: "trainings of each confirmed genome (0 or 1: none)"},
	"confirm-top":      {lo: 1, hi: 100, zero: true, what: "genomes confirmed (0: 3)"},
	"replicas":         {lo: 1, hi: 5, what: "copies of the streams (a NATS cluster has at most 5 for them)"},
	"stream-max-age":   {lo: -1, hi: 10 * 365 * 24 * 3600, what: "age of the streams' messages (negative: no limit)"},
	"stream-max-bytes": {lo: -1, hi: 1 << 50, what: "bytes of each stream (negative: no limit)"},
}

// checkLimits refuses a numeric flag given outside its range, naming it.
func checkLimits(fs *flag.FlagSet) error {
	var errs []error
	fs.Visit(func(f *flag.Flag) {
		l, ok := limits[f.Name]
		if !ok {
			return
		}
		var x float64
		isDur := false
		switch v := f.Value.(flag.Getter).Get().(type) {
		case int:
			x = float64(v)
		case int64:
			x = float64(v)
		case uint:
			x = float64(v)
		case uint64:
			x = float64(v)
		case float64:
			x = v
		case time.Duration:
			x, isDur = v.Seconds(), true
		default:
			return
		}
		if (l.zero && x == 0) || (x >= l.lo && x <= l.hi) {
			return
		}
		bound := func(b float64) string {
			if isDur {
				return time.Duration(b * float64(time.Second)).String()
			}
			return strconv.FormatFloat(b, 'f', -1, 64)
		}
		also := ""
		if l.zero {
			also = " or 0"
		}
		errs = append(errs, fmt.Errorf("--%s %s is out of range: %s must be in [%s, %s]%s", f.Name, f.Value, l.what, bound(l.lo), bound(l.hi), also))
	})
	return errors.Join(errs...)
}
