//go:build !unix

package command

import (
	"errors"
	"os"
	"os/exec"
)

func setGroup(*exec.Cmd, bool) {}

// signalGroup kills the process itself: there are no process groups here.
func signalGroup(pid int, _ bool) error {
	p, err := os.FindProcess(pid)
	if err != nil {
		return err
	}
	if err := p.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	return nil
}
