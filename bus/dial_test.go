package bus_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gahpo/gahpo/bus"
)

// TestConnectEndsWithItsContext checks that Connect gives up when its
// context ends while a server that accepted the connection has not said
// a word (NATS's own dial would wait 2 s), with Wait or without, naming the
// server without the token its URL carries.
func TestConnectEndsWithItsContext(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var accepted []net.Conn
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			accepted = append(accepted, c)
			mu.Unlock()
		}
	}()
	defer func() {
		l.Close()
		mu.Lock()
		for _, c := range accepted {
			c.Close() // Connect's dial, left behind, ends
		}
		mu.Unlock()
		time.Sleep(100 * time.Millisecond)
	}()
	url := "nats://s3cret@" + l.Addr().String()
	for _, wait := range []bool{false, true} {
		t.Run(map[bool]string{false: "without Wait", true: "with Wait"}[wait], func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			begin := time.Now()
			c, err := bus.Connect(ctx, bus.Options{URL: url, Name: "silent", Wait: wait})
			if err == nil {
				c.Close()
				t.Fatal("connected to a server that never spoke")
			}
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("Connect = %v, want the context's deadline", err)
			}
			if d := time.Since(begin); d > 1500*time.Millisecond {
				t.Errorf("Connect took %v after its context ended at 300ms", d)
			}
			if msg := err.Error(); strings.Contains(msg, "s3cret") || !strings.Contains(msg, "bus: connect nats://xxxxx@127.0.0.1:") {
				t.Errorf("Connect = %q, want the server named, its token masked", msg)
			}
		})
	}
}
