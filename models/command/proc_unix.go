//go:build unix

package command

import (
	"errors"
	"os/exec"
	"syscall"
)

// setGroup makes the command the leader of a new process group, so that
// everything it starts can be signalled at once, and has the kernel
// signal it when the worker dies: a guard gets SIGTERM (it then ends the
// group itself), a command run directly SIGKILL.
func setGroup(cmd *exec.Cmd, guard bool) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
	setDeathSignal(cmd.SysProcAttr, guard)
}

// signalGroup sends sig to the process group led by pid; a group that is
// already gone is not an error.
func signalGroup(pid int, kill bool) error {
	sig := syscall.SIGTERM
	if kill {
		sig = syscall.SIGKILL
	}
	if err := syscall.Kill(-pid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		return err
	}
	return nil
}
