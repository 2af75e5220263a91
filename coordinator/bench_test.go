package coordinator_test

import (
	"context"
	"fmt"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/gahpo/gahpo"
	"github.com/gahpo/gahpo/internal/testnats"
	"github.com/gahpo/gahpo/models"
)

// noopTrainer answers at once: it measures the cost of the cluster path
// alone (coordinator → JetStream → worker → result → bbolt), and gives
// tests a fitness and an accuracy that depend only on the genome and, with
// multi-fidelity, on the epochs (a known learning curve). It keeps a
// checkpoint file holding the epochs trained, and refuses to go on from a
// checkpoint that is not where the task says.
type noopTrainer struct{}

func (noopTrainer) Train(_ context.Context, job models.Job) (models.Outcome, error) {
	t := job.Task
	var s float64
	for _, k := range slices.Sorted(maps.Keys(t.Params)) { // one order: the same bits every time
		s += t.Params[k]
	}
	if t.Kind == gahpo.KindFinal {
		return models.Outcome{Fitness: 1, TestLoss: 1}, nil
	}
	from := 0
	if t.Epochs > 0 {
		path := filepath.Join(job.CheckpointDir, "epochs")
		if b, err := os.ReadFile(path); err == nil {
			from, _ = strconv.Atoi(string(b))
		}
		if from != t.FromEpochs {
			return models.Outcome{}, fmt.Errorf("checkpoint at %d epochs, the task says %d", from, t.FromEpochs)
		}
		if err := os.WriteFile(path, []byte(strconv.Itoa(t.Epochs)), 0o644); err != nil {
			return models.Outcome{}, err
		}
	}
	out := models.Outcome{Accuracy: 1 / (1 + math.Abs(s))}
	for e := from + 1; e <= max(t.Epochs, 1); e++ {
		out.Fitness = s + 1/float64(e)
		out.Curve = append(out.Curve, gahpo.EpochReport{Epoch: e, Metrics: map[string]gahpo.Float{"val_loss": gahpo.Float(out.Fitness)}})
	}
	if t.WeightsTo != "" {
		out.Weights = []byte("weights of " + strconv.Itoa(t.GenomeID))
	}
	return out, nil
}

// BenchmarkPipeline reports genomes/s through the whole path with 4
// workers and a no-op fitness (population 50).
func BenchmarkPipeline(b *testing.B) { benchPipeline(b, 4, 50) }

// BenchmarkPipelineLatency reports the time one genome spends in the path
// when nothing waits: one worker, so each genome goes alone from the
// coordinator through JetStream to the worker, back, and into bbolt.
func BenchmarkPipelineLatency(b *testing.B) { benchPipeline(b, 1, 10) }

func benchPipeline(b *testing.B, workers, pop int) {
	srv := testnats.Start(b)
	stop := startWorkersWith(b, srv, workers, noopTrainer{})
	defer stop()
	conn := testnats.Connect(b, srv, "coord")
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
	b.ReportMetric(float64(elapsed.Microseconds())/1000/float64(trained)*float64(workers), "ms/genome/worker")
}
