package ga

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// landscape is a synthetic fitness over the normalised 4-D paper space.
// observe is what the search is told (it may be noisy; id seeds the noise,
// as a genome's training seed would); truth is the noise-free value used to
// judge the point a search finally picks.
type landscape struct {
	name    string
	observe func(seed uint64, id int, z []float64) float64
	truth   func(z []float64) float64
}

var sphereCentre = []float64{0.3, 0.7, 0.55, 0.2}

// rastriginShift puts the global minimum at z = (shift/5.12 + 1) / 2.
var rastriginShift = []float64{1.3, -2.1, 0.7, 2.9}

func rastrigin(z []float64) float64 {
	f := 10 * float64(len(z))
	for i, v := range z {
		x := 5.12*(2*v-1) - rastriginShift[i]
		f += x*x - 10*math.Cos(2*math.Pi*x)
	}
	return f
}

func sphere(z []float64) float64 {
	var f float64
	for i, v := range z {
		f += (v - sphereCentre[i]) * (v - sphereCentre[i])
	}
	return f
}

var landscapes = []landscape{
	{
		name:    "shifted sphere",
		observe: func(_ uint64, _ int, z []float64) float64 { return sphere(z) },
		truth:   sphere,
	},
	{
		name: "noisy Rastrigin (noise sd 2)",
		observe: func(seed uint64, id int, z []float64) float64 {
			return rastrigin(z) + 2*rand.New(rand.NewPCG(TrainSeed(seed, id), 1)).NormFloat64()
		},
		truth: rastrigin,
	},
}

// gaRun runs a whole search on l and returns the true value at the genome
// with the lowest observed fitness and the number of evaluations (duplicates
// are not evaluated).
func gaRun(tb testing.TB, s *Space, cfg Config, l landscape) (best float64, evals int) {
	tb.Helper()
	e, err := New(s, cfg)
	if err != nil {
		tb.Fatal(err)
	}
	for !e.Done() {
		for _, g := range e.Pending() {
			evals++
			if _, err := e.Tell(g.ID, l.observe(cfg.Seed, g.ID, s.Normalize(g.Genes))); err != nil {
				tb.Fatal(err)
			}
		}
	}
	g, _, ok := e.Best()
	if !ok {
		tb.Fatal("no best genome")
	}
	return l.truth(s.Normalize(g.Genes)), evals
}

// randomRun samples evals random genomes from s and returns the true value at
// the one with the lowest observed fitness.
func randomRun(s *Space, seed uint64, evals int, l landscape) float64 {
	r := rand.New(rand.NewPCG(seed, 0xabcdef))
	bestObs, best := math.Inf(1), math.Inf(1)
	for id := 1; id <= evals; id++ {
		z := s.Normalize(s.Random(r))
		if f := l.observe(seed, id, z); f < bestObs {
			bestObs, best = f, l.truth(z)
		}
	}
	return best
}

func median(x []float64) float64 {
	x = slices.Clone(x)
	slices.Sort(x)
	n := len(x)
	if n%2 == 1 {
		return x[n/2]
	}
	return (x[n/2-1] + x[n/2]) / 2
}

// compare runs the GA and random search at equal evaluation budget over
// seeds 1..seeds and returns both medians of the best true fitness, the
// median budget and the number of seeds the GA won.
func compare(tb testing.TB, s *Space, cfg Config, l landscape, seeds int) (gaMed, rsMed float64, budget float64, wins int) {
	var gaBest, rsBest, budgets []float64
	for seed := 1; seed <= seeds; seed++ {
		cfg.Seed = uint64(seed)
		g, evals := gaRun(tb, s, cfg, l)
		r := randomRun(s, uint64(seed), evals, l)
		gaBest, rsBest, budgets = append(gaBest, g), append(rsBest, r), append(budgets, float64(evals))
		if g < r {
			wins++
		}
	}
	return median(gaBest), median(rsBest), median(budgets), wins
}

// TestQualityBeatsRandomSearch: over 20 seeds, with the paper's population
// and generations and the default operators, the GA's median best fitness
// beats random search given the same number of evaluations.
func TestQualityBeatsRandomSearch(t *testing.T) {
	const seeds = 20
	for _, l := range landscapes {
		t.Run(l.name, func(t *testing.T) {
			gaMed, rsMed, budget, wins := compare(t, paperSpace(), DefaultConfig(), l, seeds)
			t.Logf("%s: median best over %d seeds: GA %.4g, random search %.4g (median budget %.0f evaluations; GA better on %d/%d seeds)",
				l.name, seeds, gaMed, rsMed, budget, wins, seeds)
			if !(gaMed < rsMed) {
				t.Errorf("GA median %.4g does not beat random search median %.4g", gaMed, rsMed)
			}
		})
	}
}

// BenchmarkQuality compares crossovers and mutation rates on the synthetic
// landscapes (20 seeds each) and reports the medians as metrics:
//
//	go test -run '^$' -bench Quality -benchtime 1x ./ga
func BenchmarkQuality(b *testing.B) {
	variants := []struct {
		name string
		edit func(*Space)
	}{
		{"blx", func(*Space) {}},
		{"sbx", func(s *Space) { s.CrossoverKind = SBX }},
		{"uniform", func(s *Space) { s.CrossoverKind = Uniform }},
		{"blx-rate0.5", func(s *Space) { s.MutationRate = 0.5 }},
	}
	for _, l := range landscapes {
		for _, v := range variants {
			b.Run(fmt.Sprintf("%s/%s", l.name, v.name), func(b *testing.B) {
				s := paperSpace()
				v.edit(s)
				var gaMed, rsMed, budget float64
				var wins int
				for range b.N {
					gaMed, rsMed, budget, wins = compare(b, s, DefaultConfig(), l, 20)
				}
				b.ReportMetric(gaMed, "ga-median")
				b.ReportMetric(rsMed, "random-median")
				b.ReportMetric(budget, "evals")
				b.ReportMetric(float64(wins), "ga-wins/20")
			})
		}
	}
}
