package ga

import (
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// shiftedSphere is a smooth landscape over a space: the squared distance, in
// the space's normalised own-scale coordinates, to a point off the centre.
func shiftedSphere(s *Space) func(Genome) float64 {
	centre := []float64{0.3, 0.7, 0.55, 0.2, 0.5, 0.5}
	return func(g Genome) float64 {
		var f float64
		for i, z := range s.Normalize(g.Genes) {
			f += (z - centre[i%len(centre)]) * (z - centre[i%len(centre)])
		}
		return f
	}
}

// drive evaluates the engine to the end with f, telling each generation's
// pending genomes in an order shuffled by order (nil: id order). before is
// called before every Tell with the number of Tells so far and may return a
// replacement engine (a restored one).
func drive(t *testing.T, e *Engine, f func(Genome) float64, order *rand.Rand, before func(n int, e *Engine) *Engine) *Engine {
	t.Helper()
	n := 0
	for !e.Done() {
		pend := e.Pending()
		if len(pend) == 0 {
			t.Fatalf("generation %d: nothing pending but not done", e.Generation())
		}
		if order != nil {
			order.Shuffle(len(pend), func(i, j int) { pend[i], pend[j] = pend[j], pend[i] })
		}
		for _, g := range pend {
			if before != nil {
				e = before(n, e)
			}
			if _, err := e.Tell(g.ID, f(g)); err != nil {
				t.Fatalf("Tell(%d): %v", g.ID, err)
			}
			n++
		}
	}
	return e
}

func smallConfig(seed uint64) Config {
	c := DefaultConfig()
	c.Population, c.Generations, c.Seed = 12, 6, seed
	return c
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		edit    func(*Config)
		wantErr string
	}{
		{name: "default"},
		{name: "minimal", edit: func(c *Config) { *c = Config{Population: 2, Generations: 1, TournamentSize: 1} }},
		{name: "population 1", edit: func(c *Config) { c.Population = 1; c.Elites = 0; c.TournamentSize = 1 }, wantErr: "population 1 must be at least 2"},
		{name: "zero value", edit: func(c *Config) { *c = Config{} }, wantErr: "population 0"},
		{name: "no generations", edit: func(c *Config) { c.Generations = 0 }, wantErr: "generations 0"},
		{name: "elites = population", edit: func(c *Config) { c.Elites = 30 }, wantErr: "elites 30 must be fewer than the population 30"},
		{name: "negative elites", edit: func(c *Config) { c.Elites = -1 }, wantErr: "elites -1"},
		{name: "tournament too large", edit: func(c *Config) { c.TournamentSize = 31 }, wantErr: "tournament size 31 is larger than the population 30"},
		{name: "tournament 0", edit: func(c *Config) { c.TournamentSize = 0 }, wantErr: "tournament size 0"},
		{name: "crossover rate 1.5", edit: func(c *Config) { c.CrossoverRate = 1.5 }, wantErr: "crossover rate 1.5 outside [0, 1]"},
		{name: "crossover rate NaN", edit: func(c *Config) { c.CrossoverRate = math.NaN() }, wantErr: "crossover rate NaN"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultConfig()
			if tt.edit != nil {
				tt.edit(&c)
			}
			err := c.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, ErrInvalidConfig) {
				t.Fatalf("Validate = %v, want ErrInvalidConfig containing %q", err, tt.wantErr)
			}
			if _, err := New(paperSpace(), c); err == nil {
				t.Error("New accepted the config")
			}
		})
	}
	if c := DefaultConfig(); c.Population != 30 || c.Generations != 28 {
		t.Errorf("DefaultConfig = %+v, want population 30 and 28 generations (the paper)", c)
	}
}

