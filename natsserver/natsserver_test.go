package natsserver_test

import (
	"net"
	"net/url"
	"testing"

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
