package ga

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
)

// Errors returned (wrapped, with details) by the Engine.
var (
	// ErrUnknownGenome is returned by Tell for an id that is not in the
	// current generation (an unknown id, or a late result of an earlier one).
	ErrUnknownGenome = errors.New("ga: unknown genome")
	// ErrAlreadyTold is returned by Tell for a genome whose fitness is known:
	// told before, or a duplicate that reuses another genome's fitness.
	ErrAlreadyTold = errors.New("ga: fitness already told")
	// ErrDone is returned by Tell once every generation has been evaluated.
	ErrDone = errors.New("ga: search is done")
	// ErrProblem is returned when the Problem produced genes the engine cannot
	// issue: empty, of a changed length, NaN or infinite, or refused by the
	// Problem's own Check.
	ErrProblem = errors.New("ga: problem produced invalid genes")
)

// Genome is one proposed point of the search with its lineage.
type Genome struct {
	// ID is unique in the run, starting at 1, sequential in breeding order.
	ID int `json:"id"`
	// Generation is the 0-based generation the genome belongs to.
	Generation int `json:"generation"`
	// Genes are canonical (see Canonicalizer) when the Problem has a
	// Canonicalizer.
	Genes []float64 `json:"genes"`
	// Parents are the ids of the genomes it was bred from (none in generation 0).
	Parents []int `json:"parents,omitempty"`
	// Ops name the operators that made it, in order: "random", "initial"
	// (a known genome of Config.Initial), "elite",
	// "crossover:<name>" (or "crossover"), "clone" (copied from one parent),
	// "mutate".
	Ops []string `json:"ops,omitempty"`
	// DuplicateOf is the id of the earlier genome with equal canonical genes
	// whose fitness this one reuses; 0 when the genome is evaluated itself.
	DuplicateOf int `json:"duplicate_of,omitempty"`
}

func (g Genome) clone() Genome {
	g.Genes = slices.Clone(g.Genes)
	g.Parents = slices.Clone(g.Parents)
	g.Ops = slices.Clone(g.Ops)
	return g
}

// record is a genome with its fitness and duplicate key.
type record struct {
	g     Genome
	fit   float64
	known bool
	key   string
}

// state is everything an Engine knows. A generation is bred in place; a
// failed breeding is rolled back (mark, rollback), leaving the engine
// unchanged.
type state struct {
	cfg   Config
	gen   int
	recs  []record       // every genome of the run, recs[id-1]
	index map[string]int // key -> id of the genome evaluated for those genes
}

// Engine is an ask/tell genetic search. Ask with Pending (or Current), tell
// with Tell. An Engine is safe for concurrent use.
type Engine struct {
	mu sync.Mutex
	p  Problem
	st *state
}

// New validates cfg and returns an engine with generation 0 bred: Population
// random genomes from p.
func New(p Problem, cfg Config) (*Engine, error) {
	if p == nil {
		return nil, errors.New("ga: nil problem")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	st := &state{cfg: cfg, index: make(map[string]int)}
	if err := st.breed(p, 0); err != nil {
		return nil, fmt.Errorf("ga: breed generation 0: %w", err)
	}
	return &Engine{p: p, st: st}, nil
}

// Config returns the engine's configuration.
func (e *Engine) Config() Config {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.st.cfg
}

// Generation returns the current generation index (0-based); it stays at the
// last one when the search is done.
func (e *Engine) Generation() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.st.gen
}

// Done reports whether every generation has been evaluated.
func (e *Engine) Done() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.st.done()
}

// Current returns copies of every genome of the current generation, in id order.
func (e *Engine) Current() []Genome {
	e.mu.Lock()
	defer e.mu.Unlock()
	cur := e.st.current()
	out := make([]Genome, len(cur))
	for i, r := range cur {
		out[i] = r.g.clone()
	}
	return out
}

// Pending returns copies of the genomes of the current generation that await
// a fitness, in id order: not told yet and not duplicates.
func (e *Engine) Pending() []Genome {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []Genome
	for _, r := range e.st.current() {
		if r.pending() {
			out = append(out, r.g.clone())
		}
	}
	return out
}

// Genome returns a copy of genome id if it belongs to the current generation.
func (e *Engine) Genome(id int) (Genome, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.st.inCurrent(id) {
		return Genome{}, false
	}
	return e.st.recs[id-1].g.clone(), true
}

// History returns copies of every genome bred in the run, in id order.
func (e *Engine) History() []Genome { return e.HistoryFrom(1) }

// HistoryFrom returns copies of the genomes bred in the run from id on, in
// id order: what was bred since a caller last looked, without copying the
// whole history again.
func (e *Engine) HistoryFrom(id int) []Genome {
	e.mu.Lock()
	defer e.mu.Unlock()
	recs := e.st.recs[min(max(id-1, 0), len(e.st.recs)):]
	out := make([]Genome, len(recs))
	for i, r := range recs {
		out[i] = r.g.clone()
	}
	return out
}

