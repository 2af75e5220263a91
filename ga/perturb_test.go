package ga

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

func TestPerturb(t *testing.T) {
	s, err := NewSpace(
		IntParam("batch_size", 10, 128),
		FloatParam("lr", 1e-8, 1, Log),
		FloatParam("gamma", 0, 1, Linear),
		ChoiceParam("opt", "sgd", "adam", "rmsprop"),
	)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		genes []float64
	}{
		{"inside", []float64{64, 0.01, 0.7, 1}},
		{"at the upper bounds", []float64{128, 1, 1, 2}},
		{"at the lower bounds", []float64{10, 1e-8, 0, 0}},
		{"small int", []float64{11, 0.5, 0.5, 0}},
	}
	for _, resample := range []float64{0.25, 0} {
		for _, tt := range tests {
			t.Run(fmt.Sprintf("%s/resample %g", tt.name, resample), func(t *testing.T) {
				r := rand.New(rand.NewPCG(1, 2))
				const n = 4000
				moved := make([]int, len(tt.genes)) // draws that are a perturbation of the gene
				for range n {
					out := s.Perturb(r, tt.genes, resample)
					if err := s.Check(out); err != nil {
						t.Fatalf("Perturb(%v) = %v: %v", tt.genes, out, err)
					}
					for i, p := range s.Params {
						x, y := tt.genes[i], out[i]
						var perturbed bool
						switch p.Kind {
						case Choice:
							perturbed = math.Abs(y-x) == 1
						case Int:
							perturbed = y == p.clamp(math.Round(x*0.8)) || y == p.clamp(math.Round(x*1.2)) || math.Abs(y-x) == 1 || y == x && (x == p.Min || x == p.Max)
						default:
							perturbed = near(y, p.canonical(p.clamp(x*0.8))) || near(y, p.canonical(p.clamp(x*1.2)))
						}
						if perturbed {
							moved[i]++
						}
					}
				}
				// 1-resample of the draws are perturbations; a resampled choice lands on
				// a neighbour too as often as neighbours are among its values.
				for i, c := range moved {
					want := 1 - resample
					if p := s.Params[i]; p.Kind == Choice {
						x, neighbours := tt.genes[i], 0.0
						for _, y := range []float64{x - 1, x + 1} {
							if y >= p.Min && y <= p.Max {
								neighbours++
							}
						}
						want += resample * neighbours / float64(len(p.Values))
					}
					if f := float64(c) / n; math.Abs(f-want) > 0.03 {
						t.Errorf("gene %s: %.3f of the draws are ×0.8/×1.2 or a neighbour, want %.3f", s.Params[i].Name, f, want)
					}
				}
			})
		}
	}
}

func near(a, b float64) bool { return math.Abs(a-b) <= 1e-9*math.Max(math.Abs(a), math.Abs(b)) }
