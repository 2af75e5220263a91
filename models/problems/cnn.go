package problems

import "github.com/gahpo/gahpo/ga"

// CNNSpace returns the search space of the paper for the MNIST CNN, with
// ga.NewSpace defaults: batch_size int in [10, 128]; lr float in [1e-8, 1]
// on a log scale; gamma float in [0, 1] on a linear scale; weight_decay
// float in [1e-7, 1e-4] on a log scale.
func CNNSpace() *ga.Space {
	s, err := ga.NewSpace(
		ga.IntParam("batch_size", 10, 128),
		ga.FloatParam("lr", 1e-8, 1.0, ga.Log),
		ga.FloatParam("gamma", 0, 1.0, ga.Linear),
		ga.FloatParam("weight_decay", 1e-7, 1e-4, ga.Log),
	)
	if err != nil {
		panic(err) // the literal above is valid
	}
	return s
}
