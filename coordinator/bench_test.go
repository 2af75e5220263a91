package coordinator_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/gahpo/gahpo"
	"github.com/gahpo/gahpo/internal/testnats"
	"github.com/gahpo/gahpo/models"
)

// noopTrainer answers at once: it measures the cost of the cluster path
// alone (coordinator → JetStream → worker → result → bbolt).
type noopTrainer struct{}

func (noopTrainer) Fitness(_ context.Context, t gahpo.Task, _ string) (models.Eval, error) {
	var s float64
	for _, v := range t.Params {
		s += v
	}
	return models.Eval{Loss: s}, nil
}

func (noopTrainer) Final(context.Context, gahpo.Task, string, func(models.EpochMetrics)) (models.FinalResult, error) {
	return models.FinalResult{TestLoss: 1}, nil
}

// BenchmarkPipeline reports genomes/s through the whole path and the
// latency each genome adds, with 4 workers and a no-op fitness.
func BenchmarkPipeline(b *testing.B) {
	srv := testnats.Start(b)
	stop := startWorkersWith(b, srv, 4, noopTrainer{})
	defer stop()
	conn := testnats.Connect(b, srv, "coord")
	const pop = 50
	gens := max(b.N/pop, 2)
	rc := regressionConfig(pop, gens, 1)
	rc.FinalEpochs = 0
	st := openStore(b, filepath.Join(b.TempDir(), "h.db"))
	defer st.Close()
	b.ResetTimer()
	start := time.Now()
	run := runToEnd(b, context.Background(), st, conn, rc)
	elapsed := time.Since(start)
	b.StopTimer()
	if run.Status != gahpo.RunDone {
		b.Fatalf("run %s", run.Status)
	}
	gs, err := st.Genomes(run.ID, -1)
	if err != nil {
		b.Fatal(err)
	}
	trained := 0
	for _, g := range gs {
		if g.Status == gahpo.GenomeDone {
			trained++
		}
	}
	b.ReportMetric(float64(trained)/elapsed.Seconds(), "genomes/s")
	b.ReportMetric(float64(elapsed.Microseconds())/1000/float64(gens), "ms/generation")
	// Latency: a generation of pop genomes over 4 workers is pop/4 genomes
	// in sequence per worker.
	b.ReportMetric(float64(elapsed.Microseconds())/1000/float64(trained)*4, "ms/genome/worker")
}
