package main

import (
	"context"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

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
	workerLog := &syncBuffer{}
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
