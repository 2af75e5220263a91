package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strconv"
	"sync"

	"github.com/gahpo/gahpo/bus"
	"github.com/gahpo/gahpo/models/mnist"
	"github.com/gahpo/gahpo/models/problems"
	"github.com/gahpo/gahpo/natsserver"
	"github.com/gahpo/gahpo/worker"
)

func (m *Main) runRun(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("gahpo run", flag.ContinueOnError)
	fs.SetOutput(m.Stderr)
	setUsage(fs, m.Stderr, "Usage: gahpo run [flags]\n\n"+
		"Runs a whole search on this machine: an embedded NATS server (its store beside --db), a coordinator and\n"+
		"--workers local workers. The history goes to --db, which gahpo query and gahpo report read; Ctrl-C stops\n"+
		"the search, and the same command resumes it.")
	var sf searchFlags
	sf.register(fs)
	workers := fs.Int("workers", 0, "local workers (default: the preset's)")
	db := fs.String("db", "gahpo.db", "history database file (bbolt); the NATS store goes beside it")
	listen := fs.String("listen", "127.0.0.1:0", "address of the embedded NATS server (0.0.0.0:4222 lets other machines' workers join)")
	logLevel := fs.String("log-level", "warn", "log level: debug, info, warn, error")
	noProgress := fs.Bool("no-progress", false, "no progress bar even on a terminal")
	if err := parseNone(fs, args); err != nil {
		return err
	}
	sf.args = args
	log, err := m.logger(*logLevel)
	if err != nil {
		return err
	}
	// The address is checked before the history file (or the token file
	// beside it) is made: a refused start leaves nothing behind.
	host, port, err := splitListen("run", *listen)
	if err != nil {
		return err
	}
	if _, err := envSecret(tokenEnv); err != nil && !loopback(host) {
		return fmt.Errorf("run: %w", err)
	}
	rc, p, err := sf.config()
	if err != nil {
		return err
	}
	if err := sf.files.runnable(); err != nil {
		return fmt.Errorf("run: %w", err) // its workers would fail every genome
	}
	if err := sf.files.dataReadable(); err != nil {
		return fmt.Errorf("run: %w", err)
	}
	sf.warnIgnored(m.Stderr, rc)
	if *workers <= 0 {
		*workers = p.workers
	}
	if rc.SteadyState() && rc.InFlight == 0 {
		rc.InFlight = *workers + 1 // one queued task ahead of the workers: promotions wait for no more
	}
	dataDir, err := localDataDir(rc.Problem, sf.data)
	if err != nil {
		return err
	}
	st, resumed, err := m.openHistory(*db, rc, &sf)
	if err != nil {
		return err
	}
	defer st.Close()
	shown := rc // what the banner says: the resumed run's problem and preset
	if resumed.ID != "" {
		shown = resumed.Config
	}
	token, announce, err := listenAuth(m.Stderr, *listen, *db+".token")
	if err != nil {
		return err
	}
	srv, err := natsserver.Start(natsserver.Options{Host: host, Port: port, StoreDir: *db + ".nats", Name: "gahpo-run", Token: token})
	if err != nil {
		return listenError("run", err)
	}
	defer srv.Shutdown()
	announce(srv.URL())
	fmt.Fprintf(m.Stderr, "gahpo: embedded NATS on %s, %d local %s, problem %s, preset %s\n", srv.URL(), *workers, pluralS(*workers, "worker", "workers"), shown.Problem, shown.Preset)
	var follow func()
	if token == "" { // loopback, no credentials: how a newcomer follows the run from another terminal
		// Said once the coordinator answers: before, gahpo status finds
		// no running coordinator.
		follow = func() {
			fmt.Fprintf(m.Stderr, "gahpo: follow it from another terminal: gahpo status --nats %s (or gahpo query best --nats %s); Ctrl-C stops it, and the same command resumes it\n", srv.URL(), srv.URL())
		}
	}

	conn, err := bus.Connect(ctx, bus.Options{URL: srv.URL(), Name: "gahpo-run", Logger: log, Token: token})
	if err != nil {
		return err
	}
	defer conn.Close()

	if resumed.ID != "" {
		// Before this process's workers take any: what is held now was
		// taken by the workers of the process that stopped.
		if n, lease, err := conn.TasksHeld(ctx); err == nil && n > 0 {
			fmt.Fprintf(m.Stderr, "gahpo: %d %s held by the workers of the previous process: %s to the queue within --ack-wait (%s) of being taken\n",
				n, pluralS(n, "task is", "tasks are"), pluralS(n, "it returns", "they return"), lease)
		}
	}
	// Workers stop when the search ends or the user interrupts.
	workersRun := startLocalWorkers(ctx)
	defer workersRun.stop()
	for i := range *workers {
		wconn, err := bus.Connect(ctx, bus.Options{URL: srv.URL(), Name: "gahpo-run-worker", Logger: log, Token: token})
		if err != nil {
			return err
		}
		workersRun.start(wconn, worker.Config{Name: "local-" + strconv.Itoa(i+1), DataDir: dataDir, Check: problems.Check,
			Accept: problems.Default.Accept, Logger: log})
	}
	run, err := m.coordinate(ctx, conn, log, st, *db, rc, resumed, &sf, !*noProgress, follow)
	werr := workersRun.stop()
	if err != nil {
		return err
	}
	st.Close() // the summary reads the history read-only
	if werr != nil {
		return werr
	}
	if err := m.printSummary(run, *db); err != nil {
		return err
	}
	return failedRun(run)
}

// localDataDir is where a run's own workers read the data of problem:
// the built-in CNN's workers read MNIST where it is (--data, else the Go
// module cache); a problem file's fetch its data: files from the object
// store, where the coordinator puts them from the paths the file gives
// (as remote workers do).
func localDataDir(problem, data string) (string, error) {
	p, err := problems.Lookup(problem)
	if err != nil || !p.NeedsData || p.Digest != "" {
		return "", nil
	}
	if data != "" {
		return data, nil
	}
	return mnist.FindDir()
}

// localWorkers are the workers a run starts in its own process, each on
// its own connection, until stop.
type localWorkers struct {
	ctx     context.Context
	cancel  context.CancelFunc
	trainer worker.Trainer
	wg      sync.WaitGroup
	once    sync.Once
	err     error // the first worker's that ended other than by stop
}

func startLocalWorkers(ctx context.Context) *localWorkers {
	wctx, cancel := context.WithCancel(ctx)
	return &localWorkers{ctx: wctx, cancel: cancel, trainer: problems.NewTrainer()}
}

// start runs a worker on conn, which it closes when the worker ends.
func (l *localWorkers) start(conn *bus.Conn, cfg worker.Config) {
	w := worker.New(conn, l.trainer, cfg)
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		defer conn.Close()
		if err := w.Run(l.ctx); err != nil && !errors.Is(err, context.Canceled) {
			l.once.Do(func() { l.err = err })
		}
	}()
}

// stop stops the workers, waits for them to end and returns the first
// error a worker ended with; calling it again does no harm.
func (l *localWorkers) stop() error {
	l.cancel()
	l.wg.Wait()
	return l.err
}

// pluralS picks one or many by n.
func pluralS(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
