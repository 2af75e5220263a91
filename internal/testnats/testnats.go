// Package testnats starts real NATS servers with JetStream for tests.
package testnats

import (
	"context"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/gahpo/gahpo/bus"
	"github.com/gahpo/gahpo/natsserver"
)

// Start runs an embedded NATS server with JetStream on a random port and a
// temporary store, shut down when the test ends.
func Start(t testing.TB) *natsserver.Server {
	t.Helper()
	srv, err := natsserver.Start(natsserver.Options{StoreDir: t.TempDir()})
	if err != nil {
		t.Fatalf("start NATS: %v", err)
	}
	t.Cleanup(srv.Shutdown)
	return srv
}

// Connect opens a bus connection to srv, closed when the test ends.
func Connect(t testing.TB, srv *natsserver.Server, name string) *bus.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := bus.Connect(ctx, bus.Options{URL: srv.URL(), Name: name})
	if err != nil {
		t.Fatalf("connect NATS: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

// Port is srv's client port: a test that stops the server starts the
// next one there, where its clients reconnect.
func Port(t testing.TB, srv *natsserver.Server) int {
	t.Helper()
	u, err := url.Parse(srv.URL())
	if err != nil {
		t.Fatalf("NATS URL %q: %v", srv.URL(), err)
	}
	port, err := strconv.Atoi(u.Port())
	if err != nil {
		t.Fatalf("NATS URL %q: %v", srv.URL(), err)
	}
	return port
}
