package main

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gahpo/gahpo/bus"
	"github.com/gahpo/gahpo/natsserver"
)

// TestWorkerExitsWhenCredentialsAreRefused: the server comes back with
// another password; the worker's client is refused twice and closes its
// connection for good. The worker must exit with the reason instead of
// logging "nats: connection closed" every second forever.
func TestWorkerExitsWhenCredentialsAreRefused(t *testing.T) {
	for _, withQueue := range []bool{false, true} {
		t.Run(fmt.Sprintf("queue=%v", withQueue), func(t *testing.T) {
			t.Parallel() // each its own server: their waits overlap
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			port := l.Addr().(*net.TCPAddr).Port
			l.Close()
			store := filepath.Join(t.TempDir(), "nats")
			url := fmt.Sprintf("nats://127.0.0.1:%d", port)
			srv, err := natsserver.Start(natsserver.Options{Port: port, StoreDir: store, User: "gahpo", Password: "old"})
			if err != nil {
				t.Fatal(err)
			}
			defer func() { srv.Shutdown() }()
			if withQueue { // a coordinator has set the streams up: the worker pulls
				conn, err := bus.Connect(context.Background(), bus.Options{URL: url, User: "gahpo", Password: "old"})
				if err != nil {
					t.Fatal(err)
				}
				if err := conn.EnsureStreams(context.Background(), 2*time.Second); err != nil {
					t.Fatal(err)
				}
				conn.Close()
			}
			done := make(chan error, 1)
			var stderr string
			go func() {
				_, e, err := runMain(t, "worker", "--nats", url, "--nats-user", "gahpo", "--nats-password", "old", "--name", "w")
				stderr = e
				done <- err
			}()
			time.Sleep(2 * time.Second) // connected: waiting for the queue, or pulling
			srv.Shutdown()
			srv, err = natsserver.Start(natsserver.Options{Port: port, StoreDir: store, User: "gahpo", Password: "new"})
			if err != nil {
				t.Fatal(err)
			}
			select {
			case err := <-done:
				if err == nil || !strings.Contains(strings.ToLower(err.Error()), "authorization") {
					t.Errorf("worker ended with %v; want an error giving the refused credentials as the reason", err)
				}
			case <-time.After(90 * time.Second):
				t.Fatalf("worker still running 90 s after its credentials were refused")
			}
			if n := strings.Count(stderr, "connection closed"); n > 3 {
				t.Errorf("%d log lines say 'connection closed'", n)
			}
		})
	}
}
