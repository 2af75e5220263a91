package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gahpo/gahpo/internal/testnats"
	"github.com/gahpo/gahpo/natsserver"
)

// smallDisk mounts a tmpfs of size bytes and returns its path, or skips the
// test where mounting is not allowed (not root, no tmpfs).
func smallDisk(t *testing.T, size string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("mounting a small tmpfs needs root")
	}
	dir := filepath.Join(t.TempDir(), "disk")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size, "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs (%v): %s", err, out)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, syscall.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir
}

// TestCoordinatorExitsWhenTheHistoryDiskIsFull: the disk under the bbolt
// file fills mid-run; the coordinator must end with an error that gives
// the reason, not hang or loop.
func TestCoordinatorExitsWhenTheHistoryDiskIsFull(t *testing.T) {
	if testing.Short() {
		t.Skip("a search until the history's disk is full: skipped under -short")
	}
	disk := smallDisk(t, "80k")
	srv, err := natsserver.Start(natsserver.Options{Port: 0, StoreDir: filepath.Join(t.TempDir(), "nats")})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for i := range 2 {
		go func() {
			m := &Main{Stdout: &strings.Builder{}, Stderr: &strings.Builder{}}
			_ = m.Run(ctx, []string{"worker", "--nats", srv.URL(), "--name", fmt.Sprint("w", i), "--log-level", "error"})
		}()
	}
	done := make(chan error, 1)
	go func() {
		_, _, err := runMain(t, "coordinator", "--nats", srv.URL(), "--db", filepath.Join(disk, "h.db"), "--problem", "regression",
			"--population", "40", "--generations", "200", "--final-epochs", "0", "--log-level", "error", "--no-progress")
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "no space left on device") {
			t.Errorf("coordinator ended with %v; want the full disk as the reason", err)
		}
		t.Logf("coordinator: %v", err)
	case <-time.After(5 * time.Minute):
		t.Fatal("coordinator still running 5 minutes into a full disk")
	}
}

// TestFullDiskUnderJetStream: another process fills the disk under the
// NATS server's store mid-run. The coordinator must end with an error that
// gives the reason (or keep retrying with the reason in its logs), and the
// workers must not retry publishing forever.
func TestFullDiskUnderJetStream(t *testing.T) {
	if testing.Short() {
		t.Skip("a search until the NATS store's disk is full: skipped under -short")
	}
	disk := smallDisk(t, "64m")
	srv, err := natsserver.Start(natsserver.Options{Port: 0, StoreDir: filepath.Join(disk, "nats")})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	workers := make(chan string, 2)
	for i := range 2 {
		go func() {
			var stderr strings.Builder
			m := &Main{Stdout: &strings.Builder{}, Stderr: &stderr}
			err := m.Run(ctx, []string{"worker", "--nats", srv.URL(), "--name", fmt.Sprint("w", i), "--log-level", "warn"})
			workers <- fmt.Sprintf("worker %d: %v\n%s", i, err, stderr.String())
		}()
	}
	done := make(chan error, 1)
	coordLog := &testnats.LogBuffer{}
	go func() {
		m := &Main{Stdout: io.Discard, Stderr: coordLog}
		done <- m.Run(ctx, []string{"coordinator", "--nats", srv.URL(), "--db", filepath.Join(t.TempDir(), "h.db"), "--problem", "regression",
			"--population", "20", "--generations", "50", "--final-epochs", "0", "--log-level", "info", "--no-progress"})
	}()
	time.Sleep(10 * time.Second)
	// Fill the disk: what is left for the store is a few bytes.
	fill := exec.Command("dd", "if=/dev/zero", "of="+filepath.Join(disk, "filler"), "bs=1M")
	_ = fill.Run()
	select {
	case err := <-done:
		t.Logf("coordinator: %v", err)
		if err == nil {
			t.Errorf("the run ended without error on a full store")
		}
	case <-time.After(100 * time.Second):
		t.Errorf("coordinator still running 100 s into a full JetStream store; its log:\n%s", tail(coordLog.String()))
	}
	cancel()
	for range 2 {
		select {
		case w := <-workers:
			t.Logf("%s", tail(w))
			if n := strings.Count(w, "cannot publish result"); n > 10 {
				t.Errorf("a worker retried publishing %d times:\n%s", n, tail(w))
			}
		case <-time.After(30 * time.Second):
			t.Error("a worker did not stop")
		}
	}
}

func tail(s string) string {
	if len(s) > 3000 {
		return s[len(s)-3000:]
	}
	return s
}
