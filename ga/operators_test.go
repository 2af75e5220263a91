package ga

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"testing"
)

func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 0x5eed)) }

func mustSpace(t testing.TB, edit func(*Space), params ...Param) *Space {
	t.Helper()
	s, err := NewSpace(params...)
	if err != nil {
		t.Fatal(err)
	}
	if edit != nil {
		edit(s)
		if err := s.Validate(); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

func TestMutate(t *testing.T) {
	paper := paperSpace().Params
	tests := []struct {
		name        string
		space       *Space
		genes       []float64
		wantChanged []bool // per gene, over every trial
		wantAny     bool
	}{
		{
			name:        "rate 0 changes nothing",
			space:       mustSpace(t, func(s *Space) { s.MutationRate = 0 }, paper...),
			genes:       []float64{64, 1e-3, 0.5, 1e-5},
			wantChanged: []bool{false, false, false, false},
		},
		{
			name:        "sigma 0 changes nothing",
			space:       mustSpace(t, func(s *Space) { s.MutationRate = 1; s.MutationSigma = 0 }, paper...),
			genes:       []float64{64, 1e-3, 0.5, 1e-5},
			wantChanged: []bool{false, false, false, false},
		},
		{
			name:        "rate 1 changes every gene",
			space:       mustSpace(t, func(s *Space) { s.MutationRate = 1 }, paper...),
			genes:       []float64{64, 1e-3, 0.5, 1e-5},
			wantChanged: []bool{true, true, true, true},
			wantAny:     true,
		},
		{
			name:        "small int range still moves",
			space:       mustSpace(t, func(s *Space) { s.MutationRate = 1; s.MutationSigma = 0.01 }, IntParam("n", 0, 1)),
			genes:       []float64{0},
			wantChanged: []bool{true},
			wantAny:     true,
		},
		{
			name:        "fixed parameter cannot move",
			space:       mustSpace(t, func(s *Space) { s.MutationRate = 1 }, IntParam("n", 4, 4), FloatParam("x", 2, 2, Log)),
			genes:       []float64{4, 2},
			wantChanged: []bool{false, false},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRand(1)
			for trial := range 200 {
				in := slices.Clone(tt.genes)
				child, changed := tt.space.Mutate(r, in)
				if !slices.Equal(in, tt.genes) {
					t.Fatalf("input modified: %v", in)
				}
				if changed != tt.wantAny {
					t.Fatalf("trial %d: changed = %v, want %v (%v -> %v)", trial, changed, tt.wantAny, tt.genes, child)
				}
				for i, w := range tt.wantChanged {
					if (child[i] != tt.genes[i]) != w {
						t.Fatalf("trial %d gene %d: %v -> %v, want changed %v", trial, i, tt.genes[i], child[i], w)
					}
				}
				if err := tt.space.Check(child); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

// TestMutateStepScale checks that the Gaussian step is taken in the
// parameter's own scale: the spread of log10(lr) after one mutation of a
// central lr is sigma times the 8 decades of the range.
func TestMutateStepScale(t *testing.T) {
	s := mustSpace(t, func(s *Space) { s.MutationRate = 1; s.MutationSigma = 0.05 }, FloatParam("lr", 1e-8, 1, Log))
	r := newRand(2)
	const n = 20000
	var sum, sum2 float64
	for range n {
		c, _ := s.Mutate(r, []float64{1e-4})
		d := math.Log10(c[0]) + 4
		sum += d
		sum2 += d * d
	}
	mean, sd := sum/n, math.Sqrt(sum2/n-(sum/n)*(sum/n))
	// want sd = 0.05 * 8 decades = 0.4; the standard error of sd is ~0.4/sqrt(2n) = 0.002.
	if math.Abs(sd-0.4) > 0.01 || math.Abs(mean) > 0.01 {
		t.Errorf("log10 step: mean %.4f sd %.4f, want 0 and 0.4", mean, sd)
	}
}

func TestCrossover(t *testing.T) {
	params := []Param{
		IntParam("batch_size", 10, 128),
		FloatParam("lr", 1e-8, 1, Log),
		FloatParam("gamma", 0, 1, Linear),
		FloatParam("p", 0, 1, Logit),
	}
	a := []float64{20, 1e-6, 0.2, 0.01}
	b := []float64{100, 1e-2, 0.8, 0.9}
	between := func(s *Space, c []float64) error {
		for i, p := range s.Params {
			lo, hi := min(p.toScale(a[i]), p.toScale(b[i])), max(p.toScale(a[i]), p.toScale(b[i]))
			if t := p.toScale(c[i]); t < lo-1e-9 || t > hi+1e-9 {
				return fmt.Errorf("gene %s = %v not between parents %v and %v in its own scale", p.Name, c[i], a[i], b[i])
			}
		}
		return nil
	}
	tests := []struct {
		name  string
		edit  func(*Space)
		a, b  []float64
		check func(s *Space, c []float64) error
	}{
		{
			name: "uniform takes each gene from a parent",
			edit: func(s *Space) { s.CrossoverKind = Uniform },
			a:    a, b: b,
			check: func(s *Space, c []float64) error {
				for i := range c {
					if c[i] != a[i] && c[i] != b[i] {
						return fmt.Errorf("gene %d = %v, from neither parent", i, c[i])
					}
				}
				return nil
			},
		},
		{
			name: "blx alpha 0 stays between parents in own scale",
			edit: func(s *Space) { s.BLXAlpha = 0 },
			a:    a, b: b,
			check: between,
		},
		{
			name: "sbx of equal parents is the parent",
			edit: func(s *Space) { s.CrossoverKind = SBX },
			a:    a, b: a,
			check: func(s *Space, c []float64) error {
				if !slices.Equal(c, a) {
					return fmt.Errorf("child %v, want %v", c, a)
				}
				return nil
			},
		},
		{
			name: "blx of equal parents is the parent",
			a:    b, b: b,
			check: func(s *Space, c []float64) error {
				if !slices.Equal(c, b) {
					return fmt.Errorf("child %v, want %v", c, b)
				}
				return nil
			},
		},
		{
			name: "sbx with a large eta stays near the parents",
			edit: func(s *Space) { s.CrossoverKind = SBX; s.SBXEta = 1e6 },
			a:    a, b: b,
			check: func(s *Space, c []float64) error {
				for i, p := range s.Params {
					ta, tb, tc := p.toScale(a[i]), p.toScale(b[i]), p.toScale(c[i])
					if d := min(math.Abs(tc-ta), math.Abs(tc-tb)); d > 1e-3*math.Abs(ta-tb)+0.5 {
						return fmt.Errorf("gene %s = %v far from both parents", p.Name, c[i])
					}
				}
				return nil
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := mustSpace(t, tt.edit, params...)
			r := newRand(3)
			for range 500 {
				ca, cb := slices.Clone(tt.a), slices.Clone(tt.b)
				c := s.Crossover(r, ca, cb)
				if !slices.Equal(ca, tt.a) || !slices.Equal(cb, tt.b) {
					t.Fatal("inputs modified")
				}
				if err := s.Check(c); err != nil {
					t.Fatal(err)
				}
				if err := tt.check(s, c); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

// TestBLXSpread checks the BLX interval: with alpha 0.5 the children of 0.4
// and 0.6 fill [0.3, 0.7] uniformly.
func TestBLXSpread(t *testing.T) {
	s := mustSpace(t, nil, FloatParam("x", 0, 1, Linear))
	r := newRand(4)
	lo, hi := 1.0, 0.0
	var sum float64
	const n = 20000
	for range n {
		c := s.Crossover(r, []float64{0.4}, []float64{0.6})[0]
		lo, hi, sum = min(lo, c), max(hi, c), sum+c
	}
	if lo < 0.3 || lo > 0.301 || hi > 0.7 || hi < 0.699 || math.Abs(sum/n-0.5) > 0.003 {
		t.Errorf("BLX children in [%v, %v], mean %v; want [0.3, 0.7], mean 0.5", lo, hi, sum/n)
	}
}

// extremeSpaces are spaces at the edges of what Validate accepts, with
// aggressive operator settings.
func extremeSpaces(t testing.TB) map[string]*Space {
	params := []Param{
		FloatParam("wide", -1e300, 1e300, Linear),
		FloatParam("decades", 1e-300, 1e300, Log),
		FloatParam("subnormal", 5e-324, 1e-300, Log),
		FloatParam("p", 0, 1, Logit),
		FloatParam("tiny_p", 0, 1e-10, Logit),
		FloatParam("near_one", 1-1e-10, 1, Logit),
		FloatParam("fixed", 3, 3, Linear),
		FloatParam("fixed_log", 2, 2, Log),
		{Name: "big_int", Kind: Int, Min: -maxExactInt, Max: maxExactInt},
		{Name: "log_int", Kind: Int, Min: 1, Max: maxExactInt, Scale: Log},
		IntParam("bit", 0, 1),
		{Name: "log_bit", Kind: Int, Min: 1, Max: 2, Scale: Log},
		IntParam("fixed_int", 5, 5),
		FloatParam("narrow", 1, 1+1e-15, Linear),
	}
	out := map[string]*Space{"paper": paperSpace()}
	for _, k := range []CrossoverKind{BLX, SBX, Uniform} {
		out["extreme/"+k.String()] = mustSpace(t, func(s *Space) {
			s.CrossoverKind = k
			s.MutationRate = 1
			s.MutationSigma = 5
			s.BLXAlpha = 2
			s.SBXEta = 0
		}, params...)
		out["gentle/"+k.String()] = mustSpace(t, func(s *Space) {
			s.CrossoverKind = k
			s.MutationSigma = 1e-6
		}, params...)
	}
	return out
}

// TestOperatorProperties runs every operator over many seeds and extreme
// bounds: genes always pass Check (bounds hold, ints stay integers), inputs
// are never modified, and Canonical is idempotent and stays in the space.
func TestOperatorProperties(t *testing.T) {
	for name, s := range extremeSpaces(t) {
		t.Run(name, func(t *testing.T) {
			for seed := range uint64(300) {
				r := newRand(seed)
				a, b := s.Random(r), s.Random(r)
				check := func(what string, g []float64) {
					t.Helper()
					if err := s.Check(g); err != nil {
						t.Fatalf("seed %d: %s: %v", seed, what, err)
					}
					c := s.Canonical(g)
					if err := s.Check(c); err != nil {
						t.Fatalf("seed %d: canonical %s: %v", seed, what, err)
					}
					if cc := s.Canonical(c); !slices.Equal(cc, c) {
						t.Fatalf("seed %d: Canonical not idempotent on %s: %v -> %v", seed, what, c, cc)
					}
				}
				check("random", a)
				check("random", b)
				ac, bc := slices.Clone(a), slices.Clone(b)
				child := s.Crossover(r, a, b)
				check("crossover", child)
				m, _ := s.Mutate(r, child)
				check("mutation", m)
				m2, _ := s.Mutate(r, s.Canonical(m))
				check("mutation of canonical", m2)
				if !slices.Equal(a, ac) || !slices.Equal(b, bc) {
					t.Fatalf("seed %d: parents modified", seed)
				}
			}
		})
	}
}

// ksUniform returns the Kolmogorov-Smirnov statistic of samples (in [0, 1])
// against the uniform distribution. It sorts samples.
func ksUniform(samples []float64) float64 {
	sort.Float64s(samples)
	n := float64(len(samples))
	var d float64
	for i, u := range samples {
		d = max(d, float64(i+1)/n-u, u-float64(i)/n)
	}
	return d
}

// chi2Critical approximates the upper quantile of a chi-square distribution
// with df degrees of freedom for a standard normal quantile z (Wilson-Hilferty).
func chi2Critical(df int, z float64) float64 {
	k := float64(df)
	a := 2 / (9 * k)
	return k * math.Pow(1-a+z*math.Sqrt(a), 3)
}

// TestRandomDistribution checks the shape of Random on the paper space: lr and
// weight_decay are log-uniform (KS on log10 values), batch_size uniform over
// its 119 integers (chi-square), gamma uniform (KS), and a logit parameter
// uniform in logit(p). The last case shows the statistic rejects a
// linear-uniform lr, so the test can fail.
func TestRandomDistribution(t *testing.T) {
	const n = 20000
	ksCrit := 1.95 / math.Sqrt(n) // alpha = 0.001
	s := paperSpace()
	logitSpace := mustSpace(t, nil, FloatParam("p", 0.01, 0.99, Logit))
	r := newRand(5)
	lr, wd, gamma, logit, linearLR := make([]float64, n), make([]float64, n), make([]float64, n), make([]float64, n), make([]float64, n)
	counts := make([]int, 119)
	lp := logitSpace.Params[0]
	for i := range n {
		g := s.Random(r)
		counts[int(g[0])-10]++
		lr[i] = (math.Log10(g[1]) + 8) / 8
		gamma[i] = g[2]
		wd[i] = (math.Log10(g[3]) + 7) / 3
		lo, hi := lp.scaleBounds()
		logit[i] = (lp.toScale(logitSpace.Random(r)[0]) - lo) / (hi - lo)
		linearLR[i] = (math.Log10(1e-8+r.Float64()*(1-1e-8)) + 8) / 8
	}
	tests := []struct {
		name    string
		samples []float64
		reject  bool
	}{
		{"lr log10", lr, false},
		{"weight_decay log10", wd, false},
		{"gamma", gamma, false},
		{"logit p", logit, false},
		{"linear-uniform lr is not log-uniform", linearLR, true},
	}
	for _, tt := range tests {
		d := ksUniform(tt.samples)
		t.Logf("%s: KS D = %.4f (critical %.4f at alpha 0.001, n = %d)", tt.name, d, ksCrit, n)
		if (d > ksCrit) != tt.reject {
			t.Errorf("%s: KS D = %.4f, critical %.4f, want rejected = %v", tt.name, d, ksCrit, tt.reject)
		}
	}
	var chi2 float64
	want := float64(n) / 119
	for _, c := range counts {
		chi2 += (float64(c) - want) * (float64(c) - want) / want
	}
	crit := chi2Critical(118, 3.09)
	t.Logf("batch_size: chi-square %.1f over 118 df (critical %.1f at alpha 0.001)", chi2, crit)
	if chi2 > crit {
		t.Errorf("batch_size: chi-square %.1f > %.1f: not uniform", chi2, crit)
	}
}

// TestLogIntRandom checks a log-scale int: every integer of [1, 1000] is drawn
// with probability log((k+0.5)/(k-0.5)) / log(1000.5/0.5) (chi-square on bins).
func TestLogIntRandom(t *testing.T) {
	s := mustSpace(t, nil, Param{Name: "n", Kind: Int, Min: 1, Max: 1000, Scale: Log})
	r := newRand(6)
	const n = 20000
	edges := []float64{1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1001}
	counts := make([]int, len(edges)-1)
	for range n {
		x := s.Random(r)[0]
		counts[sort.SearchFloat64s(edges, x+0.5)-1]++
	}
	var chi2 float64
	total := math.Log(1000.5 / 0.5)
	for i, c := range counts {
		p := math.Log((edges[i+1]-0.5)/(edges[i]-0.5)) / total
		chi2 += (float64(c) - n*p) * (float64(c) - n*p) / (n * p)
	}
	if crit := chi2Critical(len(counts)-1, 3.09); chi2 > crit {
		t.Errorf("log int: chi-square %.1f > %.1f; counts %v", chi2, crit, counts)
	}
}

// TestChoiceOperators checks a choice gene under every operator: Random
// draws each value about equally often, Mutate always moves to another
// value (uniformly) at the mutation rate, every crossover kind takes the
// gene from a parent, Canonical rounds to an index.
func TestChoiceOperators(t *testing.T) {
	values := []string{"a", "b", "c", "d"}
	for _, k := range []CrossoverKind{BLX, SBX, Uniform} {
		t.Run(k.String(), func(t *testing.T) {
			s := mustSpace(t, func(s *Space) { s.CrossoverKind = k; s.MutationRate = 0.5 },
				FloatParam("x", 0, 1, Linear), ChoiceParam("c", values...))
			r := newRand(1)
			const n = 8000
			drawn := make([]int, len(values))
			moved := make([]int, len(values))
			mutated, fromA := 0, 0
			for range n {
				g := s.Random(r)
				if err := s.Check(g); err != nil {
					t.Fatal(err)
				}
				drawn[int(g[1])]++
				child, _ := s.Mutate(r, g)
				if err := s.Check(child); err != nil {
					t.Fatal(err)
				}
				if child[1] != g[1] {
					mutated++
					moved[int(child[1])]++
				}
				a, b := []float64{0.2, 0}, []float64{0.8, 3}
				c := s.Crossover(r, a, b)
				switch c[1] {
				case 0:
					fromA++
				case 3:
				default:
					t.Fatalf("crossover of choices 0 and 3 gave %v", c[1])
				}
				if same := s.Crossover(r, []float64{0.1, 2}, []float64{0.9, 2}); same[1] != 2 {
					t.Fatalf("crossover of two equal choices gave %v", same[1])
				}
			}
			for i, d := range drawn {
				if d < n/4-300 || d > n/4+300 {
					t.Errorf("Random drew %q %d times in %d, want about %d", values[i], d, n, n/4)
				}
			}
			// Rate 0.5: about half the genomes see their choice mutated, and a
			// mutated choice always differs.
			if mutated < n/2-300 || mutated > n/2+300 {
				t.Errorf("%d of %d choices mutated, want about %d", mutated, n, n/2)
			}
			for i, m := range moved {
				if m < mutated/4-250 || m > mutated/4+250 {
					t.Errorf("mutation moved to %q %d times in %d, want about %d", values[i], m, mutated, mutated/4)
				}
			}
			if fromA < n/2-300 || fromA > n/2+300 {
				t.Errorf("crossover took parent a's choice %d times in %d, want about %d", fromA, n, n/2)
			}
		})
	}
	s := mustSpace(t, func(s *Space) { s.MutationRate = 1 }, ChoiceParam("only", "x"))
	if child, changed := s.Mutate(newRand(2), []float64{0}); changed || child[0] != 0 {
		t.Errorf("a choice of one value mutated to %v", child)
	}
	s = mustSpace(t, nil, ChoiceParam("c", values...))
	if got := s.Canonical([]float64{2.4}); got[0] != 2 {
		t.Errorf("Canonical(2.4) = %v, want 2", got)
	}
	if err := s.Check([]float64{1.5}); err == nil || !strings.Contains(err.Error(), "not an integer") {
		t.Errorf("Check(1.5) = %v, want not an integer", err)
	}
}

// TestEngineWithChoices runs the engine on a space with a choice, saving
// and restoring it halfway: every genome it issues is valid, the choice's
// best value wins, and a restored engine breeds what the saved one would.
func TestEngineWithChoices(t *testing.T) {
	s := mustSpace(t, nil, FloatParam("x", -1, 1, Linear), ChoiceParam("opt", "sgd", "adam", "adadelta", "rmsprop"))
	cfg := DefaultConfig()
	cfg.Population, cfg.Generations, cfg.Seed = 12, 10, 3
	fitness := func(g []float64) float64 {
		v := s.Values(g)
		f := v["x"].(float64) * v["x"].(float64)
		if v["opt"] != "adam" {
			f++
		}
		return f
	}
	run := func(restoreAt int) (Genome, []Genome) {
		e, err := New(s, cfg)
		if err != nil {
			t.Fatal(err)
		}
		for !e.Done() {
			for _, g := range e.Pending() {
				if err := s.Check(g.Genes); err != nil {
					t.Fatalf("engine issued %v: %v", g.Genes, err)
				}
				if _, err := e.Tell(g.ID, fitness(g.Genes)); err != nil {
					t.Fatal(err)
				}
			}
			if e.Generation() == restoreAt {
				b, err := json.Marshal(e)
				if err != nil {
					t.Fatal(err)
				}
				if e, err = Restore(s, b); err != nil {
					t.Fatal(err)
				}
			}
		}
		best, _, _ := e.Best()
		return best, e.History()
	}
	best, hist := run(-1)
	if v := s.Values(best.Genes); v["opt"] != "adam" {
		t.Errorf("best genome %v", v)
	}
	best2, hist2 := run(5)
	if !slices.Equal(best.Genes, best2.Genes) || len(hist) != len(hist2) {
		t.Errorf("restored run differs: best %v vs %v, %d vs %d genomes", best.Genes, best2.Genes, len(hist), len(hist2))
	}
}
