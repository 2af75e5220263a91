package worker_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gahpo/gahpo"
	"github.com/gahpo/gahpo/internal/testnats"
	"github.com/gahpo/gahpo/models"
	"github.com/gahpo/gahpo/worker"
)

// TestLeaseShortenedBetweenTasks: a worker started under a 30 s lease
// keeps the lease it read instead of asking for it at every task; a
// resumed run's coordinator then shortens it to 1 s (no task held). A
// training of 2.5 s taken afterwards is renewed by the new lease: trained
// once, at its first attempt. Renewed by the lease the worker started
// with (every 10 s), it went to the worker's other slot after 1 s and was
// trained twice.
func TestLeaseShortenedBetweenTasks(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	srv := testnats.Start(t)
	coord := testnats.Connect(t, srv, "coord")
	if err := coord.EnsureStreams(ctx, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	var calls [3]atomic.Int32
	trainer := worker.TrainerFunc(func(ctx context.Context, job models.Job) (models.Outcome, error) {
		calls[job.Task.GenomeID].Add(1)
		if job.Task.GenomeID == 2 {
			select {
			case <-ctx.Done():
				return models.Outcome{}, ctx.Err()
			case <-time.After(2500 * time.Millisecond):
			}
		}
		return models.Outcome{Fitness: 0.5}, nil
	})
	w := worker.New(testnats.Connect(t, srv, "w"), trainer, worker.Config{Name: "w", Concurrency: 2, CacheDir: t.TempDir(), Poll: 200 * time.Millisecond, Logger: quiet})
	wctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = w.Run(wctx) }()
	defer func() { stop(); <-done }()
	feed, err := coord.Results(ctx, "r1", 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer feed.Stop()

	task := func(genome int) gahpo.Task {
		return gahpo.Task{V: gahpo.MessageVersion, Kind: gahpo.KindFitness, RunID: "r1", GenomeID: genome, Problem: "p",
			Params: map[string]float64{"x": 1}, MaxAttempts: 3, Token: "t"}
	}
	// A first task: the worker runs, under the 30 s lease.
	if err := coord.PublishTask(ctx, task(1)); err != nil {
		t.Fatal(err)
	}
	r, d := nextResult(t, feed)
	_ = d.Ack(ctx)
	if r.GenomeID != 1 {
		t.Fatalf("result of genome %d, want 1", r.GenomeID)
	}
	// Its task acknowledged (the worker does not wait for the server to
	// confirm it): none held.
	for held, _, err := coord.TasksHeld(ctx); held != 0 || w.Done() < 1; held, _, err = coord.TasksHeld(ctx) {
		if err != nil || ctx.Err() != nil {
			t.Fatalf("the first task still held: %v, %v", err, ctx.Err())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := coord.EnsureStreams(ctx, time.Second); err != nil {
		t.Fatal(err)
	}
	if held, lease, err := coord.TasksHeld(ctx); held != 0 || lease != time.Second || err != nil {
		t.Fatalf("TasksHeld = %d, %v, %v; want the lease shortened to 1s with none held", held, lease, err)
	}

	if err := coord.PublishTask(ctx, task(2)); err != nil {
		t.Fatal(err)
	}
	r, d = nextResult(t, feed)
	_ = d.Ack(ctx)
	if r.GenomeID != 2 || r.Attempt != 1 || r.Failure != "" {
		t.Errorf("result of genome %d, attempt %d, failure %q; want genome 2 at its first attempt", r.GenomeID, r.Attempt, r.Failure)
	}
	if n := calls[2].Load(); n != 1 {
		t.Errorf("genome 2 trained %d times, want once: its lease ran out mid-training", n)
	}
}
