package natsserver_test

import (
	"errors"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gahpo/gahpo/natsserver"
)

// TestStartShutdown starts a server on a free port, checks it accepts a
// connection, and shuts it down; TestMain then checks that no goroutine of
// the server is left behind.
func TestStartShutdown(t *testing.T) {
	srv, err := natsserver.Start(natsserver.Options{StoreDir: t.TempDir()})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	u, err := url.Parse(srv.URL())
	if err != nil {
		srv.Shutdown()
		t.Fatalf("URL %q: %v", srv.URL(), err)
	}
	c, err := net.Dial("tcp", u.Host)
	if err != nil {
		srv.Shutdown()
		t.Fatalf("dial %s: %v", u.Host, err)
	}
	c.Close()
	srv.Shutdown()
}

func TestStartRefusesBadOptions(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    natsserver.Options
	}{
		{"no store", natsserver.Options{}},
		{"cert without key", natsserver.Options{StoreDir: t.TempDir(), TLSCert: "cert.pem"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if srv, err := natsserver.Start(tc.o); err == nil {
				srv.Shutdown()
				t.Fatal("Start succeeded, want an error")
			}
		})
	}
}

// TestStartFailsAtOnce: an address in use (another server's, say), or a
// store directory that is not one, fails Start at once, naming what, where
// the server only logged it and Start waited ten seconds for a readiness
// that could not come ("not ready").
func TestStartFailsAtOnce(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	addr := busy.Addr().String()
	host, portStr, _ := net.SplitHostPort(addr)
	port, _ := strconv.Atoi(portStr)
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		o        natsserver.Options
		what     string // the ListenError's What; "" for another error
		contains string
	}{
		{"client port in use", natsserver.Options{Host: host, Port: port}, "client", ""},
		{"monitor port in use", natsserver.Options{Monitor: addr}, "monitor", ""},
		{"cluster port in use", natsserver.Options{Name: "n1", Cluster: addr, Routes: []string{"nats://127.0.0.1:1"}}, "cluster", ""},
		{"store is a file", natsserver.Options{StoreDir: file}, "", "not a directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.o.StoreDir == "" {
				tc.o.StoreDir = t.TempDir()
			}
			began := time.Now()
			srv, err := natsserver.Start(tc.o)
			if err == nil {
				srv.Shutdown()
				t.Fatal("started, want an error")
			}
			if took := time.Since(began); took > 3*time.Second {
				t.Errorf("failed after %v, want at once", took)
			}
			var le *natsserver.ListenError
			switch {
			case tc.what != "" && !errors.As(err, &le):
				t.Fatalf("err = %v, want a *ListenError", err)
			case tc.what != "" && (le.What != tc.what || le.Addr != addr || !errors.Is(err, syscall.EADDRINUSE)):
				t.Errorf("err = %v (what %q, addr %q), want %s address %s in use", err, le.What, le.Addr, tc.what, addr)
			case tc.what != "" && !strings.Contains(err.Error(), addr):
				t.Errorf("err = %v, want it to name %s", err, addr)
			case !strings.Contains(err.Error(), tc.contains):
				t.Errorf("err = %v, want it to contain %q", err, tc.contains)
			}
		})
	}
}
