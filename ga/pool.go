package ga

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// Score is what a Pool knows of an evaluated genome: the highest rung of a
// multi-fidelity search it reached (0 without one) and its fitness there.
type Score struct {
	Rung    int     `json:"rung"`
	Fitness float64 `json:"fitness"`
}

// Ahead reports whether score a of genome ida ranks before score b of genome
// idb in a Pool. This is the rule that makes fitness fair across the rungs
// of successive halving: a genome that reached a higher rung ranks before
// any genome that stayed below it (it was among the best 1/η of the rung
// below when it was promoted, and its fitness is measured after more
// training); within a rung, finite before NaN and ±Inf, then the lower
// fitness; ties go to the lower id. A failed genome (non-finite fitness)
// ranks after every finite one whatever its rung.
func Ahead(a Score, ida int, b Score, idb int) bool {
	fa, fb := Finite(a.Fitness), Finite(b.Fitness)
	if fa != fb {
		return fa
	}
	if fa && a.Rung != b.Rung {
		return a.Rung > b.Rung
	}
	return Better(a.Fitness, ida, b.Fitness, idb)
}

// Pool is a steady-state genetic search: genomes are bred one at a time
// (Breed), whenever the caller has room for another evaluation, from the
// Population best genomes scored so far ((μ+λ) selection, so the best
// genomes are never lost: elitism without a generation). Scores may be
// raised later (Score again with a higher rung), which moves a genome up.
//
// The first Population genomes are Config.Initial then random: the same as
// the first generation of an Engine with this Config. After that a
// genome is bred from parents drawn by tournaments of TournamentSize among
// the pool, crossed with probability CrossoverRate, then mutated; while
// fewer than two pool members have a finite fitness, genomes stay random.
// All randomness of genome id comes from a generator keyed by (Seed, id),
// so a Pool given the same calls in the same order breeds the same genomes.
// A Pool is not safe for concurrent use.
type Pool struct {
	p      Problem
	cfg    Config
	recs   []poolRec
	index  map[string]int
	random bool
	// top is Members, kept as scores come in: a breed reads it instead of
	// sorting the whole history, which made a run's breeding quadratic in
	// its length.
	top []int
}

// RandomSearch makes every genome the pool breeds random (after
// Config.Initial): a random search with the pool's bookkeeping, the
// baseline a genetic search must beat.
func (q *Pool) RandomSearch() { q.random = true }

type poolRec struct {
	G      Genome `json:"genome"`
	Score  Score  `json:"score"`
	Scored bool   `json:"scored"`
	key    string
}

// ErrPoolDone is returned by Breed once Population × Generations genomes
// have been bred.
var ErrPoolDone = errors.New("ga: every genome of the budget is bred")

