package coordinator_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gahpo/gahpo"
	"github.com/gahpo/gahpo/coordinator"
	"github.com/gahpo/gahpo/internal/testnats"
	"github.com/gahpo/gahpo/models"
	"github.com/gahpo/gahpo/store"
)

// brokenTrainer fails every genome as a training command that cannot
// import its framework does.
type brokenTrainer struct{}

func (brokenTrainer) Train(context.Context, models.Job) (models.Outcome, error) {
	return models.Outcome{}, fmt.Errorf("%w: the command failed: exit status 1; standard error ends:\nModuleNotFoundError: No module named 'torch'", models.ErrUntrainable)
}

// TestEveryGenomeFailingStopsTheCluster: on a real cluster, a halving
// search whose every training fails stops once its first population has
// failed (or --max-failures have), waits for the trainings under way, and
// ends failed naming the cause; the run and the status say it stopped for
// failures, and by which rule.
func TestEveryGenomeFailingStopsTheCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("a cluster run: -short")
	}
	three := 3
	for _, tt := range []struct {
		name      string
		max       *int
		n         int // failures that stop it
		wantError string
	}{
		{"default", nil, 4, "stopped for failures (--max-failures): its first "},
		{"--max-failures 3", &three, 3, "stopped for failures (--max-failures 3): "},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv := testnats.Start(t)
			startWorkers(t, srv, 2, brokenTrainer{})
			st := openStore(t, filepath.Join(t.TempDir(), "h.db"))
			defer st.Close()
			conn := testnats.Connect(t, srv, "coord")
			rc := halvingConfig(4, 10, 1, gahpo.BreedingSteadyState) // 40 genomes, 3 in flight
			rc.MaxFailures = tt.max
			c, err := coordinator.New(st, conn, coordinator.Config{Run: rc, Problem: problemFor, Logger: quiet})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
			defer cancel()
			run, err := c.Run(ctx)
			if err != nil {
				t.Fatalf("run: %v", err)
			}
			gs, err := st.Genomes(run.ID, -1)
			if err != nil {
				t.Fatal(err)
			}
			if run.Status != gahpo.RunFailed || run.StoppedBy != gahpo.StopFailures || !strings.HasPrefix(run.Error, tt.wantError) ||
				!strings.Contains(run.Error, "ModuleNotFoundError: No module named 'torch' (gahpo query genome 1 shows it whole)") {
				t.Errorf("run %s, stopped by %q: %q; want failed, stopped for failures, naming the cause", run.Status, run.StoppedBy, run.Error)
			}
			if len(gs) < tt.n || len(gs) > tt.n+2 {
				t.Errorf("%d genomes bred; want the %d that stop it and at most the 2 under way then", len(gs), tt.n)
			}
			for _, g := range gs {
				if g.Status != gahpo.GenomeFailed {
					t.Errorf("genome %d is %s: what was under way when the run stopped was not waited for", g.ID, g.Status)
				}
			}
			if s := c.Status(); s.StoppedBy != gahpo.StopFailures || !reflect.DeepEqual(s.MaxFailures, tt.max) || s.State != gahpo.RunFailed {
				t.Errorf("status: %s, stopped by %q, max failures %v; want failed, stopped for failures, %v", s.State, s.StoppedBy, s.MaxFailures, tt.max)
			}
		})
	}
}

// firstFail fails genomes 1 to 3 as brokenTrainer does, and holds every
// other one until its worker stops.
type firstFail struct{}

func (firstFail) Train(ctx context.Context, job models.Job) (models.Outcome, error) {
	if job.Task.GenomeID <= 3 {
		return brokenTrainer{}.Train(ctx, job)
	}
	<-ctx.Done()
	return models.Outcome{}, ctx.Err()
}

// TestLowerMaxFailuresStopsAtResume: a run interrupted with 3 failures
// under --max-failures 0, resumed with --max-failures 2 (as gahpo run and
// coordinator change it in the history), is stopped for failures by the
// resume itself: the history and the status say so before any result
// comes, nothing is bred, and it ends failed once the trainings under way
// are back.
func TestLowerMaxFailuresStopsAtResume(t *testing.T) {
	if testing.Short() {
		t.Skip("a cluster run: -short")
	}
	srv := testnats.Start(t)
	st := openStore(t, filepath.Join(t.TempDir(), "h.db"))
	defer st.Close()
	stopWorkers := startWorkersWith(t, srv, 2, firstFail{})
	t.Cleanup(stopWorkers)
	rc := halvingConfig(4, 10, 1, gahpo.BreedingSteadyState)
	never := 0
	rc.MaxFailures = &never
	c, err := coordinator.New(st, testnats.Connect(t, srv, "coord"), coordinator.Config{Run: rc, Problem: problemFor, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	failed := func(id string) (n, bred int) {
		gs, err := st.Genomes(id, -1)
		if err != nil {
			t.Fatal(err)
		}
		for _, g := range gs {
			if g.Status == gahpo.GenomeFailed {
				n++
			}
		}
		return n, len(gs)
	}
	rctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { _, err := c.Run(rctx); done <- err }()
	deadline := time.Now().Add(time.Minute)
	for n, _ := failed(c.RunID()); n < 3; n, _ = failed(c.RunID()) {
		if time.Now().After(deadline) {
			t.Fatalf("%d genomes failed after a minute, want 3", n)
		}
		time.Sleep(50 * time.Millisecond)
	}
	stop()
	if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
		t.Fatalf("the first coordinator: %v", err)
	}
	stopWorkers()
	id := c.RunID()
	run, err := st.Run(id)
	if err != nil {
		t.Fatal(err)
	}
	_, bred := failed(id)
	if run.Status != gahpo.RunRunning || run.StoppedBy == gahpo.StopFailures {
		t.Fatalf("interrupted: run %s, stopped by %q; want running, not stopped for failures", run.Status, run.StoppedBy)
	}
	two := 2
	run.Config.MaxFailures = &two
	if err := st.Commit(id, store.Change{Run: &run}); err != nil {
		t.Fatal(err)
	}

	// Resumed, no worker yet: stopped at once.
	c, err = coordinator.New(st, testnats.Connect(t, srv, "coord2"), coordinator.Config{Problem: problemFor, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	done = make(chan error, 1)
	var end gahpo.Run
	go func() {
		var err error
		end, err = c.Run(ctx)
		done <- err
	}()
	deadline = time.Now().Add(15 * time.Second)
	for {
		run, err := st.Run(id)
		if err != nil {
			t.Fatal(err)
		}
		if run.StoppedBy == gahpo.StopFailures {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("resumed with --max-failures 2 after 3 failures, no result yet: the history says run %s, stopped by %q, 15 s on; want stopped for failures at once", run.Status, run.StoppedBy)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if s := c.Status(); s.StoppedBy != gahpo.StopFailures {
		t.Errorf("status after the resume: stopped by %q, want %q", s.StoppedBy, gahpo.StopFailures)
	}

	// The trainings under way come back (failing): the run ends failed,
	// nothing bred since the interruption.
	startWorkers(t, srv, 2, brokenTrainer{})
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("the resumed coordinator: %v", err)
		}
	case <-ctx.Done():
		t.Fatal("the resumed run did not end")
	}
	if _, n := failed(id); end.Status != gahpo.RunFailed || end.StoppedBy != gahpo.StopFailures || n != bred ||
		!strings.HasPrefix(end.Error, "stopped for failures (--max-failures 2): ") {
		t.Errorf("run %s, stopped by %q, %d genomes (%d at the interruption): %q; want failed for failures (--max-failures 2), none bred", end.Status, end.StoppedBy, n, bred, end.Error)
	}
}
