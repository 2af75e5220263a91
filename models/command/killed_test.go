//go:build linux

package command_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/gahpo/gahpo/models/command"
	"github.com/gahpo/gahpo/problemfile"
)

// The test binary plays a worker when these are set: it trains the
// problem file's genome of the given mode until it is killed, through a
// guard or not.
const (
	envWorkerProblem = "GAHPO_COMMAND_TEST_PROBLEM"
	envWorkerCkpt    = "GAHPO_COMMAND_TEST_CKPT"
	envWorkerMode    = "GAHPO_COMMAND_TEST_MODE"
	envWorkerGuard   = "GAHPO_COMMAND_TEST_GUARD"
)

func TestMain(m *testing.M) {
	command.Guard() // as gahpo's main does; in a guard, it never returns
	if path := os.Getenv(envWorkerProblem); path != "" {
		command.SetGuard(os.Getenv(envWorkerGuard) == "1")
		p, err := problemfile.Load(path)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		_, err = command.New(p).Train(context.Background(), job(p, os.Getenv(envWorkerMode), os.Getenv(envWorkerCkpt)))
		fmt.Fprintln(os.Stderr, "training returned:", err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}

// TestWorkerKilled kills a worker with SIGKILL in the middle of a command:
// the command dies with it; through the guard, so do the processes the
// command started, even one that ignores SIGTERM.
func TestWorkerKilled(t *testing.T) {
	needPython(t)
	tests := []struct {
		name, mode string
		guard      bool
	}{
		{"direct", "sleep", false},
		{"guard", "hang", true},
		{"guard, stubborn child", "stubborn", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := testProblem(t, "5m", "")
			ckpt := t.TempDir()
			w := exec.Command(os.Args[0], "-test.run=^$")
			guard := "0"
			if tt.guard {
				guard = "1"
			}
			w.Env = append(os.Environ(), envWorkerProblem+"="+p.Path, envWorkerCkpt+"="+ckpt, envWorkerMode+"="+tt.mode, envWorkerGuard+"="+guard)
			w.Stderr = os.Stderr
			if err := w.Start(); err != nil {
				t.Fatal(err)
			}
			defer w.Process.Kill()
			for i := 0; ; i++ {
				if _, err := os.Stat(filepath.Join(ckpt, "pids")); err == nil {
					break
				}
				if i == 6000 {
					t.Fatal("the trainer never started")
				}
				time.Sleep(10 * time.Millisecond)
			}
			if err := w.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			_ = w.Wait()
			checkGone(t, ckpt)
		})
	}
}
