package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gahpo/gahpo"
	"github.com/gahpo/gahpo/bus"
	"github.com/gahpo/gahpo/internal/testnats"
	"github.com/gahpo/gahpo/store"
)

// TestPurgeRefusesARunningRun: purge refuses a run whose coordinator
// answers on NATS (even with --force: purging would kill it), and, without
// --force, one that the history file holds as running or final or that a
// process holds open; it purges a finished run, a run said to be stopped,
// and, without a history file, any run no coordinator answers for.
func TestPurgeRefusesARunningRun(t *testing.T) {
	t.Chdir(t.TempDir()) // no gahpo.db here
	srv := testnats.Start(t)
	conn := testnats.Connect(t, srv, "test")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := conn.EnsureStreams(ctx, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(t.TempDir(), "h.db")
	st, err := store.Open(db, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for id, status := range map[string]gahpo.RunStatus{"live": gahpo.RunRunning, "running": gahpo.RunRunning,
		"final": gahpo.RunFinal, "done": gahpo.RunDone, "failed": gahpo.RunFailed} {
		if err := st.CreateRun(gahpo.Run{ID: id, Status: status}, []byte("{}"), nil); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()
	// A coordinator of run "live" answers on NATS; another process holds
	// the history file held.db.
	stop, err := testnats.Connect(t, srv, "coord").Serve(ctx, "live", "0.0.1", map[string]bus.Endpoint{
		"status": func(context.Context, []byte) (any, error) { return gahpo.Status{}, nil }})
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	held := filepath.Join(t.TempDir(), "held.db")
	holder, err := store.Open(held, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()

	tests := []struct {
		run     string
		args    []string
		wantErr []string // "" parts: purged
	}{
		{"live", []string{"--db", db, "--force"}, []string{"run live is running: its coordinator answers on NATS", "stop its coordinator first (Ctrl-C"}},
		{"live", nil, []string{"its coordinator answers on NATS"}},
		{"running", []string{"--db", db}, []string{"run running is running in " + db, "stop its coordinator first", "purge --force"}},
		{"final", []string{"--db", db}, []string{"run final is final in " + db, "purge --force"}},
		{"running", []string{"--db", held}, []string{"held.db is in use, most likely by the coordinator of run live", "purge --force"}},
		{"other", []string{"--db", db}, []string{"run other is not in " + db}},
		{"running", []string{"--db", db, "--force"}, nil},
		{"final", []string{"--db", held, "--force"}, nil},
		{"done", []string{"--db", db}, nil},
		{"failed", []string{"--db", db}, nil},
		{"other", nil, nil}, // no history file: only a live coordinator is refused
	}
	for _, tt := range tests {
		t.Run(tt.run+" "+strings.Join(tt.args, " "), func(t *testing.T) {
			task := gahpo.Task{V: gahpo.MessageVersion, Kind: gahpo.KindFitness, RunID: tt.run, GenomeID: 1, Problem: "p", Params: map[string]float64{"x": 1}}
			if queued, err := conn.TaskQueued(ctx, tt.run, 1); err != nil || !queued { // left by a refused purge
				if err := conn.PublishLostTask(ctx, task); err != nil {
					t.Fatal(err)
				}
			}
			var out, errb bytes.Buffer
			m := &Main{Stdout: &out, Stderr: &errb}
			err := m.Run(ctx, append([]string{"purge", "--nats", srv.URL(), "--run", tt.run}, tt.args...))
			queued, _, qerr := conn.Pending(ctx, tt.run)
			if qerr != nil {
				t.Fatal(qerr)
			}
			if tt.wantErr == nil {
				if err != nil || queued != 0 || !strings.Contains(out.String(), "removed 1 queued tasks") {
					t.Errorf("purge: %v, %d tasks left, output %q; want the task removed", err, queued, out.String())
				}
				return
			}
			if err == nil {
				t.Fatalf("purge accepted; want refused with %q", tt.wantErr)
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if !strings.HasPrefix(err.Error(), "purge: ") {
				t.Errorf("error %q lacks the prefix purge:", err)
			}
			if queued != 1 {
				t.Errorf("%d tasks queued after a refused purge, want 1", queued)
			}
		})
	}
}

// TestPurgeRemovesTheRunsObjects: a coordinator killed as its run ended,
// before its clean-up, leaves the run's checkpoints and weights in the
// object store, where nothing else would remove them; purge does, and
// leaves another run's alone. Of the data sets (each kept under its
// content's name, which other runs may use), it deletes those that only
// the run used.
func TestPurgeRemovesTheRunsObjects(t *testing.T) {
	t.Chdir(t.TempDir()) // no gahpo.db here
	srv := testnats.Start(t)
	conn := testnats.Connect(t, srv, "test")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := conn.EnsureStreams(ctx, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	// Run "ended-2" (an id that goes on from "ended-") is another run:
	// its objects stay. A run's names from before they had a nonce go.
	put := map[string][]string{
		bus.BucketCheckpoints: {"ended-3-e1-aa", "ended-7-e3-bb", "other-3-e1-cc", "ended-2-3-e1-ff", "ended-5-e1"},
		bus.BucketWeights:     {"ended-7-weights-dd", "other-2-weights-ee", "ended", "ended-2-final-3-gg", "ended-final-7"},
	}
	// Data sets: one only run "ended" uses (deleted), one it shares with
	// another run (kept), one put before runs marked theirs (kept).
	dataDir := t.TempDir()
	var kept []string
	for _, d := range []struct {
		file, content string
		runs          []string
	}{
		{"train.csv", "x,y\n", []string{"ended"}},
		{"train.csv", "x,y\n1,2\n", []string{"ended", "other"}},
		{"test.csv", "x,y\n3,4\n", nil},
	} {
		path := filepath.Join(dataDir, d.file)
		if err := os.WriteFile(path, []byte(d.content), 0o644); err != nil {
			t.Fatal(err)
		}
		var ref gahpo.DataRef
		var err error
		if ref, err = conn.PutData(ctx, path); err != nil {
			t.Fatal(err)
		}
		for _, run := range d.runs {
			if ref, err = conn.PutRunData(ctx, path, run); err != nil {
				t.Fatal(err)
			}
		}
		if len(d.runs) != 1 {
			kept = append(kept, ref.Name)
		}
	}
	slices.Sort(kept)
	for bucket, names := range put {
		for _, name := range names {
			if _, err := conn.PutBytes(ctx, bucket, name, []byte(name)); err != nil {
				t.Fatal(err)
			}
		}
	}
	var out, errb bytes.Buffer
	m := &Main{Stdout: &out, Stderr: &errb}
	if err := m.Run(ctx, []string{"purge", "--nats", srv.URL(), "--run", "ended"}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "5 checkpoints and weights; deleted 1 data files") {
		t.Errorf("output %q; want 5 objects removed and 1 data file", out.String())
	}
	want := map[string]string{bus.BucketCheckpoints: "[ended-2-3-e1-ff other-3-e1-cc]", bus.BucketWeights: "[ended ended-2-final-3-gg other-2-weights-ee]",
		bus.BucketData: fmt.Sprint(kept)}
	for bucket, w := range want {
		names, err := conn.ListObjects(ctx, bucket)
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(names)
		if got := fmt.Sprint(names); got != w {
			t.Errorf("%s after the purge: %s, want %s", bucket, got, w)
		}
	}
}

// TestPurgeOfAnUnknownRun: a run that neither NATS nor the history holds
// anything of (a mistyped id) is refused, naming the runs that both hold
// (on NATS, those with only checkpoints or weights left too),
// instead of purging nothing with exit status 0; a run of the history
// with nothing left on NATS, or with only objects there, is purged.
func TestPurgeOfAnUnknownRun(t *testing.T) {
	srv := testnats.Start(t)
	conn := testnats.Connect(t, srv, "test")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := conn.EnsureStreams(ctx, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := conn.PublishTask(ctx, gahpo.Task{V: gahpo.MessageVersion, Kind: gahpo.KindFitness, RunID: "left", GenomeID: 1, Problem: "p", Params: map[string]float64{"x": 1}}); err != nil {
		t.Fatal(err)
	}
	// Objects of run "objects", and of a run whose id a mistyped one cuts
	// short (its coordinator's: purging them would lose its checkpoints).
	for _, name := range []string{"objects-3-e1-aa", "20261201-101010-abcdef-3-e1-bb"} {
		if _, err := conn.PutBytes(ctx, bus.BucketCheckpoints, name, []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	withHistory := t.TempDir() // its gahpo.db holds run "done"
	st, err := store.Open(filepath.Join(withHistory, "gahpo.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := st.CreateRun(gahpo.Run{ID: "done", Status: gahpo.RunDone}, []byte("{}"), nil); err != nil {
		t.Fatal(err)
	}
	st.Close()
	db := filepath.Join(withHistory, "gahpo.db")
	tests := []struct {
		name, dir, run string
		args           []string
		wantErr        []string // nil: purged
		wantOut        string
	}{
		{"no history", t.TempDir(), "typo", nil,
			[]string{"purge: no run typo: NATS holds nothing of it; runs on NATS: 20261201-101010-abcdef, left, objects; no history file gahpo.db to look in (give its coordinator's --db)"}, ""},
		{"the default history", withHistory, "typo", nil,
			[]string{"purge: no run typo: NATS holds nothing of it, nor does gahpo.db; runs on NATS: 20261201-101010-abcdef, left, objects; runs in gahpo.db: done"}, ""},
		{"a history given, forced", t.TempDir(), "typo", []string{"--db", db, "--force"},
			[]string{"nor does " + db, "runs in " + db + ": done"}, ""},
		{"a run of the history with nothing on NATS", withHistory, "done", nil, nil, "removed 0 queued tasks, 0 waiting results and 0 checkpoints"},
		{"a run with objects only", t.TempDir(), "objects", nil, nil, "removed 0 queued tasks, 0 waiting results and 1 checkpoints"},
		{"a run id cut short", t.TempDir(), "20261201-101010", nil,
			[]string{"purge: no run 20261201-101010: NATS holds nothing of it"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Chdir(tt.dir)
			var out, errb bytes.Buffer
			m := &Main{Stdout: &out, Stderr: &errb}
			err := m.Run(ctx, append([]string{"purge", "--nats", srv.URL(), "--run", tt.run}, tt.args...))
			if tt.wantErr == nil {
				if err != nil || !strings.Contains(out.String(), tt.wantOut) {
					t.Errorf("purge: %v, output %q; want %q", err, out.String(), tt.wantOut)
				}
				return
			}
			if err == nil {
				t.Fatalf("purge of run %s succeeded (output %q); want it refused", tt.run, out.String())
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
	if names, err := conn.ListObjects(ctx, bus.BucketCheckpoints); err != nil || !slices.Contains(names, "20261201-101010-abcdef-3-e1-bb") {
		t.Errorf("checkpoints left %v, %v: want the cut-short id's run's kept", names, err)
	}
}