// Fitness returns the known fitness of any genome of the run, including a
// duplicate's reused fitness; false while unknown or for an unknown id.
func (e *Engine) Fitness(id int) (float64, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if id < 1 || id > len(e.st.recs) || !e.st.recs[id-1].known {
		return 0, false
	}
	return e.st.recs[id-1].fit, true
}

// Tell records the fitness of genome id of the current generation. NaN and
// ±Inf are allowed and rank last; tell a failed evaluation as +Inf. The
// duplicates of id in the generation receive the same fitness.
//
// advanced reports that this fitness completed the generation: the next one
// has been bred (deterministically from the seed, the generation index and
// the fitness values in id order, never from the order of Tell calls), or,
// after the last generation, Done is now true. If the bred generation is
// already complete (all duplicates of evaluated genomes), the engine breeds
// on until a generation needs evaluations or the search is done.
//
// Tell returns ErrDone, ErrUnknownGenome (an id outside the current
// generation) or ErrAlreadyTold (told before, or a duplicate) without
// changing anything. If breeding fails (ErrProblem), the fitness is not
// recorded and the engine is unchanged.
func (e *Engine) Tell(id int, fitness float64) (advanced bool, err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	st := e.st
	if st.done() {
		return false, fmt.Errorf("%w: tell genome %d", ErrDone, id)
	}
	if !st.inCurrent(id) {
		lo, hi := st.gen*st.cfg.Population+1, (st.gen+1)*st.cfg.Population
		if id >= 1 && id < lo {
			return false, fmt.Errorf("%w: genome %d belongs to generation %d, the current one is %d",
				ErrUnknownGenome, id, (id-1)/st.cfg.Population, st.gen)
		}
		return false, fmt.Errorf("%w: genome %d (generation %d holds ids %d to %d)",
			ErrUnknownGenome, id, st.gen, lo, hi)
	}
	r := st.recs[id-1]
	if r.g.DuplicateOf != 0 {
		return false, fmt.Errorf("%w: genome %d duplicates genome %d, whose fitness it reuses",
			ErrAlreadyTold, id, r.g.DuplicateOf)
	}
	if r.known {
		return false, fmt.Errorf("%w: genome %d", ErrAlreadyTold, id)
	}
	if st.pendingCount() > 1 {
		st.set(id, fitness)
		return false, nil
	}
	// The last fitness of the generation: breed on in place, and undo it
	// all if breeding fails (the run's history is not copied: it grows
	// with every generation).
	undo := st.mark()
	st.set(id, fitness)
	for st.complete() && st.gen < st.cfg.Generations-1 {
		st.gen++
		if err := st.breed(e.p, st.gen); err != nil {
			gen := st.gen
			st.rollback(undo)
			return false, fmt.Errorf("ga: breed generation %d: %w", gen, err)
		}
	}
	return true, nil
}

// undo is what rollback needs to return a state to an earlier mark: its
// generation, its length and the records of the generation then current
// (the only ones set changes).
type undo struct {
	gen, n  int
	current []record
}

// mark remembers the state for a rollback.
func (st *state) mark() undo {
	return undo{gen: st.gen, n: len(st.recs), current: slices.Clone(st.current())}
}

// rollback returns the state to u: the genomes bred since leave the
// history and the index, the fitness set since is forgotten.
func (st *state) rollback(u undo) {
	for _, r := range st.recs[u.n:] {
		if st.index[r.key] == r.g.ID {
			delete(st.index, r.key)
		}
	}
	st.recs = st.recs[:u.n]
	st.gen = u.gen
	copy(st.current(), u.current)
}

// Best returns the genome with the lowest finite fitness of the whole run so
// far (ties: the lowest id, so an original before its duplicates); false when
// no genome has a finite fitness yet.
func (e *Engine) Best() (Genome, float64, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	best := -1
	for i, r := range e.st.recs {
		if !r.known || !Finite(r.fit) {
			continue
		}
		if best < 0 || Better(r.fit, r.g.ID, e.st.recs[best].fit, e.st.recs[best].g.ID) {
			best = i
		}
	}
	if best < 0 {
		return Genome{}, 0, false
	}
	return e.st.recs[best].g.clone(), e.st.recs[best].fit, true
}

func (r record) pending() bool { return !r.known && r.g.DuplicateOf == 0 }

// current returns the records of the current generation.
func (st *state) current() []record {
	lo := st.gen * st.cfg.Population
	return st.recs[lo:min(lo+st.cfg.Population, len(st.recs))]
}

func (st *state) inCurrent(id int) bool {
	lo := st.gen * st.cfg.Population
	return id > lo && id <= lo+st.cfg.Population && id <= len(st.recs)
}

func (st *state) pendingCount() int {
	n := 0
	for _, r := range st.current() {
		if r.pending() {
			n++
		}
	}
	return n
}

func (st *state) complete() bool {
	cur := st.current()
	if len(cur) < st.cfg.Population {
		return false
	}
	for _, r := range cur {
		if !r.known {
			return false
		}
	}
	return true
}

func (st *state) done() bool { return st.gen == st.cfg.Generations-1 && st.complete() }

