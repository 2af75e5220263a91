package coordinator_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests when a goroutine outlives them. One
// goroutine is let go: the watcher nats.go's JetStream starts with the first
// asynchronous publish (the coordinator publishes a batch of tasks that
// way), which can stay blocked on a nil channel after its connection
// closed: nats.go's, not ours.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.IgnoreAnyFunction("github.com/nats-io/nats.go/jetstream.(*jetStream).resetPendingAcksOnReconnect"))
}
