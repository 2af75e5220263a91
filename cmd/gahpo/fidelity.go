package main

import (
	"bufio"
	"cmp"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gahpo/gahpo"
	"github.com/gahpo/gahpo/ga"
	"github.com/gahpo/gahpo/models/problems"
)

// fidelityFlags choose how genomes are trained and bred: the fidelity
// (one-epoch, halving, pbt), the breeding (generational, steady-state) and the
// known genomes that start the search.
type fidelityFlags struct {
	fidelity, breeding        string
	minEpochs, maxEpochs, eta int
	inFlight, budget          int
	confirmSeeds, confirmTop  int
	timeBudget                time.Duration
	enqueue                   enqueueFlag
	// legacy, set by apply, refuses a new run whose --enqueue names the
	// budget gene that its rungs decide; the configuration keeps the gene
	// (as runs stored before the budget gene did), so that the command
	// that started such a run still resumes it (checkResume).
	legacy error
	// same, set by apply, lists the known genomes left out as the same
	// genome as one enqueued before them (the preset's or another
	// --enqueue, after rounding to the space's resolution): a second copy
	// never trains (the run records it as a duplicate) and would only
	// take the place of a genome of its own.
	same []string
}

func (f *fidelityFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.fidelity, "fidelity", "", "how long a genome trains before it is compared: one-epoch (the paper's), halving (successive halving from --min-epochs to --max-epochs) or pbt (population based training to --max-epochs, judged every --min-epochs; default: the preset's)")
	fs.StringVar(&f.breeding, "breeding", "", "generational (a generation waits for the last), steady-state (a genome is bred whenever a result comes back) or random (a random search, the baseline; default: the preset's)")
	fs.IntVar(&f.minEpochs, "min-epochs", 0, "halving: epochs of the first rung; pbt: epochs between judgements (default: the problem's budget: 1 for cnn)")
	fs.IntVar(&f.maxEpochs, "max-epochs", 0, "halving and pbt: epochs of the top rung, a full training (default: the problem's budget: 14 for cnn)")
	fs.IntVar(&f.eta, "eta", 3, "halving: the best 1/eta of a rung train on, eta times longer")
	fs.IntVar(&f.budget, "budget-epochs", 0, "stop breeding once this many epoch-trainings are spent or under way (0: no limit but population × generations)")
	fs.DurationVar(&f.timeBudget, "time-budget", 0, "stop breeding once this much time has passed since the run started, e.g. 2h; what is under way and its promotions to the top rung still finish (0: no limit)")
	fs.IntVar(&f.confirmSeeds, "confirm-seeds", 0, "halving or pbt: once the search is over, train each of the --confirm-top best genomes of the top rung this many times in all (from scratch, other seeds; with pbt, its schedule) and choose the one with the lowest mean fitness (0 or 1: choose on one training)")
	fs.IntVar(&f.confirmTop, "confirm-top", 0, "with --confirm-seeds: how many of the top rung's best genomes to confirm (default 3)")
	fs.IntVar(&f.inFlight, "in-flight", 0, "steady-state: genomes queued or training at once (default: the local workers + 1 with run, 8 with coordinator)")
	fs.Var(&f.enqueue, "enqueue", "a known genome to start the search with, 'name=value,...' (repeatable), or @FILE with one per line")
}

