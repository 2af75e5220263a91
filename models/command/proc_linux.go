//go:build linux

package command

import "syscall"

// setDeathSignal has the kernel signal the command if the worker dies
// (kill -9 included), so that no training outlives the worker that ran it.
func setDeathSignal(a *syscall.SysProcAttr, guard bool) {
	a.Pdeathsig = syscall.SIGKILL
	if guard {
		a.Pdeathsig = syscall.SIGTERM
	}
}
