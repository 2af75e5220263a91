package main_test

import (
	"bufio"
	"context"
	"errors"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	root "github.com/gahpo/gahpo"
	"github.com/gahpo/gahpo/internal/testnats"
	"github.com/gahpo/gahpo/store"
)

// TestHangupClosedTerminal: the terminal of a run closes, the reader of
// its standard output and error with it, then SIGHUP comes. The run stops
// in order all the same (exit status 129, not killed by SIGPIPE on the
// resume hint it can no longer print, nor stuck writing it): its history
// keeps it running, to be resumed, and is not held.
func TestHangupClosedTerminal(t *testing.T) {
	if testing.Short() {
		t.Skip("the binary, stopped by SIGHUP: -short")
	}
	skipIfHangupIgnored(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	db := filepath.Join(t.TempDir(), "h.db")
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd := command(ctx, "", "run", "--problem", "regression", "--population", "50", "--generations", "40", "--db", db, "--no-progress", "--log-level", "info")
	cmd.Stdout, cmd.Stderr = w, w
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	started := false
	for sc := bufio.NewScanner(r); sc.Scan(); {
		if strings.Contains(sc.Text(), "run started") {
			started = true
			break
		}
	}
	r.Close() // the terminal is gone: every later write fails with EPIPE
	if !started {
		cmd.Wait()
		t.Fatal("the run did not start")
	}
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	err = cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 129 {
		t.Fatalf("after SIGHUP with its output closed: %v (%v); want exit status 129", err, cmd.ProcessState)
	}
	st, err := store.Open(db, store.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	run, err := st.Run("")
	if err != nil || run.Status != root.RunRunning {
		t.Errorf("the run after SIGHUP: %+v, %v; want it kept running, to resume", run.Status, err)
	}
}

// TestHangupIgnoredUnderNohup: a run started with SIGHUP ignored (nohup)
// goes on through SIGHUP, and stops on SIGINT.
func TestHangupIgnoredUnderNohup(t *testing.T) {
	if testing.Short() {
		t.Skip("the binary, sent SIGHUP: -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	db := filepath.Join(t.TempDir(), "h.db")
	cmd := exec.CommandContext(ctx, "sh", "-c", `trap "" HUP; exec "$0" "$@"`, binary,
		"run", "--problem", "regression", "--population", "50", "--generations", "40", "--db", db, "--no-progress", "--log-level", "info")
	var stderr testnats.LogBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for !strings.Contains(stderr.String(), "run started") {
		if ctx.Err() != nil {
			t.Fatalf("the run did not start:\n%s", stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGHUP)
	time.Sleep(time.Second)
	cmd.Process.Signal(syscall.SIGINT)
	err := cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 130 || strings.Contains(stderr.String(), "hung up") {
		t.Errorf("SIGHUP under nohup, then SIGINT: %v; want it to go on through SIGHUP and exit 130 on SIGINT\n%s", err, stderr.String())
	}
}

// hangupIgnored tells whether the tests were started with SIGHUP ignored
// (under nohup): read before any test installs a handler.
var hangupIgnored = signal.Ignored(syscall.SIGHUP)

// skipIfHangupIgnored skips a test that stops gahpo by SIGHUP when the
// tests were started with SIGHUP ignored: the gahpo they start inherits
// that, and then keeps running on SIGHUP, as it should under nohup.
func skipIfHangupIgnored(t *testing.T) {
	t.Helper()
	if hangupIgnored {
		t.Skip("the tests were started with SIGHUP ignored (nohup): the gahpo they start inherits that and, by design, keeps running on SIGHUP")
	}
}