// NewPool validates cfg and returns an empty pool.
func NewPool(p Problem, cfg Config) (*Pool, error) {
	if p == nil {
		return nil, errors.New("ga: nil problem")
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return &Pool{p: p, cfg: cfg, index: map[string]int{}}, nil
}

// Budget is the number of genomes the pool breeds in all.
func (q *Pool) Budget() int { return q.cfg.Population * q.cfg.Generations }

// Bred returns the number of genomes bred so far.
func (q *Pool) Bred() int { return len(q.recs) }

// Genome returns a copy of genome id.
func (q *Pool) Genome(id int) (Genome, bool) {
	if id < 1 || id > len(q.recs) {
		return Genome{}, false
	}
	return q.recs[id-1].G.clone(), true
}

// ScoreOf returns the score of genome id (a duplicate's is its original's).
func (q *Pool) ScoreOf(id int) (Score, bool) {
	if id < 1 || id > len(q.recs) {
		return Score{}, false
	}
	r := q.recs[id-1]
	if r.G.DuplicateOf != 0 {
		r = q.recs[r.G.DuplicateOf-1]
	}
	return r.Score, r.Scored
}

// Score records (or raises) the score of genome id. A duplicate cannot be
// scored: its original's score is its own.
func (q *Pool) Score(id int, s Score) error {
	if id < 1 || id > len(q.recs) {
		return fmt.Errorf("%w: genome %d (bred: %d)", ErrUnknownGenome, id, len(q.recs))
	}
	r := &q.recs[id-1]
	if r.G.DuplicateOf != 0 {
		return fmt.Errorf("%w: genome %d duplicates genome %d", ErrAlreadyTold, id, r.G.DuplicateOf)
	}
	old, was := r.Score, r.Scored
	r.Score, r.Scored = s, true
	q.place(id, old, was)
	return nil
}

// place updates top after genome id's score changed from old (was: it
// had one). A raised or new score moves the genome up into its place; a
// lowered score of a member (a promoted genome that failed on its next
// rung) may let in a genome that had been pushed out, so the members are
// found again from every score.
func (q *Pool) place(id int, old Score, was bool) {
	s := q.recs[id-1].Score
	i := slices.Index(q.top, id)
	if i >= 0 {
		if was && Ahead(old, id, s, id) {
			q.top = q.rank()
			return
		}
		q.top = slices.Delete(q.top, i, i+1)
	}
	at, _ := slices.BinarySearchFunc(q.top, id, func(m, _ int) int {
		if Ahead(q.recs[m-1].Score, m, s, id) {
			return -1
		}
		return 1
	})
	if at < q.cfg.Population {
		q.top = slices.Insert(q.top, at, id)
		q.top = q.top[:min(len(q.top), q.cfg.Population)]
	}
}

// rank returns the Population best scored genomes that are not
// duplicates, best first, from every score.
func (q *Pool) rank() []int {
	var ids []int
	for i, r := range q.recs {
		if r.Scored && r.G.DuplicateOf == 0 {
			ids = append(ids, i+1)
		}
	}
	slices.SortFunc(ids, func(a, b int) int {
		if Ahead(q.recs[a-1].Score, a, q.recs[b-1].Score, b) {
			return -1
		}
		return 1
	})
	return ids[:min(len(ids), q.cfg.Population)]
}

// Members returns the ids of the pool, best first: the Population best
// scored genomes that are not duplicates.
func (q *Pool) Members() []int { return slices.Clone(q.top) }

// firstRandom returns the k-th random genome (from 1) of a first
// generation with this seed, the k-th draw of breedRand(seed, 0). An Engine
// and a Pool both take theirs from it, so that searches compared on one
// seed start from the same genomes (common random numbers) whatever their
// breeding.
func firstRandom(p Problem, seed uint64, k int) []float64 {
	r := breedRand(seed, 0)
	for range k - 1 {
		p.Random(r)
	}
	return p.Random(r)
}

// Breed breeds the next genome. Its Generation is (id-1)/Population, a
// label for reports: a pool has no generation barrier. A genome equal to an
// earlier one comes back with DuplicateOf set; it needs no evaluation. On
// error (ErrPoolDone, or ErrProblem) the pool is unchanged.
func (q *Pool) Breed() (g Genome, err error) {
	id := len(q.recs) + 1
	if id > q.Budget() {
		return Genome{}, ErrPoolDone
	}
	defer func() {
		if v := recover(); v != nil {
			g, err = Genome{}, fmt.Errorf("%w: panic: %v", ErrProblem, v)
		}
	}()
	r := rand.New(rand.NewPCG(q.cfg.Seed^0x706f6f6c, splitmix64(uint64(id)^0x6761687062726564)))
	gen := (id - 1) / q.cfg.Population
	var (
		genes   []float64
		parents []int
		ops     []string
	)
	members := q.finiteMembers()
	switch {
	case id <= len(q.cfg.Initial):
		genes, ops = q.cfg.Initial[id-1], []string{"initial"}
	case id <= q.cfg.Population:
		genes, ops = firstRandom(q.p, q.cfg.Seed, id-len(q.cfg.Initial)), []string{"random"}
	case len(members) < 2 || q.random:
		genes, ops = q.p.Random(r), []string{"random"}
	default:
		i := q.tournament(r, members, 0)
		if r.Float64() < q.cfg.CrossoverRate {
			j := q.tournament(r, members, i)
			genes = q.p.Crossover(r, q.recs[i-1].G.Genes, q.recs[j-1].G.Genes)
			xop := "crossover"
			if n, ok := q.p.(CrossoverNamer); ok {
				xop += ":" + n.CrossoverName()
			}
			parents, ops = []int{i, j}, []string{xop}
		} else {
			genes, parents, ops = q.recs[i-1].G.Genes, []int{i}, []string{"clone"}
		}
		child, changed := q.p.Mutate(r, genes)
		if changed {
			ops = append(ops, "mutate")
		}
		genes = child
	}
	if c, ok := q.p.(Canonicalizer); ok {
		genes = c.Canonical(genes)
	}
	genes = slices.Clone(genes)
	if err := checkGenes(q.p, genes, q.width()); err != nil {
		return Genome{}, fmt.Errorf("genome %d: %w", id, err)
	}
	rec := poolRec{G: Genome{ID: id, Generation: gen, Genes: genes, Parents: parents, Ops: ops}, key: geneKey(genes)}
	if orig, ok := q.index[rec.key]; ok {
		rec.G.DuplicateOf = orig
	} else {
		q.index[rec.key] = id
	}
	q.recs = append(q.recs, rec)
	return rec.G.clone(), nil
}

// Adopt appends genome g as bred before (restoring a pool from its stored
// genomes, in id order): it must be the next id and, when it duplicates an
// earlier genome, name the first genome with its genes.
func (q *Pool) Adopt(g Genome) error {
	if g.ID != len(q.recs)+1 {
		return fmt.Errorf("%w: adopt genome %d after %d", ErrProblem, g.ID, len(q.recs))
	}
	if err := checkGenes(q.p, g.Genes, q.width()); err != nil {
		return fmt.Errorf("adopt genome %d: %w", g.ID, err)
	}
	rec := poolRec{G: g.clone(), key: geneKey(g.Genes)}
	orig, seen := q.index[rec.key]
	switch {
	case seen && g.DuplicateOf != orig:
		return fmt.Errorf("%w: genome %d has the genes of genome %d but duplicates %d", ErrProblem, g.ID, orig, g.DuplicateOf)
	case !seen && g.DuplicateOf != 0:
		return fmt.Errorf("%w: genome %d duplicates genome %d whose genes differ", ErrProblem, g.ID, g.DuplicateOf)
	case !seen:
		q.index[rec.key] = g.ID
	}
	q.recs = append(q.recs, rec)
	return nil
}

// width is the gene count of the run's genomes (0 before the first).
func (q *Pool) width() int {
	if len(q.recs) == 0 {
		return 0
	}
	return len(q.recs[0].G.Genes)
}

// finiteMembers returns the pool's members with a finite fitness.
func (q *Pool) finiteMembers() []int {
	var out []int
	for _, id := range q.top {
		if Finite(q.recs[id-1].Score.Fitness) {
			out = append(out, id)
		}
	}
	return out
}

// tournament returns the best of TournamentSize ids drawn without
// replacement from members, skipping exclude (0: none).
func (q *Pool) tournament(r *rand.Rand, members []int, exclude int) int {
	n, at := len(members), len(members) // at: exclude's place in members
	if exclude != 0 {
		if i := slices.Index(members, exclude); i >= 0 {
			n, at = n-1, i
		}
	}
	best := 0
	draw(r, n, min(q.cfg.TournamentSize, n), func(p int) {
		if p >= at {
			p++
		}
		c := members[p]
		if best == 0 || Ahead(q.recs[c-1].Score, c, q.recs[best-1].Score, best) {
			best = c
		}
	})
	return best
}

// checkGenes validates genes a Problem produced: not empty, width genes
// (when width > 0), finite, and accepted by the Problem's Checker.
func checkGenes(p Problem, genes []float64, width int) error {
	if len(genes) == 0 {
		return fmt.Errorf("%w: no genes", ErrProblem)
	}
	if width > 0 && len(genes) != width {
		return fmt.Errorf("%w: %d genes, the run's genomes have %d", ErrProblem, len(genes), width)
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

// poolJSON is the stored form of a Pool.
type poolJSON struct {
	V       int       `json:"v"`
	Config  Config    `json:"config"`
	Genomes []poolRec `json:"genomes"`
}

const poolVersion = 1

// MarshalJSON returns the pool's state, versioned; RestorePool reads it.
// Fitness values keep NaN and ±Inf.
func (q *Pool) MarshalJSON() ([]byte, error) {
	out := poolJSON{V: poolVersion, Config: q.cfg, Genomes: q.recs}
	return json.Marshal(out)
}

// MarshalJSON keeps non-finite fitness values.
func (s Score) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Rung    int       `json:"rung"`
		Fitness JSONFloat `json:"fitness"`
	}{s.Rung, JSONFloat(s.Fitness)})
}

