package main_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// netns is a network namespace this test made: a machine of its own, with
// its own interfaces and addresses.
type netns string

// ip runs the ip command, failing the test on error.
func ip(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
		t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// twoMachines makes two network namespaces joined by a veth pair, with
// addresses 10.77.X.1 (a) and 10.77.X.2 (b), and removes them when the
// test ends. It skips the test where namespaces cannot be made (not root,
// no ip command, a container without the rights).
func twoMachines(t *testing.T) (a, b netns, addrA string, linkB string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("network namespaces need root")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("no ip command (iproute2)")
	}
	id := os.Getpid() % 250
	a, b = netns(fmt.Sprintf("gahpo-%d-a", id)), netns(fmt.Sprintf("gahpo-%d-b", id))
	for _, ns := range []netns{a, b} { // left over by a killed run
		_ = exec.Command("ip", "netns", "del", string(ns)).Run()
	}
	if out, err := exec.Command("ip", "netns", "add", string(a)).CombinedOutput(); err != nil {
		t.Skipf("cannot make a network namespace here: %v %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", string(a)).Run() })
	ip(t, "netns", "add", string(b))
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", string(b)).Run() })
	va, vb := fmt.Sprintf("gva%d", id), fmt.Sprintf("gvb%d", id)
	ip(t, "link", "add", va, "type", "veth", "peer", "name", vb)
	ip(t, "link", "set", va, "netns", string(a))
	ip(t, "link", "set", vb, "netns", string(b))
	addrA, addrB := fmt.Sprintf("10.77.%d.1", id), fmt.Sprintf("10.77.%d.2", id)
	ip(t, "-n", string(a), "addr", "add", addrA+"/24", "dev", va)
	ip(t, "-n", string(b), "addr", "add", addrB+"/24", "dev", vb)
	for _, l := range []struct {
		ns  netns
		dev string
	}{{a, va}, {b, vb}, {a, "lo"}, {b, "lo"}} {
		ip(t, "-n", string(l.ns), "link", "set", l.dev, "up")
	}
	return a, b, addrA, vb
}

// TestTwoMachines runs NATS and the coordinator on one machine and two
// workers on another (network namespaces joined by a virtual cable), cuts
// the cable before the run and again in its middle, and checks that the
// workers reconnect and the run completes with every genome trained on the
// other machine.
func TestTwoMachines(t *testing.T) {
	if testing.Short() {
		t.Skip("a cluster of gahpo processes in two network namespaces: -short")
	}
	a, b, addrA, linkB := twoMachines(t)
	dir := t.TempDir()
	url := "nats://" + addrA + ":4222"
	// Beyond loopback, the server requires a token: every process reads it
	// from the file the environment names.
	tokenFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokenFile, []byte("netns-test-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("GAHPO_NATS_TOKEN_FILE", tokenFile)
	startIn(t, string(a), filepath.Join(dir, "nats.log"), "nats", "--listen", addrA+":4222", "--store", filepath.Join(dir, "nats"))
	for i := range 2 {
		startIn(t, string(b), filepath.Join(dir, fmt.Sprintf("w%d.log", i)), "worker", "--nats", url, "--name", fmt.Sprintf("machine-b-%d", i), "--cache", filepath.Join(dir, "cache"))
	}
	// Let the workers connect, then cut the cable: the coordinator's tasks
	// wait in the queue on machine A.
	time.Sleep(2 * time.Second)
	ip(t, "-n", string(b), "link", "set", linkB, "down")
	db := filepath.Join(dir, "h.db")
	coord := startIn(t, string(a), filepath.Join(dir, "coord.log"), "coordinator", "--nats", url, "--db", db, "--problem", "regression",
		"--population", "12", "--generations", "6", "--final-epochs", "1", "--ack-wait", "3s", "--seed", "3")
	time.Sleep(3 * time.Second)
	ip(t, "-n", string(b), "link", "set", linkB, "up")

	// Once results flow, cut it again for longer than the lease.
	waitFor(t, 40*time.Second, func() bool {
		out, _, err := gahpoIn(t, string(a), "status", "--nats", url)
		return err == nil && strings.Contains(out, "done") && !strings.Contains(out, " 0/")
	}, dir)
	ip(t, "-n", string(b), "link", "set", linkB, "down")
	time.Sleep(4 * time.Second)
	ip(t, "-n", string(b), "link", "set", linkB, "up")

	done := make(chan error, 1)
	go func() { done <- coord.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("coordinator: %v\n%s", err, logs(dir))
		}
	case <-time.After(4 * time.Minute):
		t.Fatalf("run not done after 4 minutes\n%s", logs(dir))
	}

	out, errOut, err := gahpo(t, "query", "generation", "5", "--json", "--db", db)
	if err != nil {
		t.Fatalf("query: %v %s", err, errOut)
	}
	var genomes []struct {
		ID      int    `json:"id"`
		Status  string `json:"status"`
		Worker  string `json:"worker"`
		Failure string `json:"failure"`
	}
	if err := json.Unmarshal([]byte(out), &genomes); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if len(genomes) != 12 {
		t.Fatalf("last generation has %d genomes, want 12", len(genomes))
	}
	// Every genome trained on machine B (or copied from an earlier one);
	// a failure may only be the genome's own divergence, never the lost
	// network.
	for _, g := range genomes {
		trained := g.Status == "done" || (g.Status == "failed" && strings.HasPrefix(g.Failure, "diverged"))
		if !(trained && strings.HasPrefix(g.Worker, "machine-b-")) && g.Status != "duplicate" {
			t.Errorf("genome %+v: want trained on machine B, or a duplicate", g)
		}
	}
	if out, _, err := gahpo(t, "query", "final", "--db", db); err != nil || !strings.Contains(out, "machine-b-") {
		t.Errorf("final training: %v\n%s", err, out)
	}
}
