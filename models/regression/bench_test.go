package regression

import (
	"context"
	"testing"
)

// BenchmarkFitness measures one fitness evaluation (10-fold CV on the
// embedded training set) at the default config and at the dearest point of
// the search space (300 epochs at batch size 1, with a learning rate low
// enough not to diverge, which would end it early).
//
//	go test -run '^$' -bench Fitness -benchtime 20x ./models/regression/
func BenchmarkFitness(b *testing.B) {
	d := mustLoad(b)
	for _, bc := range []struct {
		name string
		cfg  Config
	}{
		{name: "default", cfg: Config{}},
		{name: "worst/epochs=300/batch=1", cfg: Config{LR: 0.001, BatchSize: 1, Epochs: 300}},
		{name: "epochs=300/batch=64", cfg: Config{LR: 0.001, BatchSize: 64, Epochs: 300}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var examples int
			for b.Loop() {
				ev, err := Fitness(context.Background(), d, bc.cfg)
				if err != nil {
					b.Fatal(err)
				}
				if ev.Diverged != "" {
					b.Fatalf("diverged: %s", ev.Diverged)
				}
				examples += ev.Images
			}
			b.ReportMetric(float64(examples)/b.Elapsed().Seconds(), "examples/s")
		})
	}
}

// BenchmarkStep measures one SGD step of one example (forward, backward and
// update) on one goroutine.
func BenchmarkStep(b *testing.B) {
	d := mustLoad(b)
	n := newNet(Hidden, newRand(1, streamFull))
	idx := []int{0}
	i := 0
	for b.Loop() {
		idx[0] = i % len(d.TrainX)
		n.step(d.TrainX, d.TrainY, idx, 0.001)
		i++
	}
}
