package cnn_test

import (
	"context"
	"fmt"
	"log"

	"github.com/gahpo/gahpo/models/cnn"
	"github.com/gahpo/gahpo/models/mnist"
)

// A fitness evaluation of the paper's genome on a quick subset.
func ExampleFitness() {
	train, test, err := mnist.Load("")
	if err != nil {
		log.Fatal(err)
	}
	s, err := mnist.NewSplits(train, test, 6000)
	if err != nil {
		log.Fatal(err)
	}
	ev, err := cnn.Fitness(context.Background(), s, cnn.Config{BatchSize: 64, LR: 1.0, Gamma: 0.7, Seed: 1})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("validation NLL %.4f, accuracy %.2f%%, %.0f images/s\n", ev.Loss, 100*ev.Accuracy, ev.ImagesPerSec)
}

func ExampleConfig_Validate() {
	fmt.Println(cnn.Config{BatchSize: 64, LR: 1, Gamma: 0.7}.Validate())
	fmt.Println(cnn.Config{BatchSize: 64, LR: 0}.Validate())
	// Output:
	// <nil>
	// cnn: invalid config: learning rate 0 is not positive and finite
}
