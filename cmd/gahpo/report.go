package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/gahpo/gahpo/bus"
	"github.com/gahpo/gahpo/report"
	"github.com/gahpo/gahpo/store"
)

func (m *Main) runReport(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("gahpo report", flag.ContinueOnError)
	fs.SetOutput(m.Stderr)
	fs.Usage = func() {
		fmt.Fprintln(m.Stderr, "Usage: gahpo report (--db FILE | --nats URL) [--run ID] (--out DIR | --serve ADDR)\n\n"+
			"Draws a run's figures (PNG) and index.html into --out, or serves them as a live dashboard on --serve.\n\nFlags:")
		fs.PrintDefaults()
	}
	var nf natsFlags
	nf.register(fs, false)
	db := fs.String("db", "gahpo.db", "history database file; --nats reads a running coordinator instead (a --db given wins over GAHPO_NATS)")
	run := fs.String("run", "", "run id (default: the latest run, or the newest running coordinator)")
	out := fs.String("out", "", "directory to write the report into")
	serve := fs.String("serve", "", "serve the report as a dashboard on this address until interrupted (\":8080\" is loopback; name a host, e.g. 0.0.0.0:8080, to serve others)")
	mnistDir := fs.String("data", "", "directory of the MNIST files, for the CNN's test image (default: the GoMNIST module in the Go module cache)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if err := nf.readHistory(fs); err != nil {
		return fmt.Errorf("report: %w", err)
	}
	switch {
	case len(pos) > 0:
		return fmt.Errorf("report: unexpected argument %q", pos[0])
	case (*out == "") == (*serve == ""):
		fs.Usage()
		return errors.New("report: give one of --out DIR or --serve ADDR")
	}
	src, release, err := m.reportSource(ctx, "report", nf, *db, *run)
	if err != nil {
		return err
	}
	defer release()
	opt := report.Options{MNISTDir: *mnistDir}
	if *out != "" {
		figs, err := report.Write(ctx, src, *out, opt)
		if err != nil {
			return historyErr(*db, err)
		}
		drawn := 0
		for _, f := range figs {
			if f.Plot != nil {
				drawn++
			} else {
				fmt.Fprintf(m.Stderr, "gahpo: %s not drawn: %s\n", f.Name, f.Missing)
			}
		}
		fmt.Fprintf(m.Stdout, "%d figures and index.html in %s\n", drawn, *out)
		return nil
	}
	return m.serveReport(ctx, *serve, report.NewHandler(src, report.HandlerOptions{Options: opt}))
}

// reportSource reads a history file read-only, or a running coordinator,
// for command cmd (report or export).
func (m *Main) reportSource(ctx context.Context, cmd string, nf natsFlags, db, run string) (report.Source, func(), error) {
	if nf.url != "" {
		q, release, err := m.openQuerier(ctx, nf, "", run)
		if err != nil {
			return nil, nil, err
		}
		l := q.(live)
		return report.LiveSource{Q: l.conn, Run: l.run}, release, nil
	}
	st, err := store.Open(db, store.Options{ReadOnly: true, Timeout: 300 * time.Millisecond})
	if errors.Is(err, store.ErrLocked) {
		return nil, nil, fmt.Errorf("%w (a running coordinator?); %s it live with --nats", err, cmd)
	}
	if err != nil {
		return nil, nil, historyErr(db, err)
	}
	if err := hasRun(st, cmd, db, run); err != nil {
		st.Close()
		return nil, nil, err
	}
	return report.StoreSource{Store: st, Run: run}, func() { st.Close() }, nil
}

// hasRun tells, for command cmd, that the history st (file db) holds no
// run with id run (any run, with ""), naming those it holds: the source's
// own error would name the report package, and no run.
func hasRun(st *store.Store, cmd, db, run string) error {
	_, err := st.Run(run)
	if !errors.Is(err, store.ErrNotFound) {
		return historyErr(db, err) // nil: there
	}
	runs, rerr := st.Runs()
	if rerr != nil {
		return historyErr(db, rerr)
	}
	if len(runs) == 0 {
		return fmt.Errorf("%s: %s holds no run yet", cmd, db)
	}
	return fmt.Errorf("%s: no run %s in %s; its runs: %s", cmd, run, db, listOrNone(idsOfRuns(runs)))
}

var _ report.Querier = (*bus.Conn)(nil)

// serveReport serves h on addr until ctx ends.
func (m *Main) serveReport(ctx context.Context, addr string, h http.Handler) error {
	addr, h, err := guardHTTP(addr, h)
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("report: %w", err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: time.Minute}
	fmt.Fprintf(m.Stdout, "serving the report on http://%s/ (Ctrl-C stops)\n", l.Addr())
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	select {
	case err := <-errc:
		return fmt.Errorf("report: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	srv.Shutdown(sctx)
	return nil
}