// apply sets the fidelity and breeding of rc from the flags over the
// preset's choice, and parses the known genomes against space.
func (f *fidelityFlags) apply(rc *gahpo.RunConfig, p preset, prob problems.Problem) error {
	rc.Fidelity, rc.Breeding = p.fidelity, p.breeding
	if f.fidelity != "" {
		rc.Fidelity = f.fidelity
	}
	if f.breeding != "" {
		rc.Breeding = f.breeding
	}
	if rc.Fidelity == gahpo.FidelityOneEpoch {
		rc.Fidelity = ""
	}
	if rc.Breeding == gahpo.BreedingGenerational {
		rc.Breeding = ""
	}
	if rc.MultiFidelity() {
		if prob.Budget == (problems.Budget{}) && (f.minEpochs == 0 || f.maxEpochs == 0) {
			return fmt.Errorf("--fidelity %s: problem %q declares no budget of epochs to train its rungs in: give one in its file (budget: {min: 1, max: 14}) or both --min-epochs and --max-epochs", rc.Fidelity, prob.Name)
		}
		rc.MinEpochs, rc.MaxEpochs = prob.Budget.Min, prob.Budget.Max
		// The top rung is the final training: the genome's own.
		rc.FinalEpochs = 0
		if rc.Halving() {
			rc.Eta = f.eta
		}
		if f.minEpochs > 0 {
			rc.MinEpochs = f.minEpochs
		}
		if f.maxEpochs > 0 {
			rc.MaxEpochs = f.maxEpochs
		}
		rc.BudgetGene = prob.BudgetGene // the rungs decide it
	}
	space, err := prob.SpaceFor(*rc)
	if err != nil {
		return err
	}
	rc.InFlight, rc.BudgetEpochs, rc.TimeBudget = f.inFlight, f.budget, f.timeBudget
	switch {
	case f.confirmSeeds > 1 && !rc.Halving() && !rc.PBT():
		return fmt.Errorf("--confirm-seeds %d needs --fidelity halving or pbt (it confirms the genomes of the top rung)", f.confirmSeeds)
	case f.confirmSeeds > 1:
		rc.ConfirmSeeds, rc.ConfirmTop = f.confirmSeeds, cmp.Or(f.confirmTop, 3)
	case f.confirmTop != 0:
		return fmt.Errorf("--confirm-top %d needs --confirm-seeds above 1 (the trainings of each confirmed genome)", f.confirmTop)
	}
	known := append([]string(nil), p.enqueue...)
	known = append(known, f.enqueue...)
	f.legacy = nil
	for _, k := range known {
		for _, kv := range strings.Split(k, ",") {
			if name, _, _ := strings.Cut(kv, "="); rc.BudgetGene != "" && strings.TrimSpace(name) == rc.BudgetGene {
				f.legacy = fmt.Errorf("--enqueue %q: %s is left out with --fidelity %s: the rungs decide it (--min-epochs %d to --max-epochs %d)", k, rc.BudgetGene, rc.Fidelity, rc.MinEpochs, rc.MaxEpochs)
			}
		}
	}
	if f.legacy != nil {
		rc.BudgetGene, space = "", prob.Space() // as such a run was stored
	}
	f.same = nil
	for _, k := range known {
		genes, err := parseGenome(k, space) // rounded to the space's resolution (Canonical)
		if err != nil {
			return err
		}
		if slices.ContainsFunc(rc.GA.Initial, func(g []float64) bool { return slices.Equal(g, genes) }) {
			f.same = append(f.same, k)
			continue
		}
		rc.GA.Initial = append(rc.GA.Initial, genes)
	}
	if n := len(rc.GA.Initial); n > rc.GA.Population {
		return fmt.Errorf("--enqueue: %d known genomes for a population of %d", n, rc.GA.Population)
	}
	return nil
}

// parseGenome reads 'name=value,...' naming every parameter of space once,
// each value inside its range; a choice's value is written as query and
// the problem's command show it (optimizer=adam), or as its index.
func parseGenome(s string, space *ga.Space) ([]float64, error) {
	m := map[string]any{}
	for _, kv := range strings.Split(s, ",") {
		name, val, ok := strings.Cut(kv, "=")
		if name = strings.TrimSpace(name); !ok || name == "" {
			return nil, fmt.Errorf("--enqueue %q: %q is not name=value", s, kv)
		}
		if _, dup := m[name]; dup {
			return nil, fmt.Errorf("--enqueue %q: %s given twice", s, name)
		}
		val = strings.TrimSpace(val)
		p, known := space.Param(name)
		if !known {
			return nil, fmt.Errorf("--enqueue %q: unknown parameter %q (parameters: %s)", s, name, strings.Join(space.Names(), ", "))
		}
		v, err := strconv.ParseFloat(val, 64)
		if x, isValue := p.Index(val); isValue {
			if err == nil && v == math.Trunc(v) && v >= 0 && int(v) < len(p.Values) && v != x {
				return nil, fmt.Errorf("--enqueue %q: %s=%s is ambiguous: the value %q (index %v) or the index of %q, among %q", s, name, val, val, x, p.Values[int(v)], p.Values)
			}
			m[name] = val
			continue
		}
		switch {
		case err != nil && len(p.Values) > 0:
			return nil, fmt.Errorf("--enqueue %q: %s: %q is not one of %q", s, name, val, p.Values)
		case err != nil:
			return nil, fmt.Errorf("--enqueue %q: %s: %q is not a number", s, name, val)
		}
		m[name] = v
	}
	genes, err := space.FromValues(m)
	if err != nil {
		return nil, fmt.Errorf("--enqueue %q: %w (parameters: %s)", s, err, strings.Join(space.Names(), ", "))
	}
	genes = space.Canonical(genes)
	if err := space.Check(genes); err != nil {
		return nil, fmt.Errorf("--enqueue %q: %w", s, err)
	}
	return genes, nil
}

// enqueueFlag collects --enqueue values; @FILE reads one genome per line
// (blank lines and # comments skipped).
type enqueueFlag []string

