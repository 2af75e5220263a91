package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"

	"github.com/gahpo/gahpo/bus"
	"github.com/gahpo/gahpo/models/problems"
	"github.com/gahpo/gahpo/worker"
)

func (m *Main) runWorker(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("gahpo worker", flag.ContinueOnError)
	fs.SetOutput(m.Stderr)
	setUsage(fs, m.Stderr, "Usage: gahpo worker --nats URL [--concurrency N] [--problem-file FILE]\n\n"+
		"Trains the tasks the coordinators on NATS publish (the built-in problems, and those of each --problem-file)\n"+
		"and reports their fitness. Ctrl-C hands the task in training back.")
	var nf natsFlags
	nf.register(fs, true)
	concurrency := fs.Int("concurrency", 1, "genomes trained at once by this process (with --gpus: one per device)")
	gpus := fs.String("gpus", "", "accelerator ids, comma separated (e.g. 0,1,2,3): one task at a time per device, each training command seeing only its own (CUDA_VISIBLE_DEVICES); the history names the device")
	name := fs.String("name", "", "worker name in the history (default host-pid)")
	data := fs.String("data", "", "directory of the data files (default: fetched from the cluster's object store and cached)")
	cache := fs.String("cache", "", "cache directory for fetched data and the checkpoint directories of running tasks (default: the user cache dir/gahpo)")
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn, error")
	var files problemFiles
	fs.Var(&files, "problem-file", "a problem file (YAML or JSON) whose tasks this worker trains with the file's command (repeatable); tasks of problems it was not given go to other workers")
	if err := parseNone(fs, args); err != nil {
		return err
	}
	if err := files.register(); err != nil {
		return err
	}
	if err := files.runnable(); err != nil {
		return fmt.Errorf("worker: %w", err)
	}
	devices, err := parseDevices(*gpus)
	if err != nil {
		return err
	}
	if len(devices) > 0 && flagSet(fs, "concurrency") && *concurrency != len(devices) {
		return fmt.Errorf("worker: --concurrency %d with --gpus %s: one task runs per device; leave out --concurrency", *concurrency, *gpus)
	}
	if nf.url == "" {
		return errors.New("worker: --nats URL is required")
	}
	log, err := m.logger(*logLevel)
	if err != nil {
		return err
	}
	base, err := nf.options("gahpo-worker")
	if err != nil {
		return err
	}
	opts := withLogger(base, log)
	opts.Wait = true // a worker may start before its server, or during an outage
	// Its replies (the tasks it fetches, among them) under a prefix of
	// its own, _INBOX_worker.<id>: no other worker's, though the server
	// lets their shared user subscribe to every worker's (deploy/README.md).
	opts.InboxOwn = true
	conn, err := bus.Connect(ctx, opts)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	defer conn.Drain()
	log.Info("this worker's replies come under a prefix of its own", "inbox_prefix", conn.InboxPrefix())
	w := worker.New(conn, problems.NewTrainer(), worker.Config{
		Name: *name, Concurrency: *concurrency, Devices: devices, DataDir: *data, CacheDir: *cache,
		Accept: problems.Default.Accept, Check: problems.Check, Logger: log,
	})
	err = w.Run(ctx)
	if errors.Is(err, context.Canceled) || ctx.Err() != nil {
		log.Info("worker stopped", "tasks_done", w.Done())
		return nil
	}
	return err
}

// parseDevices reads --gpus: ids separated by commas (indices such as 0
// or UUIDs such as GPU-5a1c...), each once.
func parseDevices(s string) ([]string, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	var ids []string
	seen := map[string]bool{}
	for id := range strings.SplitSeq(s, ",") {
		id = strings.TrimSpace(id)
		switch {
		case id == "":
			return nil, fmt.Errorf("worker: --gpus %q: an empty device id", s)
		case strings.ContainsFunc(id, func(r rune) bool {
			return !(r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r == '-' || r == '_' || r == ':' || r == '.' || r == '/')
		}):
			return nil, fmt.Errorf("worker: --gpus %q: device id %q: only letters, digits and - _ : . /", s, id)
		case seen[id]:
			return nil, fmt.Errorf("worker: --gpus %q: device %s listed twice", s, id)
		}
		seen[id] = true
		ids = append(ids, id)
	}
	return ids, nil
}

// flagSet tells whether the flag name was given on the command line.
func flagSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}
