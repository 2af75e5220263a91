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

// The paper's search space: genes are natural values in parameter order.
func ExamplePaperSpace() {
	space := ga.PaperSpace()
	genes, err := space.FromMap(map[string]float64{
		"batch_size": 64, "lr": 0.0012345678, "gamma": 0.7, "weight_decay": 1e-5,
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(space.Names())
	fmt.Println(space.Canonical(genes))
	fmt.Println(space.Check([]float64{64.5, 2, 0.7, 1e-5}))
	// Output:
	// [batch_size lr gamma weight_decay]
	// [64 0.00123457 0.7 1e-05]
	// ga: genes outside the space: parameter "batch_size": 64.5 is not an integer
	// ga: genes outside the space: parameter "lr": 2 outside [1e-08, 1]
}
