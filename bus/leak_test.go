package bus_test

import (
	"testing"

	"github.com/gahpo/gahpo/internal/natsleak"
	"github.com/gahpo/gahpo/internal/testwait"
	"go.uber.org/goleak"
)

// TestMain fails the package's tests when a goroutine outlives them (but
// for nats.go's own, see natsleak).
func TestMain(m *testing.M) {
	testwait.Parallel(4) // the parallel tests wait on servers, not the CPU
	goleak.VerifyTestMain(m, natsleak.Options()...)
}
