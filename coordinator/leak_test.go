package coordinator_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests when a goroutine outlives them. One
// goroutine is let go: the watcher nats.go's JetStream starts with the first
// asynchronous publish (the coordinator publishes a batch of tasks that
// way), which ends when its connection's CLOSED status reaches it, after
// Close has returned.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreAnyFunction("github.com/nats-io/nats.go/jetstream.(*jetStream).resetPendingAcksOnReconnect"))
}
