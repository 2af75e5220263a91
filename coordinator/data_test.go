package coordinator_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gahpo/gahpo"
	"github.com/gahpo/gahpo/bus"
	"github.com/gahpo/gahpo/coordinator"
	"github.com/gahpo/gahpo/internal/testnats"
	"github.com/gahpo/gahpo/models/problems"
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
	c, err := coordinator.New(st, conn, coordinator.Config{Run: rc, Problem: problem, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	var run gahpo.Run
	var runErr error
	done := make(chan struct{})
	go func() { defer close(done); run, runErr = c.Run(ctx) }()

	// The data set in the store, then gone before a worker fetches it.
	for {
		if _, err := conn.ObjectDigest(ctx, bus.BucketData, "train.csv"); err == nil {
			break
		}
		if ctx.Err() != nil {
			t.Fatal("the coordinator never put its data set in the object store")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := conn.DeleteObject(ctx, bus.BucketData, "train.csv"); err != nil {
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
	const why = "worker: data set object gahpo-data/train.csv is missing from the object store (deleted, or the NATS server lost its store): restart the run's coordinator, which puts it back"
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
