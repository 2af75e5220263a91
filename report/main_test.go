package report

import (
	"testing"

	"github.com/gahpo/gahpo/internal/testwait"
	"go.uber.org/goleak"
)

// TestMain fails the package's tests when a goroutine outlives them (the
// dashboard's event streams, Finish, the browser tests' servers). The
// browser tests wait on Chromium and the dashboard's clocks, not the CPU:
// four run at once.
func TestMain(m *testing.M) {
	testwait.Parallel(4)
	goleak.VerifyTestMain(m)
}
