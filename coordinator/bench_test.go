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
	"syscall"
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

// BenchmarkPipelineCapacity is BenchmarkPipeline with enough workers (16,
// population 200) that the path itself, not a worker's round trips, is
// what limits it: the most genomes a second the coordinator, NATS and
// bbolt take through on this machine.
func BenchmarkPipelineCapacity(b *testing.B) { benchPipeline(b, 16, 200) }

// BenchmarkPipelineCapacitySteady is BenchmarkPipelineCapacity with
// steady-state breeding: no generation's barrier, where every worker
// waits for the last genome of a generation and for the next to be bred,
// stored and published.
func BenchmarkPipelineCapacitySteady(b *testing.B) {
	benchPipelineWith(b, 16, 200, func(rc *gahpo.RunConfig) { rc.Breeding = gahpo.BreedingSteadyState })
}

// BenchmarkPipelineLatency reports the time one genome spends in the path
// when nothing waits: one worker, so each genome goes alone from the
// coordinator through JetStream to the worker, back, and into bbolt.
func BenchmarkPipelineLatency(b *testing.B) { benchPipeline(b, 1, 10) }

func benchPipeline(b *testing.B, workers, pop int) { benchPipelineWith(b, workers, pop, nil) }

// benchPipelineWith is benchPipeline with set changing the run's
// configuration.
func benchPipelineWith(b *testing.B, workers, pop int, set func(*gahpo.RunConfig)) {
	srv := testnats.Start(b)
	stop := startWorkersWith(b, srv, workers, noopTrainer{})
	defer stop()
	conn := testnats.Connect(b, srv, "coord")
	gens := max(b.N/pop, 2)
	rc := regressionConfig(pop, gens, 1)
	rc.FinalEpochs = 0
	if set != nil {
		set(&rc)
	}
	st := openStore(b, filepath.Join(b.TempDir(), "h.db"))
	defer st.Close()
	b.ResetTimer()
	cpu0, start := usage(), time.Now()
	run := runToEnd(b, context.Background(), st, conn, rc)
	elapsed, cpu := time.Since(start), usage().minus(cpu0)
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
	// What each genome costs the machine, whatever else runs on it: the
	// CPU time of the whole process (NATS server, coordinator, workers)
	// and its context switches, a genome's goroutine wakeups.
	b.ReportMetric(float64(cpu.cpu.Microseconds())/float64(trained), "cpu_µs/genome")
	b.ReportMetric(float64(cpu.switches)/float64(trained), "switches/genome")
}

// rusage is what the process has used so far: CPU time, all threads, and
// context switches, voluntary or not.
type rusage struct {
	cpu      time.Duration
	switches int64
}

func usage() rusage {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return rusage{}
	}
	return rusage{time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), ru.Nvcsw + ru.Nivcsw}
}

func (u rusage) minus(v rusage) rusage { return rusage{u.cpu - v.cpu, u.switches - v.switches} }

// slowTrainer is noopTrainer taking d per task: a worker of a given speed.
type slowTrainer struct{ d time.Duration }

func (s slowTrainer) Train(ctx context.Context, job models.Job) (models.Outcome, error) {
	select {
	case <-ctx.Done():
		return models.Outcome{}, ctx.Err()
	case <-time.After(s.d):
	}
	return noopTrainer{}.Train(ctx, job)
}

// BenchmarkBreedingUnequalWorkers runs the same search (6 × 8 genomes,
// one-epoch fitness) on two workers, one 3× slower than the other, with
// generational and with steady-state breeding, and reports each one's
// genomes trained per second and the ratio: a generation waits for its
// slowest genome, a steady state never does. (Trained genomes, not wall
// time: a generation's elites are known duplicates that need no training.)
func BenchmarkBreedingUnequalWorkers(b *testing.B) {
	const fast = 150 * time.Millisecond
	rate := map[string]float64{}
	for _, breeding := range []string{gahpo.BreedingGenerational, gahpo.BreedingSteadyState} {
		var wall time.Duration
		trained := 0
		for range b.N {
			srv := testnats.Start(b)
			stopFast := startWorkersWith(b, srv, 1, slowTrainer{fast})
			stopSlow := startWorkersWith(b, srv, 1, slowTrainer{3 * fast})
			rc := regressionConfig(6, 8, 1)
			rc.FinalEpochs, rc.Breeding, rc.InFlight = 0, breeding, 3
			st := openStore(b, filepath.Join(b.TempDir(), "h.db"))
			start := time.Now()
			run := runToEnd(b, context.Background(), st, testnats.Connect(b, srv, "coord"), rc)
			wall += time.Since(start)
			if run.Status != gahpo.RunDone {
				b.Fatalf("run %s", run.Status)
			}
			gs, err := st.Genomes(run.ID, -1)
			if err != nil {
				b.Fatal(err)
			}
			for _, g := range gs {
				if g.Status == gahpo.GenomeDone {
					trained++
				}
			}
			st.Close()
			stopFast()
			stopSlow()
		}
		rate[breeding] = float64(trained) / wall.Seconds()
		b.ReportMetric(rate[breeding], breeding+"_genomes/s")
	}
	// Both workers busy all the time: 1/fast + 1/(3 fast) genomes a second.
	b.ReportMetric(1/fast.Seconds()+1/(3*fast.Seconds()), "ideal_genomes/s")
	b.ReportMetric(rate[gahpo.BreedingSteadyState]/rate[gahpo.BreedingGenerational], "steady/generational")
}
