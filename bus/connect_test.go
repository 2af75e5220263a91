package bus_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/gahpo/gahpo/bus"
	"github.com/gahpo/gahpo/natsserver"
)

// TestConnectWaitsForTheServer checks that a connection with Wait keeps
// trying until a server starts, and that one without fails at once.
func TestConnectWaitsForTheServer(t *testing.T) {
	t.Parallel() // its own server; its waits overlap the others'
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	url := fmt.Sprintf("nats://127.0.0.1:%d", port)

	begin := time.Now()
	if _, err := bus.Connect(context.Background(), bus.Options{URL: url, Name: "nowait"}); err == nil {
		t.Fatal("connected to nothing")
	} else if d := time.Since(begin); d > 5*time.Second {
		t.Errorf("without Wait, the failure took %v", d)
	}

	short, cancel := context.WithTimeout(context.Background(), 700*time.Millisecond)
	defer cancel()
	if _, err := bus.Connect(short, bus.Options{URL: url, Name: "gives-up", Wait: true}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Wait until the context ends: %v, want a deadline error", err)
	}

	ctx, cancel2 := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel2()
	type result struct {
		c   *bus.Conn
		err error
	}
	got := make(chan result, 1)
	go func() {
		c, err := bus.Connect(ctx, bus.Options{URL: url, Name: "waits", Wait: true})
		got <- result{c, err}
	}()
	time.Sleep(1500 * time.Millisecond)
	srv, err := natsserver.Start(natsserver.Options{Port: port, StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	r := <-got
	if r.err != nil {
		t.Fatalf("Wait: %v", r.err)
	}
	defer r.c.Close()
	if err := r.c.EnsureStreams(ctx, 5*time.Second); err != nil {
		t.Errorf("the waited-for connection does not work: %v", err)
	}
}
