//go:build linux

package command

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
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
	// The processes the command leaves behind when they leave its group
	// (setsid, a daemon's double fork) become the guard's children once
	// their parents end, instead of init's: endOrphans ends them too.
	subreaper := setChildSubreaper() == nil
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
		if subreaper {
			endOrphans(grace)
		}
		return exitCode(err)
	case <-sigs:
	}
	// The worker died (or ended the group): end everything in the group.
	_ = syscall.Kill(0, syscall.SIGTERM)
	select {
	case err := <-done:
		if subreaper {
			endOrphans(grace)
		}
		_ = syscall.Kill(0, syscall.SIGKILL) // what the command left behind, and the guard
		return exitCode(err)
	case <-time.After(grace):
		if subreaper {
			// The command first: what it started, its daemons among them,
			// are then this guard's children (a subreaper's), which
			// endOrphans kills; the group's SIGKILL would take the guard
			// with it and leave them to init.
			_ = cmd.Process.Kill()
			<-done
			endOrphans(0)
		}
		_ = syscall.Kill(0, syscall.SIGKILL)
		return 137
	}
}

// prSetChildSubreaper is prctl's PR_SET_CHILD_SUBREAPER (linux/prctl.h).
const prSetChildSubreaper = 36

// setChildSubreaper makes this process the one that orphaned descendants
// are given to (Linux 3.4 and later).
func setChildSubreaper() error {
	if _, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, prSetChildSubreaper, 1, 0); errno != 0 {
		return errno
	}
	return nil
}

// endOrphans ends the processes left as this guard's children once the
// command is over (those that left its process group, given to the guard
// when their parents ended): SIGTERM, then SIGKILL after grace, reaping
// each, until none is left. A process that forks as it is ended is found
// at the next look.
func endOrphans(grace time.Duration) {
	deadline := time.Now().Add(grace)
	signalled := map[int]bool{}
	for {
		reap()
		kids := children(os.Getpid())
		if len(kids) == 0 {
			return
		}
		late := !time.Now().Before(deadline)
		for _, pid := range kids {
			switch {
			case late:
				_ = syscall.Kill(pid, syscall.SIGKILL)
			case !signalled[pid]:
				signalled[pid] = true
				_ = syscall.Kill(pid, syscall.SIGTERM)
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// reap collects the exit status of every child that has ended.
func reap() {
	for {
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
		if pid <= 0 || err != nil {
			return
		}
	}
}

// children lists the processes whose parent is pid, from /proc.
func children(pid int) []int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var out []int
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue // gone meanwhile
		}
		if ppid, ok := parentOf(string(stat)); ok && ppid == pid {
			out = append(out, child)
		}
	}
	return out
}

// parentOf reads the parent's pid from a /proc/PID/stat line: "pid (comm)
// state ppid ...", where comm may hold spaces and parentheses.
func parentOf(stat string) (int, bool) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, false
	}
	fields := strings.Fields(stat[i+1:])
	if len(fields) < 2 {
		return 0, false
	}
	ppid, err := strconv.Atoi(fields[1])
	return ppid, err == nil
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
