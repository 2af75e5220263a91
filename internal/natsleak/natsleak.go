// Package natsleak names the goroutines nats.go can leave behind after its
// connection closed, for the goleak checks of the packages that talk to
// NATS: one list, so that each check lets go of the same ones, each with
// its reason.
package natsleak

import "go.uber.org/goleak"

// Options returns goleak's options that ignore nats.go's known leaks,
// followed by extra. One so far: jetstream.(*jetStream).
// resetPendingAcksOnReconnect, the watcher JetStream starts with the first
// asynchronous publish (the coordinator's batches of tasks), which can
// stay blocked on a nil channel after its connection closed. (The other
// one known, an object store Get's chunk handler, is avoided instead: bus
// reads objects with a reader of its own, see its openObjectOnce.)
func Options(extra ...goleak.Option) []goleak.Option {
	return append([]goleak.Option{
		goleak.IgnoreAnyFunction("github.com/nats-io/nats.go/jetstream.(*jetStream).resetPendingAcksOnReconnect"),
	}, extra...)
}