func (e *enqueueFlag) String() string { return strings.Join(*e, " ") }

func (e *enqueueFlag) Set(v string) error {
	path, ok := strings.CutPrefix(v, "@")
	if !ok {
		*e = append(*e, v)
		return nil
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("read known genomes: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		*e = append(*e, line)
		n++
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("read known genomes from %s: %w", path, err)
	}
	if n == 0 {
		return errors.New("no genome in " + path)
	}
	return nil
}

// problemFiles collects --problem-file paths and registers their problems.
type problemFiles struct {
	paths, names []string
}

func (p *problemFiles) String() string { return strings.Join(p.paths, ",") }

func (p *problemFiles) Set(v string) error {
	p.paths = append(p.paths, v)
	return nil
}

// register loads and registers every file once.
func (p *problemFiles) register() error {
	for _, path := range p.paths[len(p.names):] {
		prob, err := problems.RegisterFile(path)
		if err != nil {
			return err
		}
		p.names = append(p.names, prob.Name)
	}
	return nil
}

// runnable refuses a file whose training command cannot start on this
// machine (its program or train.dir missing), for the commands that train:
// such a worker would fail genomes that other workers can train.
func (p *problemFiles) runnable() error {
	for _, name := range p.names {
		if err := problems.Runnable(name); err != nil {
			return err
		}
	}
	return nil
}

// dataReadable refuses a file whose data: files cannot be read, before a
// history file or a NATS store is made for a run that could not start.
func (p *problemFiles) dataReadable() error {
	for i, name := range p.names {
		files, err := problems.DataFiles(name, "")
		if err == nil {
			err = readable(files, "")
		}
		if err != nil {
			return fmt.Errorf("problem file %s: data: %w", p.paths[i], err)
		}
	}
	return nil
}

// warnIgnored warns on w of each flag given that rc does not use, and of
// the known genomes enqueued once for being given twice.
func (s *searchFlags) warnIgnored(w io.Writer, rc gahpo.RunConfig) {
	for _, msg := range ignored(rc, s.set) {
		fmt.Fprintln(w, "gahpo: warning:", msg)
	}
	if msg := s.fid.sameText(); msg != "" {
		fmt.Fprintln(w, "gahpo: warning:", msg)
	}
}

// sameText says which known genomes were enqueued once for being given
// twice; "" when none was.
func (f *fidelityFlags) sameText() string {
	if len(f.same) == 0 {
		return ""
	}
	q := make([]string, len(f.same))
	for i, k := range f.same {
		q[i] = strconv.Quote(k)
	}
	return fmt.Sprintf("--enqueue %s: the same genome as one enqueued before (by the preset or another --enqueue, after rounding to the space's resolution): enqueued once", strings.Join(q, ", "))
}

// uniqueGenomes is initial without the genomes equal to one before them,
// as apply enqueues them.
func uniqueGenomes(initial [][]float64) [][]float64 {
	var out [][]float64
	for _, g := range initial {
		if !slices.ContainsFunc(out, func(h []float64) bool { return slices.Equal(h, g) }) {
			out = append(out, g)
		}
	}
	return out
}

// ignored names the flags given (set tells which) that the run
// configuration rc does not use, each with why: they are warned about, not
// refused, so that one command line can serve several presets.
func ignored(rc gahpo.RunConfig, set func(string) bool) []string {
	var out []string
	warn := func(flag, why string) {
		if set(flag) {
			out = append(out, "--"+flag+" has no effect "+why)
		}
	}
	if !rc.MultiFidelity() {
		for _, f := range []string{"min-epochs", "max-epochs"} {
			warn(f, "with --fidelity one-epoch (the rungs are halving's and pbt's)")
		}
	}
	if !rc.Halving() {
		warn("eta", "without --fidelity halving")
	}
	if rc.MultiFidelity() {
		warn("final-epochs", "with --fidelity "+rc.Fidelity+" (the final training is the best genome's own training to --max-epochs)")
	}
	if !rc.SteadyState() || rc.PBT() {
		warn("in-flight", "without steady-state or random breeding (a generation, or pbt's population, is published whole)")
	}
	if !problems.IsCNN(rc.Problem) {
		warn("fitness-on-test", "on problem "+rc.Problem+" (the CNN's)")
		if p, err := problems.Lookup(rc.Problem); err == nil && p.Digest == "" {
			// A problem file's command is told them (GAHPO_TRAIN_SUBSET).
			for _, f := range []string{"train-subset", "final-subset"} {
				warn(f, "on problem "+rc.Problem+" (the CNN's)")
			}
		}
	}
	return out
}