// TestLineage runs a whole search and checks every genome's record.
func TestLineage(t *testing.T) {
	s := paperSpace()
	cfg := DefaultConfig()
	cfg.Seed = 7
	e, err := New(s, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if got := len(e.Pending()); got != cfg.Population {
		t.Fatalf("generation 0 has %d pending, want %d", got, cfg.Population)
	}
	e = drive(t, e, shiftedSphere(s), nil, nil)
	hist := e.History()
	if len(hist) != cfg.Population*cfg.Generations {
		t.Fatalf("%d genomes, want %d", len(hist), cfg.Population*cfg.Generations)
	}
	if e.Generation() != cfg.Generations-1 {
		t.Errorf("Generation() = %d after the end, want %d", e.Generation(), cfg.Generations-1)
	}
	byID := func(id int) Genome { return hist[id-1] }
	for i, g := range hist {
		if g.ID != i+1 || g.Generation != i/cfg.Population {
			t.Fatalf("genome %d: id %d generation %d", i+1, g.ID, g.Generation)
		}
		if err := s.Check(g.Genes); err != nil {
			t.Fatalf("genome %d: %v", g.ID, err)
		}
		if !slices.Equal(s.Canonical(g.Genes), g.Genes) {
			t.Fatalf("genome %d: genes %v are not canonical", g.ID, g.Genes)
		}
		if _, ok := e.Fitness(g.ID); !ok {
			t.Fatalf("genome %d has no fitness at the end", g.ID)
		}
		for _, p := range g.Parents {
			if byID(p).Generation != g.Generation-1 {
				t.Fatalf("genome %d: parent %d of generation %d", g.ID, p, byID(p).Generation)
			}
		}
		if d := g.DuplicateOf; d != 0 {
			o := byID(d)
			if d >= g.ID || o.DuplicateOf != 0 || !slices.Equal(o.Genes, g.Genes) {
				t.Fatalf("genome %d duplicate of %d: genes %v vs %v", g.ID, d, g.Genes, o.Genes)
			}
			f1, _ := e.Fitness(g.ID)
			f2, _ := e.Fitness(d)
			if f1 != f2 {
				t.Fatalf("duplicate %d has fitness %v, original %d has %v", g.ID, f1, d, f2)
			}
		}
		inGen := (g.ID - 1) % cfg.Population
		switch {
		case g.Generation == 0:
			if !slices.Equal(g.Ops, []string{"random"}) || g.Parents != nil {
				t.Fatalf("genome %d: ops %v parents %v", g.ID, g.Ops, g.Parents)
			}
		case inGen < cfg.Elites:
			p := byID(g.Parents[0])
			if !slices.Equal(g.Ops, []string{"elite"}) || len(g.Parents) != 1 || !slices.Equal(p.Genes, g.Genes) || g.DuplicateOf == 0 {
				t.Fatalf("elite %d: ops %v parents %v dup %d", g.ID, g.Ops, g.Parents, g.DuplicateOf)
			}
		case g.Ops[0] == "crossover:blx":
			if len(g.Parents) != 2 || g.Parents[0] == g.Parents[1] {
				t.Fatalf("genome %d: crossover parents %v", g.ID, g.Parents)
			}
		case g.Ops[0] == "clone":
			if len(g.Parents) != 1 {
				t.Fatalf("genome %d: clone parents %v", g.ID, g.Parents)
			}
			if len(g.Ops) == 1 && g.DuplicateOf == 0 {
				t.Fatalf("genome %d: an unmutated clone is not a duplicate", g.ID)
			}
		default:
			t.Fatalf("genome %d: ops %v", g.ID, g.Ops)
		}
		if len(g.Ops) > 1 && (g.Ops[1] != "mutate" || len(g.Ops) > 2) {
			t.Fatalf("genome %d: ops %v", g.ID, g.Ops)
		}
	}
	// Elites are the best distinct genomes of the previous generation.
	for gen := 1; gen < cfg.Generations; gen++ {
		prev := hist[(gen-1)*cfg.Population : gen*cfg.Population]
		order := slices.Clone(prev)
		slices.SortStableFunc(order, func(a, b Genome) int {
			fa, _ := e.Fitness(a.ID)
			fb, _ := e.Fitness(b.ID)
			if Better(fa, a.ID, fb, b.ID) {
				return -1
			}
			return 1
		})
		want := []int{order[0].ID}
		for _, g := range order[1:] {
			if !slices.Equal(g.Genes, byID(want[0]).Genes) {
				want = append(want, g.ID)
				break
			}
		}
		got := []int{hist[gen*cfg.Population].Parents[0], hist[gen*cfg.Population+1].Parents[0]}
		if !slices.Equal(got, want) {
			t.Errorf("generation %d: elites of %v, want %v", gen, got, want)
		}
	}
	best, f, ok := e.Best()
	if !ok || best.DuplicateOf != 0 {
		t.Fatalf("Best = %+v, %v, %v", best, f, ok)
	}
	for _, g := range hist {
		if fg, _ := e.Fitness(g.ID); fg < f {
			t.Fatalf("genome %d has fitness %v below Best's %v", g.ID, fg, f)
		}
	}
}

// TestDeterminism: engines with one seed, told the same fitness values in
// different orders (and restored from JSON at many points, mid-generation
// too), breed identical generations; another seed breeds others.
func TestDeterminism(t *testing.T) {
	s := paperSpace()
	f := shiftedSphere(s)
	noisy := func(g Genome) float64 { // a per-genome "training" noise, as a worker would add
		return f(g) + 0.01*rand.New(rand.NewPCG(TrainSeed(11, g.ID), 0)).NormFloat64()
	}
	cfg := DefaultConfig()
	cfg.Seed, cfg.Generations = 11, 10
	run := func(order *rand.Rand, before func(int, *Engine) *Engine) []Genome {
		e, err := New(s, cfg)
		if err != nil {
			t.Fatal(err)
		}
		return drive(t, e, noisy, order, before).History()
	}
	ref := run(nil, nil)
	restore := func(every int) func(int, *Engine) *Engine {
		return func(n int, e *Engine) *Engine {
			if n%every != every-1 {
				return e
			}
			b, err := json.Marshal(e)
			if err != nil {
				t.Fatal(err)
			}
			r, err := Restore(s, b)
			if err != nil {
				t.Fatalf("Restore after %d tells: %v", n, err)
			}
			return r
		}
	}
	tests := []struct {
		name   string
		order  *rand.Rand
		before func(int, *Engine) *Engine
	}{
		{name: "shuffled 1", order: newRand(1)},
		{name: "shuffled 2", order: newRand(2)},
		{name: "restored after every tell", order: newRand(3), before: restore(1)},
		{name: "restored every 7 tells", order: newRand(4), before: restore(7)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := run(tt.order, tt.before)
			if !reflect.DeepEqual(got, ref) {
				for i := range min(len(got), len(ref)) {
					if !reflect.DeepEqual(got[i], ref[i]) {
						t.Fatalf("genome %d differs:\n got  %+v\n want %+v", i+1, got[i], ref[i])
					}
				}
				t.Fatalf("%d genomes, want %d", len(got), len(ref))
			}
		})
	}
	cfg.Seed = 12
	if other := run(nil, nil); reflect.DeepEqual(other[:cfg.Population], ref[:cfg.Population]) {
		t.Error("seeds 11 and 12 bred the same generation 0")
	}
}

