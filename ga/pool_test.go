package ga

import (
	"errors"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"
)

func TestAhead(t *testing.T) {
	inf, nan := math.Inf(1), math.NaN()
	tests := []struct {
		name    string
		a       Score
		ida     int
		b       Score
		idb     int
		aFirst  bool
		comment string
	}{
		{"higher rung first", Score{2, 0.5}, 9, Score{0, 0.01}, 1, true, "rung beats fitness"},
		{"lower rung after", Score{0, 0.01}, 1, Score{1, 0.9}, 2, false, ""},
		{"same rung lower fitness", Score{1, 0.2}, 5, Score{1, 0.3}, 2, true, ""},
		{"same rung tie lower id", Score{1, 0.2}, 2, Score{1, 0.2}, 5, true, ""},
		{"failed after finite of lower rung", Score{3, inf}, 1, Score{0, 0.9}, 2, false, "a failure ranks last whatever its rung"},
		{"-Inf is a failure too", Score{0, math.Inf(-1)}, 1, Score{0, 0.9}, 2, false, ""},
		{"NaN last", Score{0, nan}, 1, Score{0, 1e9}, 2, false, ""},
		{"two failures by id", Score{0, nan}, 1, Score{2, inf}, 2, true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Ahead(tt.a, tt.ida, tt.b, tt.idb); got != tt.aFirst {
				t.Errorf("Ahead(%v #%d, %v #%d) = %v, want %v %s", tt.a, tt.ida, tt.b, tt.idb, got, tt.aFirst, tt.comment)
			}
			if tt.ida != tt.idb {
				if got := Ahead(tt.b, tt.idb, tt.a, tt.ida); got == tt.aFirst {
					t.Errorf("Ahead is not antisymmetric on %s", tt.name)
				}
			}
		})
	}
}