// set records the fitness of id and of its duplicates in the current generation.
func (st *state) set(id int, fitness float64) {
	st.recs[id-1].fit, st.recs[id-1].known = fitness, true
	lo := st.gen * st.cfg.Population
	for i := lo; i < len(st.recs); i++ {
		if st.recs[i].g.DuplicateOf == id {
			st.recs[i].fit, st.recs[i].known = fitness, true
		}
	}
}

// breed appends generation gen to the state: random genomes for generation 0,
// otherwise the elites of generation gen-1 then children of tournament
// winners (crossover with probability CrossoverRate, else a copy of one
// parent, then mutation). All randomness comes from breedRand(seed, gen)
// (generation 0's through firstRandom, which a Pool shares).
// A panic in the Problem is returned as ErrProblem; on error the state holds
// part of a generation and must be discarded.
func (st *state) breed(p Problem, gen int) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("%w: panic: %v", ErrProblem, v)
		}
	}()
	pop := st.cfg.Population
	if gen == 0 {
		for i, genes := range st.cfg.Initial {
			if err := st.add(p, gen, genes, nil, []string{"initial"}); err != nil {
				return fmt.Errorf("initial genome %d: %w", i+1, err)
			}
		}
		for k := range pop - len(st.cfg.Initial) {
			if err := st.add(p, gen, firstRandom(p, st.cfg.Seed, k+1), nil, []string{"random"}); err != nil {
				return err
			}
		}
		return nil
	}
	r := breedRand(st.cfg.Seed, gen)
	prev := st.recs[(gen-1)*pop : gen*pop]
	for _, i := range elites(prev, st.cfg.Elites) {
		if err := st.add(p, gen, prev[i].g.Genes, []int{prev[i].g.ID}, []string{"elite"}); err != nil {
			return err
		}
	}
	xop := "crossover"
	if n, ok := p.(CrossoverNamer); ok {
		xop += ":" + n.CrossoverName()
	}
	for len(st.recs) < (gen+1)*pop {
		i := tournament(r, prev, st.cfg.TournamentSize, -1)
		var (
			genes   []float64
			parents []int
			ops     []string
		)
		if r.Float64() < st.cfg.CrossoverRate {
			j := tournament(r, prev, st.cfg.TournamentSize, i)
			genes = p.Crossover(r, prev[i].g.Genes, prev[j].g.Genes)
			if err := st.checkGenes(p, genes); err != nil {
				return fmt.Errorf("crossover of genomes %d and %d: %w", prev[i].g.ID, prev[j].g.ID, err)
			}
			parents, ops = []int{prev[i].g.ID, prev[j].g.ID}, []string{xop}
		} else {
			genes = prev[i].g.Genes
			parents, ops = []int{prev[i].g.ID}, []string{"clone"}
		}
		child, changed := p.Mutate(r, genes)
		if changed {
			ops = append(ops, "mutate")
		}
		if err := st.add(p, gen, child, parents, ops); err != nil {
			return err
		}
	}
	return nil
}

// add canonicalises and checks genes, then appends them as the next genome,
// resolving it as a duplicate when its genes were issued before.
func (st *state) add(p Problem, gen int, genes []float64, parents []int, ops []string) error {
	id := len(st.recs) + 1
	if c, ok := p.(Canonicalizer); ok {
		genes = c.Canonical(genes)
	}
	genes = slices.Clone(genes)
	if err := st.checkGenes(p, genes); err != nil {
		return fmt.Errorf("genome %d: %w", id, err)
	}
	rec := record{
		g:   Genome{ID: id, Generation: gen, Genes: genes, Parents: parents, Ops: ops},
		key: geneKey(genes),
	}
	if orig, ok := st.index[rec.key]; ok {
		rec.g.DuplicateOf = orig
		if o := st.recs[orig-1]; o.known {
			rec.fit, rec.known = o.fit, true
		}
	} else {
		st.index[rec.key] = id
	}
	st.recs = append(st.recs, rec)
	return nil
}

func (st *state) checkGenes(p Problem, genes []float64) error {
	if len(genes) == 0 {
		return fmt.Errorf("%w: no genes", ErrProblem)
	}
	if len(st.recs) > 0 && len(genes) != len(st.recs[0].g.Genes) {
		return fmt.Errorf("%w: %d genes, the run's genomes have %d", ErrProblem, len(genes), len(st.recs[0].g.Genes))
	}
	for i, x := range genes {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return fmt.Errorf("%w: gene %d is %g", ErrProblem, i, x)
		}
	}
	if c, ok := p.(Checker); ok {
		if err := c.Check(genes); err != nil {
			return fmt.Errorf("%w: %w", ErrProblem, err)
		}
	}
	return nil
}

// geneKey identifies genes exactly (bit patterns, with -0 read as 0).
func geneKey(genes []float64) string {
	b := make([]byte, 0, 8*len(genes))
	for _, x := range genes {
		if x == 0 {
			x = 0
		}
		b = binary.BigEndian.AppendUint64(b, math.Float64bits(x))
	}
	return string(b)
}
