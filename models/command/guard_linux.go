//go:build linux

package command

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"syscall"
	"time"
)

// envGuard marks a process started as a command's guard; envGuardGrace
// passes the grace period.
const (
	envGuard      = "GAHPO_COMMAND_GUARD"
	envGuardGrace = "GAHPO_COMMAND_GUARD_GRACE"
)

// guardInstalled is set by Guard in a binary whose main calls it: only
// then can the trainer start that binary again as a guard.
var guardInstalled bool

// Guard must be called first in main by a binary whose trainers run
// commands (gahpo's). In a normal process it only records that the binary
// can be its own guard and returns. In a process started as a guard it
// never returns: it runs the command as its child in its own process
// group and exits with the command's status. The trainer starts every
// command through such a guard, which the kernel signals when the worker
// dies (even by kill -9); the guard then ends the whole group, SIGTERM
// and, after the grace period, SIGKILL, so that no process a training
// started (its grandchildren included) outlives the worker. Without a call
// to Guard, commands run directly and only the command itself is killed
// with the worker.
func Guard() {
	if os.Getenv(envGuard) != "1" {
		guardInstalled = true
		return
	}
	os.Exit(runGuard(os.Args[1:]))
}

func runGuard(args []string) int {
	grace, err := time.ParseDuration(os.Getenv(envGuardGrace))
	if err != nil || grace <= 0 {
		grace = DefaultGrace
	}
	os.Unsetenv(envGuard)
	os.Unsetenv(envGuardGrace)
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "command guard: no command")
		return 127
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(os.Stderr, "command guard: %v\n", err)
		return 127
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return exitCode(err)
	case <-sigs:
	}
	// The worker died (or ended the group): end everything in the group.
	_ = syscall.Kill(0, syscall.SIGTERM)
	select {
	case err := <-done:
		_ = syscall.Kill(0, syscall.SIGKILL) // what the command left behind, and the guard
		return exitCode(err)
	case <-time.After(grace):
		_ = syscall.Kill(0, syscall.SIGKILL)
		return 137
	}
}

func exitCode(err error) int {
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		return ee.ExitCode()
	}
	return 127
}

// guarded returns the program and arguments that run args through the
// guard, and the guard's extra environment; ok is false when the binary
// cannot be its own guard.
func guarded(args []string, grace time.Duration) (prog string, gargs, env []string, ok bool) {
	if !guardInstalled {
		return "", nil, nil, false
	}
	exe, err := os.Executable()
	if err != nil {
		return "", nil, nil, false
	}
	return exe, args, []string{envGuard + "=1", envGuardGrace + "=" + strconv.FormatInt(int64(grace), 10) + "ns"}, true
}
