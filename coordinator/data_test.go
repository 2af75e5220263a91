package coordinator_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gahpo/gahpo"
	"github.com/gahpo/gahpo/bus"
	"github.com/gahpo/gahpo/coordinator"
	"github.com/gahpo/gahpo/internal/testnats"
	"github.com/gahpo/gahpo/models"
	"github.com/gahpo/gahpo/models/problems"
	"github.com/gahpo/gahpo/store"
	"github.com/gahpo/gahpo/worker"
)

// TestDataObjectMissingSaysWhy: a run whose data set's object went from
// the object store after its coordinator put it there (deleted, or a store
// lost) ends failed saying which object is missing and what to do, in its
// genomes' failures and the run's error (which the summary shows); every
// genome read "gave up after 2 deliveries: every worker that took it died
// or lost it", as if workers had died.
func TestDataObjectMissingSaysWhy(t *testing.T) {
	if testing.Short() {
		t.Skip("a cluster run: -short")
	}
	srv := testnats.Start(t)
	st := openStore(t, filepath.Join(t.TempDir(), "h.db"))
	defer st.Close()
	conn := testnats.Connect(t, srv, "coord")
	data := filepath.Join(t.TempDir(), "train.csv")
	if err := os.WriteFile(data, []byte("x,y\n1,2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	rc := regressionConfig(4, 3, 1)
	rc.MaxAttempts, rc.FinalEpochs = 2, 0
	problem := func(name string) (coordinator.Problem, error) {
		p, err := problemFor(name)
		p.DataFiles = []string{data}
		return p, err
	}
	var logs testnats.LogBuffer
	c, err := coordinator.New(st, conn, coordinator.Config{Run: rc, Problem: problem, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	var run gahpo.Run
	var runErr error
	done := make(chan struct{})
	go func() { defer close(done); run, runErr = c.Run(ctx) }()

	// The data set in the store, under its content's name, then gone
	// before a worker fetches it. (Gone before the coordinator marked it
	// as its run's, it would be put again.)
	digest := bus.Digest([]byte("x,y\n1,2\n"))
	object, err := bus.DataObjectName(digest, "train.csv")
	if err != nil {
		t.Fatal(err)
	}
	for !strings.Contains(logs.String(), "data set in the object store") {
		if ctx.Err() != nil {
			t.Fatal("the coordinator never put its data set in the object store")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := conn.DeleteObject(ctx, bus.BucketData, object); err != nil {
		t.Fatal(err)
	}
	wctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for i := range 2 {
		w := worker.New(testnats.Connect(t, srv, "worker"), problems.NewTrainer(), worker.Config{Name: "w" + itoa(i+1), Poll: 500 * time.Millisecond,
			CacheDir: t.TempDir(), DataRetryDelay: 100 * time.Millisecond, Check: problems.Check, Logger: quiet})
		wg.Go(func() { _ = w.Run(wctx) })
	}
	defer func() { stop(); wg.Wait() }()
	<-done
	if runErr != nil {
		t.Fatalf("run: %v", runErr)
	}
	why := "worker: data set object gahpo-data/" + object[:len("sha256-")+8] + "…/train.csv is missing from the object store (deleted, or NATS lost its store): restart the run's coordinator, which puts it back"
	if run.Status != gahpo.RunFailed || run.StoppedBy != gahpo.StopFailures || !strings.Contains(run.Error, "; the reason (4): "+why+" (gahpo query genome 1 shows it whole)") {
		t.Errorf("run %s, stopped by %q: %q; want failed, stopped for failures, saying %q", run.Status, run.StoppedBy, run.Error, why)
	}
	gs, err := st.Genomes(run.ID, -1)
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range gs {
		if g.Status != gahpo.GenomeFailed || g.Failure != why {
			t.Errorf("genome %d: %s, %q; want failed, saying %q", g.ID, g.Status, g.Failure, why)
		}
	}
}

// TestRunsDataOfOneName: two runs on one NATS server whose data sets each
// hold a train.csv, with other bytes, train each on its own file. The
// coordinator put a data file under its name alone, so the later run's
// upload replaced the earlier's: the earlier run's genomes all failed
// ("holds other bytes than the run's"), or, before workers checked digests,
// trained on the other run's data. Each file is now kept under its
// content's name (bus.DataObjectName), and a file both runs share
// (shared.txt) is stored once, until the last of the runs that use it
// ends. The trainer returns train.csv's number as the fitness: each run's
// genomes must all have their own.
func TestRunsDataOfOneName(t *testing.T) {
	if testing.Short() {
		t.Skip("two cluster runs: -short")
	}
	srv := testnats.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	type run struct {
		fitness string // train.csv's content
		st      *store.Store
		logs    testnats.LogBuffer
		c       *coordinator.Coordinator
		run     gahpo.Run
		err     error
	}
	runs := []*run{{fitness: "0.25"}, {fitness: "0.5"}}
	for i, r := range runs {
		dir := t.TempDir()
		files := []string{filepath.Join(dir, "train.csv"), filepath.Join(dir, "shared.txt")}
		for j, content := range []string{r.fitness, "the same in both runs"} {
			if err := os.WriteFile(files[j], []byte(content), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		r.st = openStore(t, filepath.Join(t.TempDir(), "h.db"))
		defer r.st.Close()
		rc := regressionConfig(4, 2, uint64(i+1))
		rc.FinalEpochs = 0
		problem := func(name string) (coordinator.Problem, error) {
			p, err := problemFor(name)
			p.DataFiles = files
			return p, err
		}
		c, err := coordinator.New(r.st, testnats.Connect(t, srv, "coord"), coordinator.Config{Run: rc, Problem: problem,
			Logger: slog.New(slog.NewTextHandler(&r.logs, nil))})
		if err != nil {
			t.Fatal(err)
		}
		r.c = c
	}
	var wg sync.WaitGroup
	for _, r := range runs {
		wg.Go(func() { r.run, r.err = r.c.Run(ctx) })
	}
	// Both data sets are in the store before a worker fetches either.
	for _, r := range runs {
		for !strings.Contains(r.logs.String(), "data set in the object store") {
			if ctx.Err() != nil {
				t.Fatal("a coordinator never put its data set in the object store")
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	lister := testnats.Connect(t, srv, "coord")
	names, err := lister.ListObjects(ctx, bus.BucketData)
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for _, n := range names {
		count[filepath.Base(n)]++
	}
	if len(names) != 3 || count["train.csv"] != 2 || count["shared.txt"] != 1 {
		t.Errorf("the data bucket holds %q; want each run's train.csv and one shared.txt", names)
	}
	trainer := worker.TrainerFunc(func(_ context.Context, job models.Job) (models.Outcome, error) {
		b, err := os.ReadFile(filepath.Join(job.DataDir, "shared.txt"))
		if err != nil || string(b) != "the same in both runs" {
			return models.Outcome{}, fmt.Errorf("%w: shared.txt: %q, %v", models.ErrUntrainable, b, err)
		}
		b, err = os.ReadFile(filepath.Join(job.DataDir, "train.csv"))
		if err != nil {
			return models.Outcome{}, fmt.Errorf("%w: %w", models.ErrUntrainable, err)
		}
		v, err := strconv.ParseFloat(string(b), 64)
		return models.Outcome{Fitness: v}, err
	})
	wctx, stop := context.WithCancel(context.Background())
	var workers sync.WaitGroup
	for i := range 2 {
		w := worker.New(testnats.Connect(t, srv, "worker"), trainer, worker.Config{Name: "w" + itoa(i+1), Poll: 500 * time.Millisecond,
			CacheDir: t.TempDir(), DataRetryDelay: 100 * time.Millisecond, Check: problems.Check, Logger: quiet})
		workers.Go(func() { _ = w.Run(wctx) })
	}
	defer func() { stop(); workers.Wait() }()
	wg.Wait()
	for _, r := range runs {
		if r.err != nil {
			t.Fatalf("run: %v", r.err)
		}
		if r.run.Status != gahpo.RunDone {
			t.Errorf("run %s (train.csv %s): %s, %q; want done", r.run.ID, r.fitness, r.run.Status, r.run.Error)
		}
		gs, err := r.st.Genomes(r.run.ID, -1)
		if err != nil {
			t.Fatal(err)
		}
		if len(gs) == 0 {
			t.Errorf("run %s has no genomes", r.run.ID)
		}
		for _, g := range gs {
			if g.Status != gahpo.GenomeDone && g.Status != gahpo.GenomeDuplicate || strconv.FormatFloat(float64(g.Fitness), 'g', -1, 64) != r.fitness {
				t.Errorf("run %s, genome %d: %s, fitness %v, %q; want done (or a duplicate), %s (its own train.csv)", r.run.ID, g.ID, g.Status, g.Fitness, g.Failure, r.fitness)
			}
		}
	}
	// Each run released its data set as it ended: the last one deleted it.
	if names, err := lister.ListObjects(ctx, bus.BucketData); err != nil || len(names) != 0 {
		t.Errorf("the data bucket after both runs ended: %q, %v; want it empty", names, err)
	}
}
