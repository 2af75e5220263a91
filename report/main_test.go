package report

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests when a goroutine outlives them (the
// dashboard's event streams, Finish, the browser tests' servers).
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
