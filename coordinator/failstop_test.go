package coordinator_test

import (
	"context"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/gahpo/gahpo"
	"github.com/gahpo/gahpo/coordinator"
	"github.com/gahpo/gahpo/internal/testnats"
	"github.com/gahpo/gahpo/models"
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
