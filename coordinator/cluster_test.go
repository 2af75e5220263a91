package coordinator_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/gahpo/gahpo"
	"github.com/gahpo/gahpo/bus"
	"github.com/gahpo/gahpo/coordinator"
	"github.com/gahpo/gahpo/ga"
	"github.com/gahpo/gahpo/internal/testnats"
	"github.com/gahpo/gahpo/models/problems"
	"github.com/gahpo/gahpo/natsserver"
	"github.com/gahpo/gahpo/store"
	"github.com/gahpo/gahpo/worker"
)

var quiet = slog.New(slog.NewTextHandler(logOut(), &slog.HandlerOptions{Level: slog.LevelDebug}))

func logOut() io.Writer {
	if os.Getenv("GAHPO_TEST_LOG") != "" {
		return os.Stderr
	}
	return io.Discard
}

func regressionConfig(pop, gens int, seed uint64) gahpo.RunConfig {
	cfg := ga.DefaultConfig()
	cfg.Population, cfg.Generations, cfg.Seed = pop, gens, seed
	return gahpo.RunConfig{Problem: problems.Regression, GA: cfg, FinalEpochs: 1, MaxAttempts: 3, AckWait: 2 * time.Second}
}

func problemFor(name string) (coordinator.Problem, error) {
	space, err := problems.Space(name)
	if err != nil {
		return coordinator.Problem{}, err
	}
	return coordinator.Problem{Space: space}, nil
}

func openStore(t testing.TB, path string) *store.Store {
	t.Helper()
	st, err := store.Open(path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// startWorkers runs n real workers until the test ends.
func startWorkers(t *testing.T, srv *natsserver.Server, n int, trainer worker.Trainer) {
	t.Helper()
	t.Cleanup(startWorkersWith(t, srv, n, trainer))
}

// startWorkersStoppable runs n real regression workers until stop is called.
func startWorkersStoppable(t *testing.T, srv *natsserver.Server, n int) (stop func()) {
	t.Helper()
	stop = startWorkersWith(t, srv, n, problems.NewTrainer())
	t.Cleanup(stop)
	return stop
}

func startWorkersWith(t testing.TB, srv *natsserver.Server, n int, trainer worker.Trainer) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for i := range n {
		conn := testnats.Connect(t, srv, "worker")
		w := worker.New(conn, trainer, worker.Config{Name: fmt.Sprintf("w%d", i+1), Poll: 500 * time.Millisecond, Check: problems.Check, Logger: quiet})
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = w.Run(ctx)
		}()
	}
	var once sync.Once
	return func() { once.Do(func() { cancel(); wg.Wait() }) }
}

// runToEnd runs a coordinator on st until its run is done.
func runToEnd(t testing.TB, ctx context.Context, st *store.Store, conn *bus.Conn, rc gahpo.RunConfig) gahpo.Run {
	t.Helper()
	c, err := coordinator.New(st, conn, coordinator.Config{Run: rc, Problem: problemFor, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(ctx, runTimeout)
	defer cancel()
	run, err := c.Run(ctx)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	return run
}

// history is the comparable content of a run: every genome and its fitness.
type genomeLine struct {
	ID, Gen     int
	Params      map[string]float64
	Fitness     float64
	Status      string
	DuplicateOf int
	Parents     []int
}

func history(t *testing.T, st *store.Store, run string) []genomeLine {
	t.Helper()
	gs, err := st.Genomes(run, -1)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]genomeLine, len(gs))
	for i, g := range gs {
		out[i] = genomeLine{g.ID, g.Generation, g.Params, float64(g.Fitness), string(g.Status), g.DuplicateOf, g.Parents}
	}
	return out
}