// TestDuplicates uses a space of 9 points with a population of 10: duplicates
// appear in generation 0, no point is ever sent twice, and once every point is
// known the remaining generations breed without a single evaluation.
func TestDuplicates(t *testing.T) {
	s := mustSpace(t, nil, IntParam("a", 0, 2), IntParam("b", 0, 2))
	cfg := Config{Population: 10, Generations: 28, Elites: 1, TournamentSize: 2, CrossoverRate: 0.9, Seed: 3}
	e, err := New(s, cfg)
	if err != nil {
		t.Fatal(err)
	}
	f := func(g Genome) float64 { return (g.Genes[0]-2)*(g.Genes[0]-2) + (g.Genes[1]-1)*(g.Genes[1]-1) }

	// Generation 0: duplicates are not pending and resolve with their original.
	cur, pend := e.Current(), e.Pending()
	var dups []Genome
	for _, g := range cur {
		if g.DuplicateOf != 0 {
			dups = append(dups, g)
		}
	}
	if len(dups) == 0 || len(pend)+len(dups) != len(cur) {
		t.Fatalf("generation 0: %d genomes, %d pending, %d duplicates", len(cur), len(pend), len(dups))
	}
	d := dups[0]
	if _, ok := e.Fitness(d.ID); ok {
		t.Fatal("duplicate has a fitness before its original is told")
	}
	if _, err := e.Tell(d.ID, 1); !errors.Is(err, ErrAlreadyTold) {
		t.Fatalf("Tell(duplicate) = %v, want ErrAlreadyTold", err)
	}
	orig, _ := e.Genome(d.DuplicateOf)
	if _, err := e.Tell(orig.ID, f(orig)); err != nil {
		t.Fatal(err)
	}
	if got, ok := e.Fitness(d.ID); !ok || got != f(orig) {
		t.Fatalf("duplicate fitness = %v, %v; want %v", got, ok, f(orig))
	}

	told := map[[2]float64]int{[2]float64(orig.Genes): 1}
	for !e.Done() {
		for _, g := range e.Pending() {
			told[[2]float64(g.Genes)]++
			if _, err := e.Tell(g.ID, f(g)); err != nil {
				t.Fatal(err)
			}
		}
	}
	for k, n := range told {
		if n != 1 {
			t.Errorf("point %v evaluated %d times", k, n)
		}
	}
	if len(told) > 9 {
		t.Errorf("%d points evaluated in a space of 9", len(told))
	}
	if got := len(e.History()); got != cfg.Population*cfg.Generations {
		t.Errorf("%d genomes bred, want %d", got, cfg.Population*cfg.Generations)
	}
	best, fb, _ := e.Best()
	t.Logf("%d distinct points evaluated for %d genomes; best %v = %v", len(told), len(e.History()), best.Genes, fb)
	if fb != 0 {
		t.Errorf("best fitness %v, want 0 at (2, 1)", fb)
	}
}

