package worker_test

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gahpo/gahpo"
	"github.com/gahpo/gahpo/bus"
	"github.com/gahpo/gahpo/internal/testnats"
	"github.com/gahpo/gahpo/models"
	"github.com/gahpo/gahpo/natsserver"
	"github.com/gahpo/gahpo/worker"
)

// TestTrainingKeptThroughServerRestart: the NATS server goes away as a
// training ends and comes back on the same store some seconds later. The
// worker stores the training's checkpoint once the server is back and
// publishes its result, at its first attempt. It gave up on the checkpoint
// after 5 s and handed the task back, which threw the training away and
// counted an attempt: an hour's training lost, and a genome failed after
// --max-attempts such blips.
func TestTrainingKeptThroughServerRestart(t *testing.T) {
	ctx, store, srv, port, coord := outageServer(t)
	var err error
	task := gahpo.Task{V: gahpo.MessageVersion, Kind: gahpo.KindFitness, RunID: "r1", GenomeID: 1, Problem: "p",
		Params: map[string]float64{"x": 1}, Epochs: 1, CheckpointTo: bus.BucketCheckpoints, MaxAttempts: 3, Token: "t1"}
	if err := coord.PublishTask(ctx, task); err != nil {
		t.Fatal(err)
	}

	training, release := make(chan struct{}), make(chan struct{})
	var calls atomic.Int32
	trainer := worker.TrainerFunc(func(_ context.Context, job models.Job) (models.Outcome, error) {
		if calls.Add(1) == 1 {
			close(training)
			<-release
		}
		err := os.WriteFile(filepath.Join(job.CheckpointDir, "state"), []byte("1"), 0o600)
		return models.Outcome{Fitness: 0.5}, err
	})
	w := worker.New(testnats.Connect(t, srv, "w"), trainer, worker.Config{Name: "w", CacheDir: t.TempDir(), Poll: 200 * time.Millisecond, Logger: quiet})
	// No deadline: as in gahpo worker, each request waits JetStream's
	// default timeout, not the test's.
	wctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = w.Run(wctx) }()
	defer func() { stop(); <-done }()

	select {
	case <-training:
	case <-ctx.Done():
		t.Fatal("no training started")
	}
	srv.Shutdown()
	close(release)
	time.Sleep(7 * time.Second) // past the 5 s a JetStream request waits
	srv, err = natsserver.Start(natsserver.Options{Port: port, StoreDir: store})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()

	feed, err := coord.Results(ctx, "r1", 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer feed.Stop()
	r, _ := nextResult(t, feed)
	if r.Kind != gahpo.KindFitness || r.Failure != "" || r.Attempt != 1 || r.Checkpoint == nil || calls.Load() != 1 {
		t.Fatalf("%s result at attempt %d, failure %q, checkpoint %v, after %d trainings; want the first training's, with its checkpoint, at attempt 1",
			r.Kind, r.Attempt, r.Failure, r.Checkpoint, calls.Load())
	}
	got := t.TempDir()
	if err := coord.GetDir(ctx, *r.Checkpoint, got); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(got, "state")); err != nil || string(b) != "1" {
		t.Errorf("checkpoint's state: %q, %v; want the training's", b, err)
	}
}

// TestQueueGoneWaitsForACoordinator: the NATS server comes back with an
// empty store while no coordinator runs. The worker says once that its
// queue is gone and waits for a coordinator, which then makes it again,
// and trains the task it queues. It warned "pull failed: nats: no
// responders available for request" every second of every slot, for as
// long as no coordinator came.
func TestQueueGoneWaitsForACoordinator(t *testing.T) {
	ctx, store, srv, port, coord := outageServer(t)
	var err error
	var logs testnats.LogBuffer
	w := worker.New(testnats.Connect(t, srv, "w"), worker.TrainerFunc(func(context.Context, models.Job) (models.Outcome, error) {
		return models.Outcome{Fitness: 0.5}, nil
	}), worker.Config{Name: "w", Concurrency: 2, CacheDir: t.TempDir(), Poll: 200 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	wctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = w.Run(wctx) }()
	defer func() { stop(); <-done }()
	time.Sleep(500 * time.Millisecond) // the worker pulls

	srv.Shutdown()
	if err := os.RemoveAll(store); err != nil {
		t.Fatal(err)
	}
	srv, err = natsserver.Start(natsserver.Options{Port: port, StoreDir: store})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	time.Sleep(5 * time.Second) // the clients reconnect; no coordinator comes
	if n := strings.Count(logs.String(), "pull failed"); n > 2 {
		t.Errorf("%d pull failures logged in 5 s without a queue; want it said once a slot:\n%s", n, logs.String())
	}

	if err := coord.EnsureStreams(ctx, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	feed, err := coord.Results(ctx, "r1", 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer feed.Stop()
	task := gahpo.Task{V: gahpo.MessageVersion, Kind: gahpo.KindFitness, RunID: "r1", GenomeID: 1, Problem: "p",
		Params: map[string]float64{"x": 1}, MaxAttempts: 1, Token: "t1"}
	if err := coord.PublishTask(ctx, task); err != nil {
		t.Fatal(err)
	}
	r, _ := nextResult(t, feed)
	if r.Kind != gahpo.KindFitness || r.Failure != "" || r.Fitness != 0.5 {
		t.Errorf("result %+v; want the task trained", r)
	}
}

// nextResult waits for the feed's next result and decodes it.
func nextResult(t *testing.T, feed *bus.ResultFeed) (gahpo.Result, *bus.Delivery) {
	t.Helper()
	d, err := feed.Next()
	if err != nil {
		t.Fatal(err)
	}
	var r gahpo.Result
	if err := gahpo.Decode(d.Data, &r); err != nil {
		t.Fatal(err)
	}
	return r, d
}

// outageServer starts what an outage test takes down and brings back: a
// NATS server on a store of its own, with the streams made by a
// coordinator's connection. It skips under -short. ctx ends with the test
// or after a minute.
func outageServer(t *testing.T) (ctx context.Context, store string, srv *natsserver.Server, port int, coord *bus.Conn) {
	t.Helper()
	if testing.Short() {
		t.Skip("waits out a server outage: -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	store = t.TempDir()
	srv, err := natsserver.Start(natsserver.Options{StoreDir: store})
	if err != nil {
		t.Fatal(err)
	}
	port = testnats.Port(t, srv)
	coord = testnats.Connect(t, srv, "coord")
	if err := coord.EnsureStreams(ctx, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	return ctx, store, srv, port, coord
}
