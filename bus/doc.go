// Package bus is gahpo's only door to NATS: the JetStream streams that carry
// tasks and results, the object stores that carry data sets and weights, and
// the connection options for real clusters.
//
// # Streams
//
//   - GAHPO_TASKS (work queue, subjects gahpo.task.<run>.<genome>): one task
//     per genome; all workers share the durable pull consumer "workers" and
//     pull one task at a time when free. The consumer's AckWait is the lease
//     of a task: a worker that dies silently loses it to another worker.
//   - GAHPO_RESULTS (work queue, subjects gahpo.result.<run>.<genome>): the
//     coordinator of each run consumes its own subjects through the durable
//     consumer "coord-<run>", and acknowledges a result only after it is
//     stored, so a restarted coordinator still receives what it missed.
//
// Events (core NATS, best effort): gahpo.event.<run>.started when a worker
// starts a task or finishes an epoch of a final training.
package bus
