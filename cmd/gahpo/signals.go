package main

import (
	"cmp"
	"context"
	"io"
	"os"
	"os/signal"
	"slices"
	"sync"
	"syscall"
	"time"
)

// stopSignal records the signal that stopped the command.
type stopSignal struct {
	mu  sync.Mutex
	sig os.Signal
	hup chan struct{} // closed once SIGHUP came: the terminal may be gone
}

// signal is the first stop signal received, nil when none came.
func (s *stopSignal) signal() os.Signal {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sig
}

// stopSignals returns a context that ends with the first of SIGINT
// (Ctrl-C), SIGTERM (systemd's stop, a scale down) and SIGHUP (the
// terminal closed): each stops a command in order, a run saying how to
// resume it. SIGHUP is left ignored when the command was started with it
// ignored (nohup). After SIGHUP, SIGPIPE is ignored too: a write to a
// standard output or error whose reader went with the terminal then fails
// instead of killing the process before it has stopped in order.
func stopSignals() (context.Context, *stopSignal) {
	sigs := []os.Signal{os.Interrupt, syscall.SIGTERM}
	if !signal.Ignored(syscall.SIGHUP) { // asking for it would undo nohup
		sigs = append(sigs, syscall.SIGHUP)
	}
	ch := make(chan os.Signal, len(sigs))
	signal.Notify(ch, sigs...)
	ctx, cancel := context.WithCancel(context.Background())
	s := &stopSignal{hup: make(chan struct{})}
	go func() {
		sig := <-ch
		if sig == syscall.SIGHUP {
			signal.Ignore(syscall.SIGPIPE)
			close(s.hup)
		}
		s.mu.Lock()
		s.sig = sig
		s.mu.Unlock()
		cancel() // a second signal, while the command stops, is let go
	}()
	return ctx, s
}

// hangupWait is the longest a write may take once the terminal hung up.
const hangupWait = 2 * time.Second

// hangupSafe writes to w; once hup is closed (SIGHUP: the terminal may be
// gone), writing is best-effort: an error is dropped, and a write that
// does not end within hangupWait (a pipe no one reads) is left behind
// with every later one, so that the command still stops in order.
type hangupSafe struct {
	w     io.Writer
	hup   <-chan struct{}
	wait  time.Duration // default hangupWait
	mu    sync.Mutex
	stuck bool
}

func (h *hangupSafe) Write(b []byte) (int, error) {
	select {
	case <-h.hup:
	default:
		return h.w.Write(b)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.stuck {
		return len(b), nil
	}
	done := make(chan struct{})
	buf := slices.Clone(b)
	go func() {
		defer close(done)
		_, _ = h.w.Write(buf)
	}()
	select {
	case <-done:
	case <-time.After(cmp.Or(h.wait, hangupWait)):
		h.stuck = true
	}
	return len(b), nil
}

// writer is the writer h wraps (isTerminal looks at it).
func (h *hangupSafe) writer() io.Writer { return h.w }
