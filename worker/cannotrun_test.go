package worker_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gahpo/gahpo"
	"github.com/gahpo/gahpo/internal/testnats"
	"github.com/gahpo/gahpo/models/command"
	"github.com/gahpo/gahpo/problemfile"
	"github.com/gahpo/gahpo/worker"
)

// A worker that cannot start the problem file's command (its program gone
// since the worker started) hands the task back without counting an
// attempt: a task of one attempt is trained by a worker that can, instead
// of failing on the first that took it.
func TestWorkerThatCannotRunHandsTheTaskBack(t *testing.T) {
	srv := testnats.Start(t)
	conn := testnats.Connect(t, srv, "coord")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := conn.EnsureStreams(ctx, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	file := []byte("name: cannot-run\nspace:\n  - {name: x, type: float, min: -1, max: 1}\n" +
		"objective: {metric: val_loss, goal: minimize}\ntrain:\n  command: [./run.sh]\n")
	load := func(script bool) *problemfile.Problem {
		dir := t.TempDir()
		if script {
			if err := os.WriteFile(filepath.Join(dir, "run.sh"), []byte("#!/bin/sh\necho '{\"epoch\": 1, \"val_loss\": 0.5}'\n"), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		path := filepath.Join(dir, "p.yaml")
		if err := os.WriteFile(path, file, 0o600); err != nil {
			t.Fatal(err)
		}
		pf, err := problemfile.Load(path)
		if err != nil {
			t.Fatal(err)
		}
		return pf
	}
	good, bad := load(true), load(false) // the same bytes: the same digest
	start := func(name string, pf *problemfile.Problem) func() {
		w := worker.New(testnats.Connect(t, srv, name), command.New(pf), worker.Config{
			Name: name, CacheDir: t.TempDir(), Poll: 200 * time.Millisecond, RefuseDelay: 100 * time.Millisecond, Logger: quiet})
		wctx, stop := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { defer close(done); _ = w.Run(wctx) }()
		return func() { stop(); <-done }
	}
	feed, err := conn.Results(ctx, "r1", 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	rl := startRelay(t, conn, feed)
	task := gahpo.Task{V: gahpo.MessageVersion, Kind: gahpo.KindFitness, RunID: "r1", GenomeID: 1, Problem: "cannot-run",
		ProblemDigest: good.Digest, Params: map[string]float64{"x": 0.1}, MaxAttempts: 1}
	rl.publish(t, ctx, task)
	// The worker without the program takes the task alone first.
	defer start("bad", bad)()
	time.Sleep(time.Second)
	defer start("good", good)()
	r := rl.next(t, ctx)
	if r.Worker != "good" || r.Failure != "" || r.Attempt != 1 || r.Fitness != 0.5 {
		t.Errorf("result by %s, attempt %d, fitness %v, failure %q; want trained by good at attempt 1, fitness 0.5", r.Worker, r.Attempt, r.Fitness, r.Failure)
	}
}
