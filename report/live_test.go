package report_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/gahpo/gahpo"
	"github.com/gahpo/gahpo/bus"
	"github.com/gahpo/gahpo/coordinator"
	"github.com/gahpo/gahpo/models/problems"
	"github.com/gahpo/gahpo/natsserver"
	"github.com/gahpo/gahpo/report"
)

// TestLiveSource reads a run through a coordinator's query service on a
// real NATS server (the coordinator's own query code over a history file)
// and gets what the file holds.
func TestLiveSource(t *testing.T) {
	st, runID := report.WriteTestHistory(t, problems.Regression, 6, 3)
	srv, err := natsserver.Start(natsserver.Options{StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := bus.Connect(ctx, bus.Options{URL: srv.URL(), Name: "test"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	q := coordinator.Queries{Store: st}
	req := func(b []byte) coordinator.QueryRequest {
		var r coordinator.QueryRequest
		_ = json.Unmarshal(b, &r)
		if r.Run == "" {
			r.Run = runID
		}
		return r
	}
	status := gahpo.Status{RunID: runID, Problem: problems.Regression, State: gahpo.RunDone, Generation: 3, Generations: 3, Population: 6, // counted from 1, as the coordinator says
		History: "/srv/gahpo/runs.db"}
	stop, err := conn.Serve(ctx, runID, "0.0.1", map[string]bus.Endpoint{
		coordinator.EndpointRuns:   func(context.Context, []byte) (any, error) { return q.Runs() },
		coordinator.EndpointStatus: func(context.Context, []byte) (any, error) { return status, nil },
		coordinator.EndpointGeneration: func(_ context.Context, b []byte) (any, error) {
			r := req(b)
			return q.Generation(r.Run, r.Generation)
		},
		coordinator.EndpointFinal: func(_ context.Context, b []byte) (any, error) { return q.Final(req(b).Run) },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer stop()

	snap, err := report.LiveSource{Q: conn, Run: runID}.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want, err := report.StoreSource{Store: st}.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if snap.Run.ID != runID || len(snap.Genomes) != len(want.Genomes) || snap.Final == nil || snap.Status == nil {
		t.Fatalf("live snapshot: run %q, %d genomes (want %d), final %v, status %v", snap.Run.ID, len(snap.Genomes), len(want.Genomes), snap.Final != nil, snap.Status != nil)
	}
	for i, g := range snap.Genomes {
		if g.ID != want.Genomes[i].ID || g.Fitness != want.Genomes[i].Fitness && g.Status != gahpo.GenomeFailed {
			t.Errorf("genome %d: live %d %v, file %d %v", i, g.ID, g.Fitness, want.Genomes[i].ID, want.Genomes[i].Fitness)
		}
	}
	if snap.DB != status.History {
		t.Errorf("live snapshot's history file %q, want the coordinator's %q", snap.DB, status.History)
	}
	if report.Version(snap) == "" {
		t.Error("no version")
	}
	figs, err := report.Write(ctx, report.LiveSource{Q: conn, Run: runID}, t.TempDir(), report.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range figs {
		if f.Name == "best-boxes" && f.Plot == nil {
			t.Errorf("live report lacks %s: %s", f.Name, f.Missing)
		}
		if f.Name == "regression-fit" && f.Plot != nil {
			t.Error("live report drew the model without its weights")
		}
	}
}
