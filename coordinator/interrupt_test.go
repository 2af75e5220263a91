package coordinator_test

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gahpo/gahpo/coordinator"
	"github.com/gahpo/gahpo/internal/testnats"
	"github.com/gahpo/gahpo/models"
	"github.com/gahpo/gahpo/worker"
)

// TestProgressBarEndsWhenInterrupted: a run interrupted (Ctrl-C) while its
// bar is on the terminal ends the bar's line, so that what the command
// prints next ("interrupted", how to resume) starts a line of its own; it
// was printed on the end of the bar ("..., best 0.1439gahpo: interrupted").
func TestProgressBarEndsWhenInterrupted(t *testing.T) {
	srv := testnats.Start(t)
	conn := testnats.Connect(t, srv, "coordinator")
	st := openStore(t, filepath.Join(t.TempDir(), "h.db"))
	defer st.Close()
	out := &testnats.LogBuffer{}
	// No worker: the run waits, its bar drawn every second.
	c, err := coordinator.New(st, conn, coordinator.Config{Run: regressionConfig(4, 2, 1), Problem: problemFor, Logger: quiet,
		Progress: out, ProgressBar: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx, interrupt := context.WithCancel(context.Background())
	defer interrupt()
	done := make(chan error, 1)
	go func() {
		_, err := c.Run(ctx)
		done <- err
	}()
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(out.String(), "\r"); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no bar drawn within 30 s: %q", out.String())
		}
	}
	interrupt()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("interrupted run returned %v, want context.Canceled", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the run did not stop within 30 s of its interruption")
	}
	got := out.String()
	if !strings.HasSuffix(got, "\n") {
		t.Errorf("the bar's line is left open after the interruption: %q", got)
	}
	if strings.Count(got, "\n") != 1 {
		t.Errorf("want the bar's line ended once, got %q", got)
	}
}

// TestRunStartedLogNamesItsMethod: the coordinator's "run started" line
// names the fidelity and breeding of a run that left them to their
// defaults (fidelity="" breeding="" was what an operator read).
func TestRunStartedLogNamesItsMethod(t *testing.T) {
	srv := testnats.Start(t)
	conn := testnats.Connect(t, srv, "coordinator")
	st := openStore(t, filepath.Join(t.TempDir(), "h.db"))
	defer st.Close()
	logs := &testnats.LogBuffer{}
	c, err := coordinator.New(st, conn, coordinator.Config{Run: regressionConfig(4, 2, 1), Problem: problemFor,
		Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	done := make(chan error, 1)
	go func() {
		_, err := c.Run(ctx)
		done <- err
	}()
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(logs.String(), `msg="run started"`); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no run started within 30 s:\n%s", logs.String())
		}
	}
	stop()
	<-done
	if line := logs.String(); !strings.Contains(line, "fidelity=one-epoch breeding=generational") {
		t.Errorf("the run started line does not name its fidelity and breeding:\n%s", line)
	}
}

// TestResumedRunHasAnETAAtOnce: a one-epoch run resumed after some of its
// trainings ended has an ETA from those, before any training of its own
// ends (the quick search resumed after Ctrl-C said "no ETA yet" for its
// whole first training).
func TestResumedRunHasAnETAAtOnce(t *testing.T) {
	srv := testnats.Start(t)
	// Two genomes train at once, the others wait: two results stored.
	tr := worker.TrainerFunc(func(ctx context.Context, job models.Job) (models.Outcome, error) {
		if job.Task.GenomeID > 2 {
			<-ctx.Done()
			return models.Outcome{}, ctx.Err()
		}
		time.Sleep(20 * time.Millisecond) // a duration to time
		return models.Outcome{Fitness: float64(job.Task.GenomeID)}, nil
	})
	stopWorkers := startWorkersWith(t, srv, 1, tr)
	path := filepath.Join(t.TempDir(), "h.db")
	rc := regressionConfig(4, 2, 1)
	st := openStore(t, path)
	conn := testnats.Connect(t, srv, "coordinator")
	c, err := coordinator.New(st, conn, coordinator.Config{Run: rc, Problem: problemFor, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	ctx, interrupt := context.WithCancel(context.Background())
	defer interrupt()
	done := make(chan error, 1)
	go func() {
		_, err := c.Run(ctx)
		done <- err
	}()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if s := c.Status(); s.RunETA > 0 && s.Done >= 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no two results within 30 s: %+v", c.Status())
		}
	}
	interrupt()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted run: %v", err)
	}
	stopWorkers()
	st.Close()

	st = openStore(t, path)
	defer st.Close()
	resumed, err := coordinator.New(st, testnats.Connect(t, srv, "coordinator-2"), coordinator.Config{Run: rc, Problem: problemFor, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	if s := resumed.Status(); s.RunETA <= 0 || s.NoETA != "" {
		t.Errorf("the resumed run, 2 trainings timed before its restart: ETA %v, no ETA because %q; want an ETA", s.RunETA, s.NoETA)
	}
}