// UnmarshalJSON reads what MarshalJSON wrote.
func (s *Score) UnmarshalJSON(b []byte) error {
	var v struct {
		Rung    int       `json:"rung"`
		Fitness JSONFloat `json:"fitness"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	s.Rung, s.Fitness = v.Rung, float64(v.Fitness)
	return nil
}

// RestorePool rebuilds a pool from MarshalJSON's output for problem p.
func RestorePool(p Problem, data []byte) (*Pool, error) {
	var in poolJSON
	if err := json.Unmarshal(data, &in); err != nil {
		return nil, fmt.Errorf("ga: restore pool: %w", err)
	}
	if in.V != poolVersion {
		return nil, fmt.Errorf("ga: restore pool: version %d, want %d", in.V, poolVersion)
	}
	q, err := NewPool(p, in.Config)
	if err != nil {
		return nil, fmt.Errorf("ga: restore pool: %w", err)
	}
	for i, r := range in.Genomes {
		if r.G.ID != i+1 || (r.G.DuplicateOf != 0 && (r.G.DuplicateOf > i || in.Genomes[r.G.DuplicateOf-1].G.DuplicateOf != 0)) {
			return nil, fmt.Errorf("ga: restore pool: genome %d out of order", r.G.ID)
		}
		if err := checkGenes(p, r.G.Genes, q.width()); err != nil {
			return nil, fmt.Errorf("ga: restore pool: genome %d: %w", r.G.ID, err)
		}
		r.key = geneKey(r.G.Genes)
		if r.G.DuplicateOf == 0 {
			q.index[r.key] = r.G.ID
		}
		q.recs = append(q.recs, r)
	}
	q.top = q.rank()
	return q, nil
}
