package regression_test

import (
	"context"
	"fmt"
	"strings"

	"github.com/gahpo/gahpo/models/regression"
)

func ExampleReadCSV() {
	x, y, err := regression.ReadCSV(strings.NewReader("x,y\n0,1\n2.5,-3\n"))
	fmt.Println(x, y, err)

	_, _, err = regression.ReadCSV(strings.NewReader("x,y\n0,1\n2.5;-3\n"))
	fmt.Println(err)
	// Output:
	// [0 2.5] [1 -3] <nil>
	// regression: malformed CSV: line 3: want 2 fields, got 1
}

func ExampleConfigFromParams() {
	cfg, err := regression.ConfigFromParams(map[string]float64{"lr": 0.01, "batch_size": 16, "epochs": 120})
	fmt.Printf("%+v %v\n", cfg, err)

	_, err = regression.ConfigFromParams(map[string]float64{"lr": 0.01, "batch_size": 16})
	fmt.Println(err)
	// Output:
	// {LR:0.01 BatchSize:16 Epochs:120 Folds:0 Seed:0 SplitSeed:0} <nil>
	// regression: invalid config: missing parameter "epochs"
}

func ExampleFitness() {
	d, err := regression.Load()
	if err != nil {
		panic(err)
	}
	// Too large a learning rate: the training diverges, which is a result
	// (Loss +Inf), not an error.
	ev, err := regression.Fitness(context.Background(), d, regression.Config{LR: 1, BatchSize: 1, Epochs: 10})
	fmt.Println(ev.Loss, ev.Diverged != "", err)
	// Output:
	// +Inf true <nil>
}

func ExampleTrainFull() {
	d, err := regression.Load()
	if err != nil {
		panic(err)
	}
	res, err := regression.TrainFull(context.Background(), d, regression.Config{LR: 0.01, BatchSize: 4, Epochs: 120, Seed: 1}, nil)
	if err != nil {
		panic(err)
	}
	fmt.Println(len(res.Epochs), "reports, last epoch", res.Epochs[len(res.Epochs)-1].Epoch)

	pred, err := regression.Predict(res.Weights, []float64{-2.5, 0, 2})
	fmt.Println(len(pred), "predictions,", len(res.Weights), "weight bytes,", err)
	// Output:
	// 40 reports, last epoch 120
	// 3 predictions, 2424 weight bytes, <nil>
}
