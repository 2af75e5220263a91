package coordinator_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/gahpo/gahpo"
	"github.com/gahpo/gahpo/coordinator"
	"github.com/gahpo/gahpo/internal/testnats"
)

// TestLiveCurvesBounded: a trainer that reports every batch as an epoch
// sends thousands of reports for one training; the coordinator keeps its
// live curve within a bound (first and newest epochs kept), the status
// still fits a NATS reply, and reports without the task's token (anyone
// who may publish events could send them, for any genome) are not shown.
func TestLiveCurvesBounded(t *testing.T) {
	srv := testnats.Start(t)
	st := openStore(t, filepath.Join(t.TempDir(), "h.db"))
	defer st.Close()
	c, ctx := runUntilTheEnd(t, st, testnats.Connect(t, srv, "coord"), coordinator.Config{Run: regressionConfig(4, 2, 1), Problem: problemFor, Logger: quiet})
	conn := testnats.Connect(t, srv, "worker")
	task := takeTask(t, ctx, conn)
	report := func(genome, epoch int, token string) {
		rep := gahpo.EpochReport{Epoch: epoch, Metrics: map[string]gahpo.Float{"val_loss": 0.5, "train_loss": 0.4}}
		if err := conn.PublishEvent(gahpo.Started{V: gahpo.MessageVersion, RunID: c.RunID(), GenomeID: genome, Worker: "w", Report: &rep, Token: token}); err != nil {
			t.Fatal(err)
		}
	}
	other := task.GenomeID%4 + 1 // another genome of the first generation
	for e := 1; e <= 10; e++ {
		report(other, e, "")
		report(other, e, task.Token) // its token is not other's
	}
	const n = 5000
	for e := 1; e <= n; e++ {
		report(task.GenomeID, e, task.Token)
	}
	var curve []gahpo.EpochReport
	for len(curve) == 0 || curve[len(curve)-1].Epoch != n {
		if ctx.Err() != nil {
			t.Fatalf("the last report never showed: curve of %d epochs", len(curve))
		}
		time.Sleep(20 * time.Millisecond)
		curve = c.Status().Curves[task.GenomeID]
	}
	if len(curve) > 1001 || len(curve) < 100 || curve[0].Epoch != 1 {
		t.Errorf("the live curve keeps %d of %d reports, from epoch %d; want at most 1,001 from epoch 1", len(curve), n, curve[0].Epoch)
	}
	var got gahpo.Status
	if err := testnats.Connect(t, srv, "q").Query(ctx, c.RunID(), coordinator.EndpointStatus, struct{}{}, &got); err != nil {
		t.Fatalf("status over NATS: %v", err)
	}
	if len(got.Curves[task.GenomeID]) != len(curve) {
		t.Errorf("status over NATS: %d epochs, want %d", len(got.Curves[task.GenomeID]), len(curve))
	}
	if rs, ok := got.Curves[other]; ok {
		t.Errorf("genome %d shows %d reports sent without its token", other, len(rs))
	}
	// The status names the history file, for a dashboard that outlives
	// the coordinator to say where the run can be read.
	if got.History != st.Path() || !filepath.IsAbs(got.History) {
		t.Errorf("status over NATS names the history %q, want %q", got.History, st.Path())
	}
}

// TestNewRunStoresItsFirstBreeding: what the first breeding of a new run
// decides (the epochs it spent, a budget it already reached) is in the
// stored run before any result, for the offline views (query runs, the
// report).
func TestNewRunStoresItsFirstBreeding(t *testing.T) {
	st := openStore(t, filepath.Join(t.TempDir(), "h.db"))
	defer st.Close()
	rc := regressionConfig(8, 2, 1)
	rc.Fidelity, rc.Breeding, rc.MinEpochs, rc.MaxEpochs, rc.Eta = gahpo.FidelityHalving, gahpo.BreedingSteadyState, 1, 3, 3
	rc.InFlight, rc.BudgetEpochs = 8, 3
	srv := testnats.Start(t)
	c, err := coordinator.New(st, testnats.Connect(t, srv, "coord"), coordinator.Config{Run: rc, Problem: problemFor, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	run, err := st.Run(c.RunID())
	if err != nil {
		t.Fatal(err)
	}
	if run.EpochsSpent != 3 || run.StoppedBy != gahpo.StopBudgetEpochs {
		t.Errorf("stored run: epochs spent %d, stopped by %q; want 3, %q", run.EpochsSpent, run.StoppedBy, gahpo.StopBudgetEpochs)
	}
}
