package main

import (
	"context"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gahpo/gahpo/internal/testnats"
	"github.com/gahpo/gahpo/natsserver"
)

// startUsersServer runs a NATS server with the users and permissions of
// deploy/nats/auth.conf, the file every deployment here uses.
func startUsersServer(t *testing.T) *natsserver.Server {
	t.Helper()
	t.Setenv("GAHPO_COORDINATOR_PASSWORD", "c-secret")
	t.Setenv("GAHPO_WORKER_PASSWORD", "w-secret")
	t.Setenv("GAHPO_QUERY_PASSWORD", "q-secret")
	srv, err := natsserver.Start(natsserver.Options{StoreDir: t.TempDir(), UsersFile: "../../deploy/nats/auth.conf"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	return srv
}

// TestSearchUnderRoleUsers: a halving search, whose promotions restore
// checkpoints and whose final keeps its weights, runs to its end with the
// coordinator and the worker each under its own user of auth.conf: the
// worker's rights (no purge of any bucket) are all it needs.
func TestSearchUnderRoleUsers(t *testing.T) {
	srv := startUsersServer(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	workerLog := &testnats.LogBuffer{}
	workerDone := make(chan error, 1)
	go func() {
		m := &Main{Stdout: io.Discard, Stderr: workerLog}
		workerDone <- m.Run(ctx, []string{"worker", "--nats", srv.URL(), "--nats-user", "worker", "--nats-password", "w-secret",
			"--nats-inbox-prefix", "_INBOX_worker", "--name", "w", "--cache", t.TempDir(), "--log-level", "info"})
	}()
	db := filepath.Join(t.TempDir(), "h.db")
	_, coordErr, err := runMain(t, "coordinator", "--nats", srv.URL(), "--nats-user", "coordinator", "--nats-password", "c-secret",
		"--nats-inbox-prefix", "_INBOX_coordinator", "--db", db, "--problem", "regression", "--fidelity", "halving",
		"--breeding", "steady-state", "--population", "4", "--generations", "2", "--min-epochs", "10", "--max-epochs", "90", "--eta", "3",
		"--no-progress")
	cancel()
	select {
	case <-workerDone:
	case <-time.After(30 * time.Second):
		t.Error("the worker did not stop")
	}
	if err != nil {
		t.Fatalf("coordinator: %v\n%s\nworker:\n%s", err, tail(coordErr), tail(workerLog.String()))
	}
	for _, bad := range []string{"Permissions Violation", "restore checkpoint", "store weights", "keep checkpoint"} {
		if strings.Contains(workerLog.String(), bad) {
			t.Errorf("the worker's log says %q:\n%s", bad, tail(workerLog.String()))
		}
	}
	// Its replies under a prefix of its own, which the worker user may
	// subscribe to: no other worker shares it.
	if !strings.Contains(workerLog.String(), "inbox_prefix=_INBOX_worker.") {
		t.Errorf("the worker's log names no reply prefix of its own under _INBOX_worker.:\n%s", tail(workerLog.String()))
	}
	if !strings.Contains(workerLog.String(), "rung=1 checkpoint=true") {
		t.Errorf("no promotion from a checkpoint in the worker's log:\n%s", tail(workerLog.String()))
	}
	out, _, err := runMain(t, "query", "final", "--db", db)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "weights ") || strings.Contains(out, "lost") {
		t.Errorf("the final's weights:\n%s", out)
	}
	promoted, _, err := runMain(t, "query", "best", "--per-generation=false", "--json", "--db", db)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(promoted, `"epochs": 90`) && !strings.Contains(promoted, `"epochs":90`) {
		t.Errorf("no genome reached the top rung (90 epochs):\n%s", promoted)
	}
}

// TestDBWinsOverEnvironment: an explicit --db reads that history file even
// with GAHPO_NATS in the environment; --db with --nats is refused; without
// --db, the URL (flag or environment) asks a running coordinator.
func TestDBWinsOverEnvironment(t *testing.T) {
	db := filepath.Join(t.TempDir(), "h.db")
	run := regressionRun(t, db)
	const dead = "nats://127.0.0.1:1" // nothing listens: a live read fails to connect
	out := t.TempDir()
	for _, tt := range []struct {
		name    string
		env     string
		args    []string
		want    string // in stdout
		wantErr string // in the error; "" for none
	}{
		{"query: --db with GAHPO_NATS set", dead, []string{"query", "runs", "--db", db}, run.ID, ""},
		{"query: GAHPO_NATS alone is live", dead, []string{"query", "runs"}, "", "connect"},
		{"query: --nats alone is live", "", []string{"query", "runs", "--nats", dead}, "", "connect"},
		{"query: --db and --nats", "", []string{"query", "runs", "--db", db, "--nats", dead}, "", "query: give --db (a history file) or --nats (a running coordinator), not both"},
		{"query: --db and --nats=", dead, []string{"query", "runs", "--db", db, "--nats="}, "", "not both"},
		{"export: --db with GAHPO_NATS set", dead, []string{"export", "--db", db}, "genome", ""},
		{"export: --db and --nats", "", []string{"export", "--db", db, "--nats", dead}, "", "export: give --db"},
		{"report: --db with GAHPO_NATS set", dead, []string{"report", "--db", db, "--out", out}, "index.html", ""},
		{"report: GAHPO_NATS alone is live", dead, []string{"report", "--out", out}, "", "connect"},
		{"report: --db and --nats", "", []string{"report", "--db", db, "--nats", dead, "--out", out}, "", "report: give --db"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("GAHPO_NATS", tt.env)
			stdout, _, err := runMain(t, tt.args...)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("err = %v", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
			if !strings.Contains(stdout, tt.want) {
				t.Errorf("stdout %q, want %q in it", stdout, tt.want)
			}
		})
	}
}

// TestMissingInboxPrefixCommands: under auth.conf's users, gahpo status
// without GAHPO_NATS_INBOX_PREFIX fails at once naming it (not "no running
// coordinator", while one runs), and a worker says it at each try.
func TestMissingInboxPrefixCommands(t *testing.T) {
	srv := startUsersServer(t)
	t.Setenv("GAHPO_NATS_INBOX_PREFIX", "")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	coordDone := make(chan error, 1)
	go func() {
		m := &Main{Stdout: io.Discard, Stderr: io.Discard}
		coordDone <- m.Run(ctx, []string{"coordinator", "--nats", srv.URL(), "--nats-user", "coordinator", "--nats-password", "c-secret",
			"--nats-inbox-prefix", "_INBOX_coordinator", "--db", filepath.Join(t.TempDir(), "h.db"), "--problem", "regression",
			"--population", "4", "--generations", "100", "--no-progress"})
	}()
	// The query user with its prefix finds the coordinator...
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, _, err := runMain(t, "status", "--nats", srv.URL(), "--nats-user", "query", "--nats-password", "q-secret", "--nats-inbox-prefix", "_INBOX_query")
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("status with the query user's prefix: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	// ...without it, it is told what to set.
	start := time.Now()
	_, _, err := runMain(t, "status", "--nats", srv.URL(), "--nats-user", "query", "--nats-password", "q-secret")
	if err == nil || !strings.Contains(err.Error(), "set GAHPO_NATS_INBOX_PREFIX") || strings.Contains(err.Error(), "no running coordinator") {
		t.Errorf("status without the prefix: %v; want the prefix named, no blame on the coordinator", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("status without the prefix took %v", d)
	}

	wctx, wcancel := context.WithTimeout(ctx, 2*time.Second)
	defer wcancel()
	workerLog := &testnats.LogBuffer{}
	m := &Main{Stdout: io.Discard, Stderr: workerLog}
	_ = m.Run(wctx, []string{"worker", "--nats", srv.URL(), "--nats-user", "worker", "--nats-password", "w-secret", "--name", "w", "--cache", t.TempDir()})
	log := workerLog.String()
	if n := strings.Count(log, `msg="task queue unavailable: the NATS server sends this worker no replies"`); n < 2 || !strings.Contains(log, "set GAHPO_NATS_INBOX_PREFIX") {
		t.Errorf("the worker's log (%d lines naming the cause):\n%s", n, tail(log))
	}
	if strings.Contains(log, "context deadline exceeded") {
		t.Errorf("the worker blames a timeout:\n%s", tail(log))
	}
	cancel()
	select {
	case <-coordDone:
	case <-time.After(30 * time.Second):
		t.Error("the coordinator did not stop")
	}
}

// TestTLSPairFlags: half a certificate pair is refused when the flags are
// parsed, not as "open : no such file or directory".
func TestTLSPairFlags(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"status", "--nats", "tls://127.0.0.1:1", "--tls-ca", "ca.pem", "--tls-cert", "c.pem"}, "status: --tls-cert c.pem needs --tls-key, the certificate's private key"},
		{[]string{"worker", "--nats", "tls://127.0.0.1:1", "--tls-key", "k.pem"}, "worker: --tls-key k.pem needs --tls-cert, the certificate of that key"},
		{[]string{"coordinator", "--nats", "tls://127.0.0.1:1", "--tls-cert", "c.pem"}, "coordinator: --tls-cert c.pem needs --tls-key"},
		{[]string{"query", "runs", "--nats", "tls://127.0.0.1:1", "--tls-cert", "c.pem"}, "query: --tls-cert c.pem needs --tls-key"},
		{[]string{"nats", "--tls-key", "k.pem"}, "nats: --tls-key k.pem needs --tls-cert"},
	} {
		_, _, err := runMain(t, tt.args...)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("gahpo %s: %v, want %q", strings.Join(tt.args, " "), err, tt.want)
		}
	}
}
