package testwait

import (
	"flag"
	"os"
	"testing"
)

// given is whether the command line set -test.parallel, and onLine its
// value there, read before Parallel (which sets it too).
var (
	given  bool
	onLine string
)

func TestMain(m *testing.M) {
	flag.Parse()
	flag.Visit(func(f *flag.Flag) {
		if f.Name == "test.parallel" {
			given, onLine = true, f.Value.String()
		}
	})
	Parallel(5)
	os.Exit(m.Run())
}

// TestParallelRaised: without -test.parallel on the command line, the
// package runs five tests at once; with it, the command line's value
// stays.
func TestParallelRaised(t *testing.T) {
	got := flag.Lookup("test.parallel").Value.String()
	if !given && got != "5" {
		t.Errorf("-test.parallel is %s, want 5", got)
	}
	if given && got != onLine {
		t.Errorf("-test.parallel is %s, the command line's %s", got, onLine)
	}
	t.Logf("-test.parallel %s (given on the command line: %v)", got, given)
}
