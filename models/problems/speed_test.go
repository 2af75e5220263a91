package problems_test

import (
	"context"
	"testing"

	"github.com/gahpo/gahpo"
	"github.com/gahpo/gahpo/models/mnist"
	"github.com/gahpo/gahpo/models/problems"
)

// BenchmarkCNNFitness times one CNN fitness evaluation as a worker runs it
// (the fast GEMM installed), on a 1,000-image training subset.
func BenchmarkCNNFitness(b *testing.B) {
	dir, err := mnist.FindDir()
	if err != nil {
		b.Skip(err)
	}
	tr := problems.NewTrainer()
	task := gahpo.Task{V: gahpo.MessageVersion, Kind: gahpo.KindFitness, RunID: "b", GenomeID: 1, Problem: problems.CNN, Seed: 1, TrainSubset: 1000,
		Params: map[string]float64{"batch_size": 64, "lr": 1, "gamma": 0.7, "weight_decay": 1e-6}}
	if _, err := tr.Fitness(context.Background(), task, dir); err != nil { // load the data
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		ev, err := tr.Fitness(context.Background(), task, dir)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(ev.ImagesPerSec, "train_img/s")
		b.ReportMetric(ev.Duration.Seconds(), "s/fitness")
	}
}
