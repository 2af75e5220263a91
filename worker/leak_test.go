package worker_test

import (
	"testing"

	"github.com/gahpo/gahpo/internal/natsleak"
	"go.uber.org/goleak"
)

// TestMain fails the package's tests when a goroutine outlives them (but
// for nats.go's own, see natsleak).
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, natsleak.Options()...)
}
