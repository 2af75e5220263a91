package main_test

import (
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestCoordinatorAndServerDownTogether kills the NATS server with SIGKILL
// mid-run, then the coordinator, and starts the coordinator again before
// the server, on the same store: the coordinator waits for its server, as
// a worker does, and resumes the run once it is back; the run ends with
// no genome failed. The coordinator exited at once with "no servers
// available for connection", though services restarted together start in
// any order.
func TestCoordinatorAndServerDownTogether(t *testing.T) {
	if testing.Short() {
		t.Skip("a cluster of gahpo processes: -short")
	}
	dir := t.TempDir()
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	url := "nats://" + addr
	serve := func(log string) *exec.Cmd {
		return start(t, filepath.Join(dir, log), "nats", "--listen", addr, "--store", filepath.Join(dir, "nats"))
	}
	nats := serve("nats1.log")
	for i := range 2 {
		start(t, filepath.Join(dir, fmt.Sprintf("w%d.log", i)), "worker", "--nats", url, "--name", fmt.Sprintf("w%d", i))
	}
	db := filepath.Join(dir, "h.db")
	args := []string{"coordinator", "--nats", url, "--db", db, "--problem", "regression", "--fidelity", "halving",
		"--population", "6", "--generations", "3", "--ack-wait", "2s", "--no-progress"}
	coord := start(t, filepath.Join(dir, "coord1.log"), args...)
	waitFor(t, time.Minute, func() bool {
		out, _, err := gahpo(t, "query", "best", "--json", "--nats", url)
		var live []bestEntry
		return err == nil && json.Unmarshal([]byte(out), &live) == nil && len(live) >= 1
	}, dir)

	for _, p := range []*exec.Cmd{nats, coord} {
		if err := p.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		_ = p.Wait()
	}
	coord = start(t, filepath.Join(dir, "coord2.log"), args...)
	ended := make(chan error, 1)
	go func() { ended <- coord.Wait() }()
	select {
	case err := <-ended:
		t.Fatalf("the coordinator started without its server ended: %v\n%s", err, logs(dir))
	case <-time.After(3 * time.Second):
	}
	serve("nats2.log")
	select {
	case err := <-ended:
		if err != nil {
			t.Fatalf("resumed coordinator: %v\n%s", err, logs(dir))
		}
	case <-time.After(3 * time.Minute):
		t.Fatalf("the resumed run did not end\n%s", logs(dir))
	}
	checkDoneRestartedOnce(t, db)
	out, errOut, err := gahpo(t, "export", "--db", db, "--format", "jsonl")
	if err != nil {
		t.Fatalf("export: %v %s", err, errOut)
	}
	if n := strings.Count(out, "\n"); n != 18 {
		t.Errorf("%d genomes exported, want 18:\n%s", n, out)
	}
	for line := range strings.Lines(out) {
		var g struct {
			ID      int    `json:"genome_id"`
			Status  string `json:"status"`
			Failure string `json:"failure"`
		}
		if err := json.Unmarshal([]byte(line), &g); err != nil {
			t.Fatal(err)
		}
		if g.Status == "failed" && !strings.HasPrefix(g.Failure, "diverged") { // a genome's own
			t.Errorf("genome %d failed: %s", g.ID, g.Failure)
		}
	}
}
