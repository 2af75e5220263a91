package main

import (
	"bytes"
	"errors"
	"io"
	"testing"
	"time"
)

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("input/output error") }

// TestHangupSafe: before SIGHUP a write goes through as it is, its error
// too; after it, an error is dropped and a write that blocks (a pipe no
// one reads) is left behind within the wait, with every later one.
func TestHangupSafe(t *testing.T) {
	hup := make(chan struct{})
	var buf bytes.Buffer
	if n, err := (&hangupSafe{w: &buf, hup: hup}).Write([]byte("run x stopped\n")); n != 14 || err != nil || buf.String() != "run x stopped\n" {
		t.Errorf("before SIGHUP: %d, %v, %q", n, err, buf.String())
	}
	if _, err := (&hangupSafe{w: failingWriter{}, hup: hup}).Write([]byte("x")); err == nil {
		t.Error("before SIGHUP, a write's error is lost")
	}
	close(hup)
	if n, err := (&hangupSafe{w: failingWriter{}, hup: hup}).Write([]byte("x")); n != 1 || err != nil {
		t.Errorf("after SIGHUP, a failed write: %d, %v; want it dropped", n, err)
	}
	r, w := io.Pipe()
	defer r.Close() // the write left behind ends
	h := &hangupSafe{w: w, hup: hup, wait: 100 * time.Millisecond}
	for i, limit := range []time.Duration{5 * time.Second, 50 * time.Millisecond} {
		start := time.Now()
		if n, err := h.Write([]byte("to resume it: gahpo run\n")); n != 24 || err != nil || time.Since(start) > limit {
			t.Errorf("write %d to a pipe no one reads after SIGHUP: %d, %v after %v; want it given up within %v", i+1, n, err, time.Since(start), limit)
		}
	}
}
