//go:build linux

package command

import "syscall"

// setDeathSignal has the kernel kill the command if the worker dies (kill
// -9 included), so that no training outlives the worker that ran it.
func setDeathSignal(a *syscall.SysProcAttr) { a.Pdeathsig = syscall.SIGKILL }