func poolSpace(t *testing.T) *Space {
	t.Helper()
	s, err := NewSpace(FloatParam("x", 0, 1, Linear), FloatParam("y", 1e-4, 1, Log), IntParam("n", 1, 50))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// breedAll breeds the pool's whole budget, scoring each genome with f
// right after it is bred (a duplicate gets no score of its own).
func breedAll(t *testing.T, q *Pool, f func(Genome) Score) []Genome {
	t.Helper()
	var out []Genome
	for {
		g, err := q.Breed()
		if errors.Is(err, ErrPoolDone) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, g)
		if g.DuplicateOf == 0 {
			if err := q.Score(g.ID, f(g)); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func TestPoolBreedsBudgetDeterministically(t *testing.T) {
	s := poolSpace(t)
	cfg := smallConfig(7)
	f := func(g Genome) Score { return Score{Fitness: shiftedSphere(s)(g)} }
	q1, _ := NewPool(s, cfg)
	q2, _ := NewPool(s, cfg)
	a, b := breedAll(t, q1, f), breedAll(t, q2, f)
	if len(a) != cfg.Population*cfg.Generations {
		t.Fatalf("bred %d genomes, want %d", len(a), cfg.Population*cfg.Generations)
	}
	if !reflect.DeepEqual(a, b) {
		t.Fatal("two pools with the same seed and scores bred different genomes")
	}
	for i, g := range a {
		if g.ID != i+1 || g.Generation != i/cfg.Population {
			t.Fatalf("genome %d: id %d generation %d", i+1, g.ID, g.Generation)
		}
		random := slices.Equal(g.Ops, []string{"random"})
		if (i < cfg.Population) != random {
			t.Fatalf("genome %d ops %v: the first %d are random, the rest bred", g.ID, g.Ops, cfg.Population)
		}
		for _, p := range g.Parents {
			if p >= g.ID {
				t.Fatalf("genome %d has a parent %d bred after it", g.ID, p)
			}
		}
	}
	// Selection works: the pool's best improves on the random start.
	best := func(gs []Genome) float64 {
		m := math.Inf(1)
		for _, g := range gs {
			m = min(m, f(g).Fitness)
		}
		return m
	}
	if b0, b1 := best(a[:cfg.Population]), best(a); !(b1 < b0/2) {
		t.Errorf("best fitness %g after breeding, %g among the random genomes: no progress", b1, b0)
	}
}

func TestPoolInitialAndDuplicates(t *testing.T) {
	s := poolSpace(t)
	cfg := smallConfig(1)
	known := s.Canonical([]float64{0.25, 0.01, 10})
	cfg.Initial = [][]float64{known, known}
	q, err := NewPool(s, cfg)
	if err != nil {
		t.Fatal(err)
	}
	g1, _ := q.Breed()
	g2, _ := q.Breed()
	if !slices.Equal(g1.Genes, known) || !slices.Equal(g1.Ops, []string{"initial"}) || g1.DuplicateOf != 0 {
		t.Fatalf("first genome %+v, want the initial genes", g1)
	}
	if g2.DuplicateOf != 1 {
		t.Fatalf("second (same genes) genome: duplicate of %d, want 1", g2.DuplicateOf)
	}
	if err := q.Score(2, Score{Fitness: 1}); !errors.Is(err, ErrAlreadyTold) {
		t.Fatalf("scoring a duplicate: %v, want ErrAlreadyTold", err)
	}
	if err := q.Score(1, Score{Rung: 1, Fitness: 0.5}); err != nil {
		t.Fatal(err)
	}
	if sc, ok := q.ScoreOf(2); !ok || sc != (Score{1, 0.5}) {
		t.Fatalf("duplicate's score %v %v, want its original's", sc, ok)
	}
	if err := q.Score(99, Score{}); !errors.Is(err, ErrUnknownGenome) {
		t.Fatalf("scoring an unbred genome: %v", err)
	}
}

func TestPoolMembersRankByRungThenFitness(t *testing.T) {
	s := poolSpace(t)
	cfg := smallConfig(3)
	cfg.Population = 3
	cfg.TournamentSize = 2
	q, _ := NewPool(s, cfg)
	for range 5 {
		if _, err := q.Breed(); err != nil {
			t.Fatal(err)
		}
	}
	for id, sc := range map[int]Score{1: {0, 0.1}, 2: {1, 0.4}, 3: {0, 0.05}, 4: {1, 0.3}, 5: {0, math.Inf(1)}} {
		if err := q.Score(id, sc); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := q.Members(), []int{4, 2, 3}; !slices.Equal(got, want) {
		t.Fatalf("members %v, want %v (rung 1 first, then the best of rung 0; the population is 3)", got, want)
	}
	// Promoting genome 1 to rung 2 puts it first even with a worse fitness.
	if err := q.Score(1, Score{2, 0.9}); err != nil {
		t.Fatal(err)
	}
	if got, want := q.Members(), []int{1, 4, 2}; !slices.Equal(got, want) {
		t.Fatalf("members after promotion %v, want %v", got, want)
	}
}

func TestPoolRestoreBreedsTheSame(t *testing.T) {
	s := poolSpace(t)
	cfg := smallConfig(11)
	f := func(g Genome) Score { return Score{Rung: g.ID % 3, Fitness: shiftedSphere(s)(g)} }
	q, _ := NewPool(s, cfg)
	for range 30 {
		g, err := q.Breed()
		if err != nil {
			t.Fatal(err)
		}
		if g.DuplicateOf == 0 && g.ID%4 != 0 { // some stay unscored, as in flight
			_ = q.Score(g.ID, f(g))
		}
	}
	_ = q.Score(5, Score{Fitness: math.NaN()})
	data, err := q.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	r, err := RestorePool(s, data)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(q.Members(), r.Members()) {
		t.Fatalf("members %v after restore, %v before", r.Members(), q.Members())
	}
	if sc, _ := r.ScoreOf(5); !math.IsNaN(sc.Fitness) {
		t.Fatalf("a NaN score came back as %v", sc.Fitness)
	}
	for range 10 {
		a, err1 := q.Breed()
		b, err2 := r.Breed()
		if err1 != nil || err2 != nil || !reflect.DeepEqual(a, b) {
			t.Fatalf("after restore: %+v %v, original %+v %v", b, err2, a, err1)
		}
	}
	if _, err := RestorePool(s, []byte(`{"v":1,"config":{"population":1}}`)); err == nil {
		t.Fatal("a pool with an invalid config was restored")
	}
	if _, err := RestorePool(s, []byte(`{"v":9}`)); err == nil {
		t.Fatal("a pool of another version was restored")
	}
}

// TestPoolMembersKeptEqualRanked scores genomes in a random order, raising
// some (a promotion), lowering others (a promoted genome that failed on its
// next rung, a score told again lower), and checks after every call that
// the members kept as scores come in are those a full ranking gives.
func TestPoolMembersKeptEqualRanked(t *testing.T) {
	s := poolSpace(t)
	for _, seed := range []uint64{1, 2, 3, 4} {
		cfg := smallConfig(seed)
		cfg.Population, cfg.Generations = 5, 12
		q, _ := NewPool(s, cfg)
		r := rand.New(rand.NewPCG(seed, 99))
		lowered := 0
		for range cfg.Population * cfg.Generations {
			g, err := q.Breed()
			if err != nil {
				t.Fatal(err)
			}
			var ids []int // every genome scored so far, and this one
			for id := 1; id <= q.Bred(); id++ {
				if _, ok := q.ScoreOf(id); (ok || id == g.ID) && q.recs[id-1].G.DuplicateOf == 0 {
					ids = append(ids, id)
				}
			}
			for range 1 + r.IntN(3) {
				if len(ids) == 0 {
					break
				}
				id := ids[r.IntN(len(ids))]
				old, _ := q.ScoreOf(id)
				var sc Score
				switch k := r.IntN(10); {
				case k < 5:
					sc = Score{Rung: r.IntN(3), Fitness: float64(r.IntN(20))} // ties happen
				case k < 8:
					sc = Score{Rung: old.Rung + 1, Fitness: r.Float64()} // promoted
				case k < 9:
					sc = Score{Rung: old.Rung + 1, Fitness: math.Inf(1)} // failed on its next rung
				default:
					sc = Score{Rung: old.Rung, Fitness: math.NaN()}
				}
				if Ahead(old, id, sc, id) && slices.Contains(q.top, id) {
					lowered++
				}
				if err := q.Score(id, sc); err != nil {
					t.Fatal(err)
				}
				if got, want := q.Members(), q.rank(); !slices.Equal(got, want) {
					t.Fatalf("seed %d: after scoring genome %d %v (was %v): members %v, a full ranking %v", seed, id, sc, old, got, want)
				}
			}
		}
		if lowered == 0 {
			t.Errorf("seed %d: no member's score was lowered: the test did not reach that case", seed)
		}
	}
}

// TestPoolFirstGenerationIsTheEngines checks that a pool and an engine with
// the same configuration start from the same genomes, known ones first, so
// that searches compared on one seed differ only in how they go on.
func TestPoolFirstGenerationIsTheEngines(t *testing.T) {
	s := poolSpace(t)
	for _, initial := range [][][]float64{nil, {s.Canonical([]float64{0.25, 0.01, 10})}} {
		cfg := smallConfig(5)
		cfg.Initial = initial
		e, err := New(s, cfg)
		if err != nil {
			t.Fatal(err)
		}
		q, _ := NewPool(s, cfg)
		for i, want := range e.Current() {
			got, err := q.Breed()
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got.Genes, want.Genes) || !slices.Equal(got.Ops, want.Ops) {
				t.Fatalf("initial %d: genome %d of the pool %v %v, of the engine %v %v", len(initial), i+1, got.Genes, got.Ops, want.Genes, want.Ops)
			}
		}
	}
}