// TestNonFinite: NaN, +Inf and -Inf fitness rank last, never become elites
// or Best, survive a JSON round trip, and never stop the search.
func TestNonFinite(t *testing.T) {
	s := paperSpace()
	sphere := shiftedSphere(s)
	f := func(g Genome) float64 {
		switch g.ID % 5 {
		case 0:
			return math.NaN()
		case 1:
			return math.Inf(1) // a failed evaluation
		case 2:
			return math.Inf(-1)
		}
		return sphere(g)
	}
	cfg := smallConfig(5)
	cfg.Elites = 5
	e, err := New(s, cfg)
	if err != nil {
		t.Fatal(err)
	}
	var saved []byte
	e = drive(t, e, f, nil, func(n int, e *Engine) *Engine {
		if n == 40 {
			if saved, err = json.Marshal(e); err != nil {
				t.Fatal(err)
			}
			if e, err = Restore(s, saved); err != nil {
				t.Fatal(err)
			}
		}
		return e
	})
	for _, w := range []string{`"fitness":"NaN"`, `"fitness":"+Inf"`, `"fitness":"-Inf"`} {
		if !strings.Contains(string(saved), w) {
			t.Errorf("saved state lacks %s", w)
		}
	}
	for _, g := range e.History() {
		if slices.Contains(g.Ops, "elite") {
			if fit, _ := e.Fitness(g.ID); !Finite(fit) {
				t.Errorf("elite %d has fitness %v", g.ID, fit)
			}
		}
	}
	best, fb, ok := e.Best()
	if !ok || !Finite(fb) || fb != sphere(best) {
		t.Errorf("Best = %v, %v, %v", best.ID, fb, ok)
	}

	// All evaluations failed: no Best, and no elites.
	e, _ = New(s, smallConfig(6))
	e = drive(t, e, func(Genome) float64 { return math.Inf(1) }, nil, nil)
	if _, _, ok := e.Best(); ok {
		t.Error("Best reported a genome when every evaluation failed")
	}
	for _, g := range e.History() {
		if slices.Contains(g.Ops, "elite") {
			t.Fatalf("genome %d is an elite of failed genomes", g.ID)
		}
	}
}

func TestTellErrors(t *testing.T) {
	s := paperSpace()
	cfg := Config{Population: 4, Generations: 2, Elites: 1, TournamentSize: 2, CrossoverRate: 0.9, Seed: 1}
	e, err := New(s, cfg)
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name         string
		id           int
		wantErr      error
		wantMsg      string
		wantAdvanced bool
	}{
		{name: "id 0", id: 0, wantErr: ErrUnknownGenome},
		{name: "future id", id: 5, wantErr: ErrUnknownGenome, wantMsg: "generation 0 holds ids 1 to 4"},
		{name: "first", id: 2},
		{name: "again", id: 2, wantErr: ErrAlreadyTold},
		{name: "second", id: 1},
		{name: "third", id: 4},
		{name: "last of generation 0", id: 3, wantAdvanced: true},
		{name: "late result", id: 3, wantErr: ErrUnknownGenome, wantMsg: "belongs to generation 0, the current one is 1"},
		{name: "elite is a duplicate", id: 5, wantErr: ErrAlreadyTold, wantMsg: "duplicates genome"},
	}
	for _, st := range steps {
		adv, err := e.Tell(st.id, 0.5+float64(st.id))
		if !errors.Is(err, st.wantErr) || (st.wantErr == nil) != (err == nil) || adv != st.wantAdvanced {
			t.Fatalf("%s: Tell(%d) = %v, %v; want %v, %v", st.name, st.id, adv, err, st.wantAdvanced, st.wantErr)
		}
		if st.wantMsg != "" && !strings.Contains(err.Error(), st.wantMsg) {
			t.Fatalf("%s: error %q lacks %q", st.name, err, st.wantMsg)
		}
	}
	if e.Generation() != 1 {
		t.Fatalf("Generation() = %d, want 1", e.Generation())
	}
	var last bool
	for _, g := range e.Pending() {
		if last, err = e.Tell(g.ID, 1); err != nil {
			t.Fatal(err)
		}
	}
	if !last || !e.Done() || e.Generation() != 1 || len(e.Pending()) != 0 {
		t.Fatalf("after the last tell: advanced %v, done %v, generation %d, pending %d", last, e.Done(), e.Generation(), len(e.Pending()))
	}
	if _, err := e.Tell(8, 1); !errors.Is(err, ErrDone) {
		t.Fatalf("Tell after the end = %v, want ErrDone", err)
	}
}

