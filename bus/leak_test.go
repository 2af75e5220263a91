package bus_test

import (
	"testing"

	"github.com/gahpo/gahpo/internal/testwait"
	"go.uber.org/goleak"
)

// TestMain fails the package's tests when a goroutine outlives them.
func TestMain(m *testing.M) {
	testwait.Parallel(4) // the parallel tests wait on servers, not the CPU
	// nats.go's JetStream starts a watcher with the first asynchronous
	// publish (the coordinator's batches of tasks) that can stay blocked on
	// a nil channel after its connection closed: nats.go's, not ours.
	goleak.VerifyTestMain(m, goleak.IgnoreAnyFunction("github.com/nats-io/nats.go/jetstream.(*jetStream).resetPendingAcksOnReconnect"))
}
