package ga_test

import (
	"encoding/json"
	"fmt"

	"github.com/gahpo/gahpo/ga"
)

// A whole ask/tell loop on a toy problem. The evaluations happen in the
// caller (here inline; in gahpo, on workers over NATS), and the engine is
// checkpointed to JSON and restored halfway, as a coordinator would after a
// restart.
func Example() {
	space, err := ga.NewSpace(
		ga.FloatParam("x", -5, 5, ga.Linear),
		ga.IntParam("n", 0, 10),
	)
	if err != nil {
		panic(err)
	}
	cfg := ga.DefaultConfig()
	cfg.Population, cfg.Generations, cfg.Seed = 10, 15, 42

	engine, err := ga.New(space, cfg)
	if err != nil {
		panic(err)
	}
	evaluations := 0
	for !engine.Done() {
		for _, g := range engine.Pending() { // ask
			p := space.ToMap(g.Genes)
			fitness := (p["x"]-1.5)*(p["x"]-1.5) + (p["n"]-7)*(p["n"]-7)
			evaluations++
			if _, err := engine.Tell(g.ID, fitness); err != nil { // tell
				panic(err)
			}
		}
		if engine.Generation() == 7 { // checkpoint and resume
			state, err := json.Marshal(engine)
			if err != nil {
				panic(err)
			}
			if engine, err = ga.Restore(space, state); err != nil {
				panic(err)
			}
		}
	}
	best, fitness, _ := engine.Best()
	p := space.ToMap(best.Genes)
	fmt.Printf("best n = %.0f, x = %.1f, fitness below 0.01: %v\n", p["n"], p["x"], fitness < 0.01)
	fmt.Printf("%d genomes bred, duplicates not evaluated again: %v\n",
		len(engine.History()), evaluations < len(engine.History()))
	// Output:
	// best n = 7, x = 1.5, fitness below 0.01: true
	// 150 genomes bred, duplicates not evaluated again: true
}

// A space of every kind of parameter: genes are natural values in parameter
// order, a choice's gene is its value's index.
func ExampleSpace_FromMap() {
	space, err := ga.NewSpace(
		ga.IntParam("batch_size", 10, 128),
		ga.FloatParam("lr", 1e-8, 1.0, ga.Log),
		ga.ChoiceParam("optimizer", "sgd", "adam", "adadelta"),
	)
	if err != nil {
		panic(err)
	}
	genes, err := space.FromMap(map[string]float64{"batch_size": 64, "lr": 0.0012345678, "optimizer": 2})
	if err != nil {
		panic(err)
	}
	fmt.Println(space.Names())
	fmt.Println(space.Canonical(genes))
	fmt.Println(space.Values(genes)["optimizer"])
	fmt.Println(space.Check([]float64{64.5, 2, 3}))
	// Output:
	// [batch_size lr optimizer]
	// [64 0.00123457 2]
	// adadelta
	// ga: genes outside the space: parameter "batch_size": 64.5 is not an integer
	// ga: genes outside the space: parameter "lr": 2 outside [1e-08, 1]
	// ga: genes outside the space: parameter "optimizer": 3 outside [0, 2]
}
