package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"

	"github.com/gahpo/gahpo"
	"github.com/gahpo/gahpo/bus"
	"github.com/gahpo/gahpo/coordinator"
	"github.com/gahpo/gahpo/store"
)

func (m *Main) runCoordinator(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("gahpo coordinator", flag.ContinueOnError)
	fs.SetOutput(m.Stderr)
	setUsage(fs, m.Stderr, "Usage: gahpo coordinator --nats URL [--db FILE] [search flags]\n\n"+
		"Breeds a search, publishes its tasks on NATS for gahpo worker to train, and stores the results in --db.\n"+
		"Started again on the same --db, it resumes the run.")
	var nf natsFlags
	var sf searchFlags
	var stf streamFlags
	nf.register(fs, true)
	sf.register(fs)
	stf.register(fs)
	db := fs.String("db", "gahpo.db", "history database file (bbolt)")
	logLevel := fs.String("log-level", "info", "log level: debug, info, warn, error")
	noProgress := fs.Bool("no-progress", false, "no progress bar even on a terminal")
	if err := parseNone(fs, args); err != nil {
		return err
	}
	sf.args = args
	if nf.url == "" {
		return errors.New("coordinator: --nats URL is required")
	}
	log, err := m.logger(*logLevel)
	if err != nil {
		return err
	}
	rc, _, err := sf.config()
	if err != nil {
		return err
	}
	if err := sf.files.dataReadable(); err != nil {
		return fmt.Errorf("coordinator: %w", err)
	}
	sf.warnIgnored(m.Stderr, rc)
	if rc.SteadyState() && rc.InFlight == 0 {
		rc.InFlight = 8
	}
	st, resumed, err := m.openHistory(*db, rc, &sf)
	if err != nil {
		return err
	}
	defer st.Close()
	base, err := nf.options("gahpo-coordinator")
	if err != nil {
		return err
	}
	opts, err := stf.apply(withLogger(base, log))
	if err != nil {
		return err
	}
	// As a worker does, it may start before its server: both restarted
	// after an outage, or a machine's services started at once.
	opts.Wait = true
	conn, err := bus.Connect(ctx, opts)
	if err != nil {
		return err
	}
	defer conn.Drain()
	// Without a terminal the logs tell the progress.
	run, err := m.coordinate(ctx, conn, log, st, *db, rc, resumed, &sf, !*noProgress && isTerminal(m.Stderr), nil)
	if err != nil {
		return err
	}
	st.Close() // the summary reads the history read-only
	if err := m.printSummary(run, *db); err != nil {
		return err
	}
	return failedRun(run)
}

// failedRun is the error a command that ran run to its end exits with:
// none for a run done, a runFailedError for one that failed (stopped for
// failures, its final training failed), so that a script or a service
// manager sees it.
func failedRun(run gahpo.Run) error {
	if run.Status != gahpo.RunFailed {
		return nil
	}
	return runFailedError(fmt.Sprintf("run %s failed: %s", run.ID, cmp.Or(run.Error, "no error recorded")))
}

// runFailedError says that the history's run failed and is over: the
// command exits with exitRunFailed, which no start of the same command can
// change (a service manager told so, as the systemd unit is by
// RestartPreventExitStatus, does not start it again).
type runFailedError string

func (e runFailedError) Error() string { return string(e) }

// exitRunFailed is the exit status of a command whose run failed: apart
// from 1 (an error another start may not meet: NATS away, a refused
// start) and 2 (a usage error).
const exitRunFailed = 3

func withLogger(o bus.Options, log *slog.Logger) bus.Options {
	o.Logger = log
	return o
}

// coordinate runs (or resumes, when resumed is the history's run to
// resume) a search to its end. What may refuse the start, the dashboard's
// address and the streams (--replicas beyond the servers, a user without
// the coordinator's rights), is tried before a new run is written to the
// history, so that a refused start leaves the history as it was.
// serving, when set, is called once the coordinator answers status
// requests.
func (m *Main) coordinate(ctx context.Context, conn *bus.Conn, log *slog.Logger, st *store.Store, db string, rc gahpo.RunConfig, resumed gahpo.Run, sf *searchFlags, progress bool, serving func()) (gahpo.Run, error) {
	cfg := coordinator.Config{
		Run: rc, Problem: problemFor(sf.data), RunID: sf.runID, NewRun: sf.newRun, Version: version, Logger: log,
		Serving: serving,
	}
	if progress {
		cfg.Progress, cfg.ProgressBar = m.Stderr, isTerminal(m.Stderr)
	}
	var dash *dashboardListener
	if sf.http != "" {
		var err error
		if dash, err = listenHTTP(sf.http); err != nil {
			return gahpo.Run{}, err
		}
	}
	lease := rc.AckWait
	if resumed.ID != "" {
		lease = resumed.Config.AckWait
	}
	if err := conn.EnsureStreams(ctx, lease); err != nil {
		if dash != nil {
			dash.Close()
		}
		return gahpo.Run{}, err
	}
	c, err := coordinator.New(st, conn, cfg)
	if err != nil {
		if dash != nil {
			dash.Close()
		}
		return gahpo.Run{}, historyErr(db, err)
	}
	stopHTTP := m.dashboard(ctx, dash, st, c, sf.data, log)
	if resumed.ID != "" {
		fmt.Fprintf(m.Stderr, "gahpo: resuming run %s where it stopped, history in %s\n", c.RunID(), db)
	} else {
		fmt.Fprintf(m.Stderr, "gahpo: run %s, history in %s\n", c.RunID(), db)
	}
	run, err := c.Run(ctx)
	if errors.Is(err, context.Canceled) { // Ctrl-C, SIGTERM or SIGHUP: how to go on
		fmt.Fprintf(m.Stderr, "gahpo: run %s stopped unfinished, kept in %s; to resume it where it stopped: %s\n", c.RunID(), db, sf.resumeCommand(c.RunID()))
	}
	// A run that ended (not one interrupted) is shown ended on the pages
	// open on its dashboard before it stops.
	stopHTTP(err == nil)
	return run, err
}

// openHistory opens the history file db and decides whether the command
// may go on (searchFlags.checkResume), before anything listens or
// connects: a finished run, changed flags or a damaged file end the
// command at once. It returns the run that will be resumed, zero when a
// new one starts.
func (m *Main) openHistory(db string, rc gahpo.RunConfig, sf *searchFlags) (*store.Store, gahpo.Run, error) {
	st, err := store.Open(db, store.Options{})
	if errors.Is(err, store.ErrLocked) {
		return nil, gahpo.Run{}, fmt.Errorf("%s is held by another process, most likely a running coordinator: stop it, or give this search another --db", db)
	}
	if err != nil {
		return nil, gahpo.Run{}, historyErr(db, err)
	}
	resumed, err := sf.checkResume(st, rc, m.Stderr)
	if err != nil {
		st.Close()
		return nil, gahpo.Run{}, historyErr(db, err)
	}
	return st, resumed, nil
}
