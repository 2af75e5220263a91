package main

import (
	"context"
	"errors"
	"flag"

	"github.com/gahpo/gahpo/bus"
	"github.com/gahpo/gahpo/models/problems"
	"github.com/gahpo/gahpo/worker"
)

func (m *Main) runWorker(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("gahpo worker", flag.ContinueOnError)
	fs.SetOutput(m.Stderr)
	var nf natsFlags
	nf.register(fs, true)
	concurrency := fs.Int("concurrency", 1, "genomes trained at once by this process")
	name := fs.String("name", "", "worker name in the history (default host-pid)")
	data := fs.String("data", "", "directory of the data files (default: fetched from the cluster's object store and cached)")
	cache := fs.String("cache", "", "cache directory for fetched data (default: the user cache dir/gahpo)")
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn, error")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	if nf.url == "" {
		return errors.New("worker: --nats URL is required")
	}
	log, err := m.logger(*logLevel)
	if err != nil {
		return err
	}
	opts := withLogger(nf.options("gahpo-worker"), log)
	opts.Wait = true // a worker may start before its server, or during an outage
	conn, err := bus.Connect(ctx, opts)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	defer conn.Drain()
	w := worker.New(conn, worker.Legacy{T: problems.NewTrainer()}, worker.Config{
		Name: *name, Concurrency: *concurrency, DataDir: *data, CacheDir: *cache, Check: problems.Check, Logger: log,
	})
	err = w.Run(ctx)
	if errors.Is(err, context.Canceled) || ctx.Err() != nil {
		log.Info("worker stopped", "tasks_done", w.Done())
		return nil
	}
	return err
}
