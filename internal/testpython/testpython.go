// Package testpython finds, for tests, a python3 that imports the modules
// a test needs.
package testpython

import (
	"os/exec"
	"testing"
)

// With returns a python3 that imports every module given (the one on
// PATH, or Debian's /usr/bin/python3, where apt's python3-numpy and
// python3-torch go), or skips the test, saying what to install.
func With(t testing.TB, modules ...string) string {
	t.Helper()
	for _, py := range []string{"python3", "/usr/bin/python3"} {
		ok := true
		for _, m := range modules {
			if exec.Command(py, "-c", "import "+m).Run() != nil {
				ok = false
				break
			}
		}
		if ok {
			return py
		}
	}
	t.Skipf("no python3 imports %v (apt-get install python3-numpy python3-torch)", modules)
	return ""
}