// checkComplete asserts a finished run recorded every genome exactly once.
func checkComplete(t *testing.T, st *store.Store, run gahpo.Run) []gahpo.GenomeRecord {
	t.Helper()
	if run.Status != gahpo.RunDone {
		t.Fatalf("run status %s (%s), want done", run.Status, run.Error)
	}
	gs, err := st.Genomes(run.ID, -1)
	if err != nil {
		t.Fatal(err)
	}
	pop, gens := run.Config.GA.Population, run.Config.GA.Generations
	if len(gs) != pop*gens {
		t.Fatalf("%d genomes recorded, want %d×%d", len(gs), pop, gens)
	}
	seen := map[int]bool{}
	perGen := map[int]int{}
	for _, g := range gs {
		if seen[g.ID] {
			t.Errorf("genome %d recorded twice", g.ID)
		}
		seen[g.ID] = true
		perGen[g.Generation]++
		if !g.Evaluated() {
			t.Errorf("genome %d has no fitness (status %s)", g.ID, g.Status)
		}
		if g.Status == gahpo.GenomeDone && (g.Worker == "" || g.Attempts < 1) {
			t.Errorf("genome %d: worker %q attempts %d", g.ID, g.Worker, g.Attempts)
		}
	}
	byID := map[int]gahpo.GenomeRecord{}
	for _, g := range gs {
		byID[g.ID] = g
	}
	for _, g := range gs {
		if orig, ok := byID[g.DuplicateOf]; ok && g.Status == gahpo.GenomeDuplicate && g.Accuracy != orig.Accuracy {
			t.Errorf("duplicate %d has accuracy %v, its original %d %v", g.ID, g.Accuracy, orig.ID, orig.Accuracy)
		}
	}
	for gen := range gens {
		if perGen[gen] != pop {
			t.Errorf("generation %d has %d genomes, want %d", gen, perGen[gen], pop)
		}
	}
	sums, err := st.Summaries(run.ID)
	if err != nil || len(sums) != gens {
		t.Errorf("summaries: %d, %v; want %d", len(sums), err, gens)
	}
	if run.Config.FinalEpochs > 0 {
		f, err := st.Final(run.ID)
		if err != nil {
			t.Fatalf("final: %v", err)
		}
		if f.GenomeID != run.Best || len(f.Epochs) == 0 || math.IsNaN(float64(f.TestLoss)) {
			t.Errorf("final = %+v; want the best genome %d with epochs and a test loss", f, run.Best)
		}
		if w, err := st.Weights(run.ID); err != nil || len(w) != f.WeightsSize || len(w) == 0 {
			t.Errorf("weights: %d bytes, %v; final says %d", len(w), err, f.WeightsSize)
		}
	}
	if err := st.Check(); err != nil {
		t.Errorf("bbolt check: %v", err)
	}
	return gs
}

func TestRegressionRunWithThreeWorkers(t *testing.T) {
	if testing.Short() {
		t.Skip("a multi-minute regression run on a cluster: -short")
	}
	srv := testnats.Start(t)
	startWorkers(t, srv, 3, problems.NewTrainer())
	st := openStore(t, filepath.Join(t.TempDir(), "h.db"))
	defer st.Close()
	run := runToEnd(t, context.Background(), st, testnats.Connect(t, srv, "coord"), regressionConfig(10, 4, 7))
	gs := checkComplete(t, st, run)
	workers := map[string]bool{}
	for _, g := range gs {
		workers[g.Worker] = true
	}
	if len(workers) < 2 {
		t.Errorf("genomes trained by %v; want the work spread over several workers", workers)
	}
	// Offline queries and the best-per-generation answer.
	best, err := coordinator.Queries{Store: st}.Best(run.ID)
	if err != nil || len(best) != 4 {
		t.Fatalf("best = %v, %v", best, err)
	}
	for i := 1; i < len(best); i++ {
		if float64(best[i].Fitness) > float64(best[i-1].Fitness) {
			t.Errorf("generation %d best %v worse than generation %d best %v despite elitism", i, best[i].Fitness, i-1, best[i-1].Fitness)
		}
	}
}

// TestDuplicatesCarryAccuracy runs a search whose elites come back as
// duplicates every generation, with a trainer that reports an accuracy,
// and checks (in checkComplete) that every duplicate is stored with its
// original's accuracy, also when the original's result is the one that
// completes the generation that bred the duplicate.
func TestDuplicatesCarryAccuracy(t *testing.T) {
	srv := testnats.Start(t)
	startWorkers(t, srv, 2, noopTrainer{})
	st := openStore(t, filepath.Join(t.TempDir(), "h.db"))
	defer st.Close()
	rc := regressionConfig(8, 8, 3)
	rc.FinalEpochs = 0 // the no-op trainer has no weights to give
	run := runToEnd(t, context.Background(), st, testnats.Connect(t, srv, "coord"), rc)
	gs := checkComplete(t, st, run)
	dups := 0
	for _, g := range gs {
		if g.Status == gahpo.GenomeDuplicate && g.Accuracy != 0 {
			dups++
		}
	}
	if dups == 0 {
		t.Error("no duplicate with an accuracy: the test checks nothing")
	}
}

// background runs a coordinator of rc on st until its run ends; wait
// returns the run, failing the test if it takes longer than runTimeout.
func background(t *testing.T, st *store.Store, conn *bus.Conn, rc gahpo.RunConfig) (c *coordinator.Coordinator, wait func() gahpo.Run) {
	t.Helper()
	c, err := coordinator.New(st, conn, coordinator.Config{Run: rc, Problem: problemFor, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan gahpo.Run, 1)
	go func() {
		run, err := c.Run(context.Background())
		if err != nil {
			t.Errorf("run: %v", err)
		}
		done <- run
	}()
	return c, func() gahpo.Run {
		t.Helper()
		select {
		case run := <-done:
			return run
		case <-time.After(runTimeout):
			t.Fatal("run did not finish")
			return gahpo.Run{}
		}
	}
}

// runTimeout bounds a test run; generous, for the race detector on a
// loaded 2-core machine.
const runTimeout = 6 * time.Minute