// flakyProblem wraps a Space and breaks one of its operators on demand.
type flakyProblem struct {
	*Space
	badRandom    bool
	badCrossover bool
	// crossovers counts the crossovers; the badFrom-th and later ones
	// are bad when badFrom > 0 (children bred before it are kept).
	crossovers, badFrom int
}

func (p *flakyProblem) Random(r *rand.Rand) []float64 {
	g := p.Space.Random(r)
	if p.badRandom {
		g[1] = math.NaN()
	}
	return g
}

func (p *flakyProblem) Crossover(r *rand.Rand, a, b []float64) []float64 {
	c := p.Space.Crossover(r, a, b)
	p.crossovers++
	if p.badCrossover || (p.badFrom > 0 && p.crossovers >= p.badFrom) {
		c = c[:2]
	}
	return c
}

func TestProblemErrors(t *testing.T) {
	cfg := smallConfig(1)
	cfg.CrossoverRate = 1
	if _, err := New(&flakyProblem{Space: paperSpace(), badRandom: true}, cfg); !errors.Is(err, ErrProblem) {
		t.Fatalf("New with NaN genes = %v, want ErrProblem", err)
	}
	if _, err := New(nil, cfg); err == nil {
		t.Fatal("New(nil) succeeded")
	}
	p := &flakyProblem{Space: paperSpace(), badFrom: 3} // two children bred, then a failure
	e, err := New(p, cfg)
	if err != nil {
		t.Fatal(err)
	}
	pend := e.Pending()
	for _, g := range pend[:len(pend)-1] {
		if _, err := e.Tell(g.ID, 1); err != nil {
			t.Fatal(err)
		}
	}
	lastID := pend[len(pend)-1].ID
	before, _ := json.Marshal(e)
	if _, err := e.Tell(lastID, 1); !errors.Is(err, ErrProblem) || !strings.Contains(err.Error(), "breed generation 1") {
		t.Fatalf("Tell breeding bad genes = %v, want ErrProblem", err)
	}
	after, _ := json.Marshal(e)
	if string(before) != string(after) {
		t.Fatal("a failed breeding changed the engine")
	}
	p.badFrom = 0
	if adv, err := e.Tell(lastID, 1); err != nil || !adv {
		t.Fatalf("Tell once the problem is fixed = %v, %v", adv, err)
	}
	// What it bred then is what an engine that never failed breeds: the
	// failed attempt left nothing behind (genomes, their index of genes).
	clean, err := New(&flakyProblem{Space: paperSpace()}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range pend {
		if _, err := clean.Tell(g.ID, 1); err != nil {
			t.Fatal(err)
		}
	}
	got, _ := json.Marshal(e)
	want, _ := json.Marshal(clean)
	if string(got) != string(want) {
		t.Fatalf("after a failed breeding the engine breeds\n%s\nan engine that never failed\n%s", got, want)
	}
}

// staticProblem never changes genes: after generation 0 every genome is a
// duplicate, and the engine breeds on to the end without evaluations.
type staticProblem struct{ *Space }

func (p staticProblem) Mutate(_ *rand.Rand, g []float64) ([]float64, bool) { return g, false }
func (p staticProblem) Crossover(_ *rand.Rand, a, _ []float64) []float64   { return a }

func TestAllDuplicateGenerations(t *testing.T) {
	e, err := New(staticProblem{paperSpace()}, smallConfig(2))
	if err != nil {
		t.Fatal(err)
	}
	var adv bool
	for _, g := range e.Pending() {
		if adv, err = e.Tell(g.ID, float64(g.ID)); err != nil {
			t.Fatal(err)
		}
	}
	if !adv || !e.Done() || e.Generation() != 5 {
		t.Fatalf("advanced %v, done %v, generation %d; want the search done", adv, e.Done(), e.Generation())
	}
	for _, g := range e.History()[12:] {
		if g.DuplicateOf == 0 {
			t.Fatalf("genome %d is not a duplicate", g.ID)
		}
	}
}

func TestTrainSeed(t *testing.T) {
	seen := map[uint64]bool{}
	for _, run := range []uint64{0, 1, 2, 1 << 63} {
		for id := 1; id <= 5000; id++ {
			s := TrainSeed(run, id)
			if seen[s] {
				t.Fatalf("TrainSeed(%d, %d) = %d repeats", run, id, s)
			}
			seen[s] = true
			if s != TrainSeed(run, id) {
				t.Fatal("TrainSeed is not deterministic")
			}
		}
	}
	// A good mixer: neighbouring ids differ in about half their bits.
	var bits int
	for id := 1; id <= 1000; id++ {
		x := TrainSeed(42, id) ^ TrainSeed(42, id+1)
		for ; x != 0; x &= x - 1 {
			bits++
		}
	}
	if avg := float64(bits) / 1000; avg < 30 || avg > 34 {
		t.Errorf("neighbouring ids differ in %.1f bits on average, want about 32", avg)
	}
}

func TestRestoreErrors(t *testing.T) {
	s := paperSpace()
	e, err := New(s, smallConfig(9))
	if err != nil {
		t.Fatal(err)
	}
	pend := e.Pending()
	for _, g := range pend {
		if _, err := e.Tell(g.ID, g.Genes[2]); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.Tell(e.Pending()[0].ID, 0.5); err != nil {
		t.Fatal(err)
	}
	good, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	edit := func(f func(m map[string]any)) []byte {
		var m map[string]any
		if err := json.Unmarshal(good, &m); err != nil {
			t.Fatal(err)
		}
		f(m)
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	genome := func(m map[string]any, i int) map[string]any { return m["genomes"].([]any)[i].(map[string]any) }
	other := paperSpace()
	other.Params[0].Max = 256
	tests := []struct {
		name    string
		p       Problem
		state   []byte
		wantMsg string
	}{
		{name: "good", state: good},
		{name: "not JSON", state: good[:len(good)/2], wantMsg: "decode"},
		{name: "version 2", state: edit(func(m map[string]any) { m["version"] = 2 }), wantMsg: "version 2, want 1"},
		{name: "no version", state: edit(func(m map[string]any) { delete(m, "version") }), wantMsg: "version 0, want 1"},
		{name: "unknown field", state: edit(func(m map[string]any) { m["rng"] = 1 }), wantMsg: `unknown field "rng"`},
		{name: "bad config", state: edit(func(m map[string]any) { m["config"].(map[string]any)["population"] = 1 }), wantMsg: "population 1"},
		{name: "missing genome", state: edit(func(m map[string]any) { m["genomes"] = m["genomes"].([]any)[1:] }), wantMsg: "23 genomes, want 24"},
		{name: "finished without fitness", state: edit(func(m map[string]any) { delete(genome(m, 3), "fitness") }), wantMsg: "has no fitness"},
		{name: "gene out of space", state: edit(func(m map[string]any) { genome(m, 0)["genes"].([]any)[0] = 500 }), wantMsg: `"batch_size": 500 outside`},
		{name: "bad fitness", state: edit(func(m map[string]any) { genome(m, 0)["fitness"] = "lots" }), wantMsg: `bad float "lots"`},
		{name: "unmarked duplicate", state: edit(func(m map[string]any) { delete(genome(m, 12), "duplicate_of") }), wantMsg: "not marked a duplicate"},
		{name: "another problem", p: other, state: good, wantMsg: "another problem"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := tt.p
			if p == nil {
				p = s
			}
			r, err := Restore(p, tt.state)
			if tt.wantMsg == "" {
				if err != nil {
					t.Fatalf("Restore: %v", err)
				}
				if got, _ := json.Marshal(r); string(got) != string(good) {
					t.Fatalf("restored state differs:\n%s\n%s", got, good)
				}
				return
			}
			if !errors.Is(err, ErrBadState) || !strings.Contains(err.Error(), tt.wantMsg) {
				t.Fatalf("Restore = %v, want ErrBadState containing %q", err, tt.wantMsg)
			}
		})
	}
}

// TestRestoreWith restores an engine from its head and the genomes a
// caller kept: it equals the engine restored from its whole state, breeds
// the same, and refuses genomes that do not belong to the head.
func TestRestoreWith(t *testing.T) {
	s := paperSpace()
	e, err := New(s, smallConfig(9))
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range e.Pending() {
		if _, err := e.Tell(g.ID, g.Genes[2]); err != nil {
			t.Fatal(err)
		}
	}
	head, err := e.MarshalHead()
	if err != nil {
		t.Fatal(err)
	}
	if len(head) > 1000 {
		t.Fatalf("the head is %d bytes: %s", len(head), head)
	}
	if _, err := e.Tell(e.Pending()[0].ID, 0.5); err != nil { // a result after the head was saved
		t.Fatal(err)
	}
	full, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	told := func(e *Engine) []Told {
		var out []Told
		for _, g := range e.History() {
			f, ok := e.Fitness(g.ID)
			out = append(out, Told{Genome: g, Fitness: f, Known: ok})
		}
		return out
	}
	all := told(e)
	complete, unknown := slices.Clone(all), slices.Clone(all)
	for i := range complete {
		complete[i].Fitness, complete[i].Known = 1, true
	}
	unknown[3].Known = false // a genome of the finished generation 0
	tests := []struct {
		name    string
		head    []byte
		genomes []Told
		wantMsg string
	}{
		{name: "head", head: head, genomes: all},
		{name: "whole state", head: full, genomes: all},
		{name: "a genome missing", head: head, genomes: all[1:], wantMsg: "23 genomes, want 24"},
		{name: "a finished genome without fitness", head: head, genomes: unknown, wantMsg: "has no fitness"},
		{name: "the generation complete", head: head, genomes: complete, wantMsg: "complete but the next was not bred"},
		{name: "not a head", head: []byte(`{"version":1,"generations":3}`), genomes: all, wantMsg: "unknown field"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := RestoreWith(s, tt.head, tt.genomes)
			if tt.wantMsg != "" {
				if !errors.Is(err, ErrBadState) || !strings.Contains(err.Error(), tt.wantMsg) {
					t.Fatalf("RestoreWith = %v, want ErrBadState containing %q", err, tt.wantMsg)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got, _ := json.Marshal(r); string(got) != string(full) {
				t.Fatalf("restored state differs:\n%s\n%s", got, full)
			}
			for _, g := range e.Pending() { // both finish the generation alike
				if _, err := r.Tell(g.ID, 1); err != nil {
					t.Fatal(err)
				}
			}
			want, _ := Restore(s, full)
			for _, g := range want.Pending() {
				if _, err := want.Tell(g.ID, 1); err != nil {
					t.Fatal(err)
				}
			}
			if got, w := told(r), told(want); !reflect.DeepEqual(got, w) {
				t.Fatalf("the next generation differs:\n%v\n%v", got, w)
			}
		})
	}
}

// TestConcurrentTell tells one engine from several goroutines while another
// reads and checkpoints it (run with -race); the outcome equals a serial run.
func TestConcurrentTell(t *testing.T) {
	s := paperSpace()
	f := shiftedSphere(s)
	cfg := smallConfig(21)
	serial, _ := New(s, cfg)
	ref := drive(t, serial, f, nil, nil).History()

	e, _ := New(s, cfg)
	stop := make(chan struct{})
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		for {
			select {
			case <-stop:
				return
			default:
				_ = e.Pending()
				if _, err := json.Marshal(e); err != nil {
					t.Error(err)
					return
				}
			}
		}
	}()
	for !e.Done() {
		pend := e.Pending()
		errs := make(chan error, len(pend))
		for _, g := range pend {
			go func() {
				_, err := e.Tell(g.ID, f(g))
				errs <- err
			}()
		}
		for range pend {
			if err := <-errs; err != nil {
				t.Fatal(err)
			}
		}
	}
	close(stop)
	<-readerDone
	if !reflect.DeepEqual(e.History(), ref) {
		t.Fatal("concurrent run differs from the serial one")
	}
}
