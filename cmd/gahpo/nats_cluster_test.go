package main_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// TestNATSClusterRoutePassword runs `gahpo nats` as a 3-server cluster
// whose route port is open beyond loopback, with the routes' password from
// GAHPO_NATS_ROUTE_PASSWORD_FILE: the cluster forms (a stream of 3
// replicas), a fourth `gahpo nats` without the password that routes to it
// gets nothing of it, no log shows the password, and the monitoring port
// beyond loopback is warned about.
func TestNATSClusterRoutePassword(t *testing.T) {
	if testing.Short() {
		t.Skip("runs 4 gahpo nats processes: -short")
	}
	dir := t.TempDir()
	const secret = "c1uster-r0ute-9f2b"
	pw := filepath.Join(dir, "route.password")
	if err := os.WriteFile(pw, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var client, cluster, routes []string
	for range 3 {
		client = append(client, fmt.Sprintf("127.0.0.1:%d", freePort(t)))
		p := freePort(t)
		cluster = append(cluster, fmt.Sprintf("0.0.0.0:%d", p))
		routes = append(routes, fmt.Sprintf("nats://127.0.0.1:%d", p))
	}
	monitor := fmt.Sprintf("0.0.0.0:%d", freePort(t))
	t.Setenv("GAHPO_NATS_ROUTE_PASSWORD_FILE", pw)
	var logs []string
	for i := range 3 {
		log := filepath.Join(dir, fmt.Sprintf("n%d.log", i+1))
		logs = append(logs, log)
		args := []string{"nats", "-v", "--listen", client[i], "--cluster", cluster[i], "--server-name", fmt.Sprintf("n%d", i+1),
			"--routes", strings.Join(routes, ","), "--store", filepath.Join(dir, fmt.Sprintf("js%d", i+1))}
		if i == 0 {
			args = append(args, "--monitor", monitor)
		}
		start(t, log, args...)
	}
	nc, err := nats.Connect(strings.Join(client, ","), nats.RetryOnFailedConnect(true), nats.MaxReconnects(-1))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for {
		sctx, scancel := context.WithTimeout(ctx, 3*time.Second)
		_, err := js.CreateOrUpdateStream(sctx, jetstream.StreamConfig{Name: "T", Subjects: []string{"t.>"}, Replicas: 3})
		scancel()
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("no stream of 3 replicas on the cluster: %v", err)
		}
		time.Sleep(500 * time.Millisecond)
	}

	// A server without the password (its routes on loopback need none)
	// routing to n1.
	t.Setenv("GAHPO_NATS_ROUTE_PASSWORD_FILE", "")
	rogue := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	rlog := filepath.Join(dir, "rogue.log")
	start(t, rlog, "nats", "-v", "--listen", rogue, "--cluster", fmt.Sprintf("127.0.0.1:%d", freePort(t)), "--server-name", "rogue",
		"--routes", routes[0], "--store", filepath.Join(dir, "js-rogue"))
	rc, err := nats.Connect("nats://"+rogue, nats.RetryOnFailedConnect(true), nats.MaxReconnects(-1))
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	time.Sleep(4 * time.Second)
	if msg, err := rc.Request("$JS.API.STREAM.NAMES", nil, 2*time.Second); err == nil && strings.Contains(string(msg.Data), `"T"`) {
		t.Errorf("a client of the server without the route password lists the cluster's streams: %s", msg.Data)
	}
	rl, _ := os.ReadFile(rlog)
	if !strings.Contains(string(rl), "Authorization Violation") {
		t.Errorf("the server without the route password was not refused:\n%s", rl)
	}
	for i, l := range logs {
		b, _ := os.ReadFile(l)
		if strings.Contains(string(b), secret) {
			t.Errorf("n%d's log shows the route password", i+1)
		}
		if i == 0 && !strings.Contains(string(b), "the monitoring port reaches beyond loopback") {
			t.Errorf("n1 did not warn about its monitoring port:\n%s", b)
		}
	}
}
