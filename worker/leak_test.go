package worker_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests when a goroutine outlives them.
func TestMain(m *testing.M) {
	// nats.go's JetStream starts a watcher with the first asynchronous
	// publish (the coordinator's batches of tasks) that can stay blocked on
	// a nil channel after its connection closed: nats.go's, not ours.
	goleak.VerifyTestMain(m, goleak.IgnoreAnyFunction("github.com/nats-io/nats.go/jetstream.(*jetStream).resetPendingAcksOnReconnect"))
}
