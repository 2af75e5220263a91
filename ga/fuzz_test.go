package ga_test

import (
	"errors"
	"math"
	"testing"

	"github.com/gahpo/gahpo/ga"
)

func fuzzSpace(t testing.TB) *ga.Space {
	s, err := ga.NewSpace(ga.IntParam("batch", 1, 64), ga.FloatParam("lr", 1e-4, 1, ga.Log), ga.FloatParam("gamma", 0.1, 1, ga.Linear))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// FuzzRestore: any state gives an engine or an error wrapping ErrBadState,
// never a panic; a restored engine answers and saves again.
func FuzzRestore(f *testing.F) {
	space := fuzzSpace(f)
	cfg := ga.DefaultConfig()
	cfg.Population, cfg.Generations, cfg.Seed = 6, 3, 7
	eng, err := ga.New(space, cfg)
	if err != nil {
		f.Fatal(err)
	}
	add := func() {
		b, err := eng.MarshalJSON()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	add() // generation 0, nothing told
	fit := []float64{0.5, math.Inf(1), 0.25, math.NaN(), 0.1, 0.3}
	for !eng.Done() {
		for i, g := range eng.Pending() {
			if _, err := eng.Tell(g.ID, fit[(g.ID+i)%len(fit)]); err != nil {
				f.Fatal(err)
			}
			if i == 2 {
				add() // mid-generation
			}
		}
	}
	add() // done
	f.Add([]byte(`{"version":1}`))
	f.Add([]byte(`{"version":1,"config":{"population":1000000000,"generations":1}}`))
	f.Fuzz(func(t *testing.T, state []byte) {
		e, err := ga.Restore(space, state)
		if err != nil {
			if !errors.Is(err, ga.ErrBadState) && !errors.Is(err, ga.ErrInvalidConfig) {
				t.Fatalf("error %v wraps neither ErrBadState nor ErrInvalidConfig", err)
			}
			return
		}
		_ = e.Current()
		_, _, _ = e.Best()
		if _, err := e.MarshalJSON(); err != nil {
			t.Fatalf("restored engine does not save: %v", err)
		}
	})
}
