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

	"github.com/gahpo/gahpo/internal/testwait"
	"github.com/gahpo/gahpo/models/command"
	"github.com/gahpo/gahpo/problemfile"
	"go.uber.org/goleak"
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
		// A short grace: the stubborn child outlives SIGTERM until it ends.
		tr := &command.Trainer{Problem: p, Grace: time.Second}
		_, err = tr.Train(context.Background(), job(p, os.Getenv(envWorkerMode), os.Getenv(envWorkerCkpt)))
		fmt.Fprintln(os.Stderr, "training returned:", err)
		os.Exit(1)
	}
	testwait.Parallel(4) // the parallel tests wait on trainer processes, not the CPU
	// A trainer's pipes are read, and its timeouts kept, by goroutines of
	// their own: none may outlive its training.
	goleak.VerifyTestMain(m)
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
			t.Parallel() // each in a process of its own
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

// TestProcessesLeavingTheGroupEnd: a command starts a process that leaves
// its process group (setsid, as a daemon does): the group's signals miss
// it, yet it ends with the command, whether the command exits or times
// out, since the guard takes the orphans it leaves (a child subreaper);
// also when the command or that process ignores SIGTERM (the guard kills
// the command, then what it left; the trainer waits for the guard).
func TestProcessesLeavingTheGroupEnd(t *testing.T) {
	if _, err := exec.LookPath("setsid"); err != nil {
		t.Skip("no setsid on PATH")
	}
	command.SetGuard(true)
	for _, tc := range []struct{ name, daemon, tail, timeout string }{
		{"the command exits", "", "", "5m"},
		{"the command times out", "", "sleep 300\n", "2s"},
		{"the command ignores SIGTERM and times out", "", "trap '' TERM\nsleep 300\n", "2s"},
		{"the process that left ignores SIGTERM", "trap \"\" TERM; ", "sleep 300\n", "2s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			pidFile := filepath.Join(dir, "pid")
			script := "setsid sh -c '" + tc.daemon + "echo $$ > " + pidFile + "; exec sleep 300' </dev/null >/dev/null 2>&1 &\n" +
				"while [ ! -s " + pidFile + " ]; do sleep 0.05; done\necho '{\"epoch\": 1, \"loss\": 0.5}'\n" + tc.tail
			if err := os.WriteFile(filepath.Join(dir, "train.sh"), []byte("#!/bin/sh\n"+script), 0o755); err != nil {
				t.Fatal(err)
			}
			text := "name: daemon\nspace:\n  - {name: x, type: float, min: -1, max: 1}\nobjective: {metric: loss}\n" +
				"train:\n  command: [./train.sh]\n  timeout: " + tc.timeout + "\n"
			p := writeProblem(t, dir, text)
			tr := command.New(p)
			tr.Grace = 500 * time.Millisecond
			j := job(p, "ok", t.TempDir())
			j.Task.Params, j.Task.Epochs = map[string]float64{"x": 0.5}, 1
			_, _ = tr.Train(context.Background(), j)
			b, err := os.ReadFile(pidFile)
			if err != nil {
				t.Fatal(err)
			}
			var pid int
			if _, err := fmt.Sscan(string(b), &pid); err != nil {
				t.Fatal(err)
			}
			if state := procState(pid); state != "" {
				_ = syscall.Kill(pid, syscall.SIGKILL)
				t.Errorf("the process that left the group (pid %d) outlived the command: state %s", pid, state)
			}
		})
	}
}
