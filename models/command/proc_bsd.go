//go:build unix && !linux

package command

import "syscall"

func setDeathSignal(*syscall.SysProcAttr, bool) {}
