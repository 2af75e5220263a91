package regression

import (
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestSpaceConfigs checks that the corners of the space and random genomes
// in it make valid configs, and that a cheap corner runs.
func TestSpaceConfigs(t *testing.T) {
	s := Space()
	if got, want := s.Names(), []string{ParamLR, ParamBatchSize, ParamEpochs}; !slices.Equal(got, want) {
		t.Fatalf("Space names %v; want %v", got, want)
	}
	var genomes [][]float64
	for _, lr := range []float64{1e-4, 1} {
		for _, bs := range []float64{1, 64} {
			for _, ep := range []float64{10, 300} {
				genomes = append(genomes, []float64{lr, bs, ep})
			}
		}
	}
	rng := rand.New(rand.NewPCG(1, 1))
	for range 20 {
		g := make([]float64, len(s.Params))
		for i, p := range s.Params {
			g[i] = p.Min + (p.Max-p.Min)*rng.Float64()
		}
		g[1], g[2] = math.Round(g[1]), math.Round(g[2]) // the int params
		genomes = append(genomes, g)
	}
	for _, g := range genomes {
		if err := s.Check(g); err != nil {
			t.Fatalf("genome %v not in the space: %v", g, err)
		}
		cfg, err := ConfigFromParams(s.ToMap(g))
		if err != nil {
			t.Fatalf("ConfigFromParams(%v): %v", g, err)
		}
		if cfg.LR != g[0] || float64(cfg.BatchSize) != g[1] || float64(cfg.Epochs) != g[2] {
			t.Errorf("genome %v gave config %+v", g, cfg)
		}
	}
	cfg, err := ConfigFromParams(s.ToMap([]float64{1e-4, 64, 10}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Fitness(context.Background(), mustLoad(t), cfg); err != nil {
		t.Errorf("Fitness at the cheapest corner: %v", err)
	}
}
