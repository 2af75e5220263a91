package problemfile_test

import (
	"fmt"

	"github.com/gahpo/gahpo/problemfile"
)

// A problem file is read and checked at once; a fault is one line naming
// the field.
func ExampleParse() {
	p, err := problemfile.Parse([]byte(`
name: my-model
space:
  - {name: lr, type: float, min: 1.0e-5, max: 1, scale: log}
  - {name: optimizer, type: choice, values: [sgd, adam]}
objective: {metric: val_accuracy, goal: maximize}
train: {command: [python3, train.py, "--lr={lr}"], timeout: 10m}
`), "/models/problem.yaml")
	if err != nil {
		panic(err)
	}
	fmt.Println(p.Name, p.Space.Names(), p.Dir, p.Timeout)
	fmt.Println(p.Space.Values([]float64{0.01, 1}))
	fitness, _ := p.Fitness(0.97)
	fmt.Println(fitness)

	_, err = problemfile.Parse([]byte(`
name: my-model
space: [{name: lr, type: float, min: 0, max: 1, scale: log}]
objective: {metric: val_loss}
train: {command: [./train]}
`), "problem.yaml")
	fmt.Println(err)
	// Output:
	// my-model [lr optimizer] /models 10m0s
	// map[lr:0.01 optimizer:adam]
	// -0.97
	// problemfile: invalid problem file: problem.yaml: space[0] "lr": min: log scale needs min > 0, got 0
}
