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
// Both streams and the workers' lease are every run's on the server:
// Conn.EnsureStreams keeps the limits a coordinator is not given, and
// shortens the lease only while no task is held. Message ids deduplicate
// a retried publish within the streams' 10-minute window; a task queued
// again after a purge gets an id of its own (Conn.PublishLostTask), and a
// result's id names the task message it answers, so that neither is
// dropped as a duplicate of the purged one.
//
// A worker that will not train a task (a problem it was not given), or
// stops training it (Ctrl-C, SIGTERM), hands it back uncounted: it sends a
// hand-back result (Conn.PublishHandBack), and the coordinator, which alone
// may publish tasks, queues a copy at the back of the queue that carries
// the attempts made so far (Conn.RequeueTask). Where a worker may publish
// tasks itself, Conn.Requeue does both steps if the hand-back cannot be
// sent.
//
// # Object stores
//
// Data sets (gahpo-data) and final weights (gahpo-weights) are single
// objects checked by digest. A data set's file is kept under its content's
// SHA-256 and its file name (DataObjectName: "sha256-<hex>/train.csv"), so
// that runs whose files share a name never replace each other's, and a
// file they share is stored once. Each run that uses a data object marks
// it (PutRunData) and releases it when it ends or is purged (ReleaseData);
// the release of the last mark deletes the object. A checkpoint directory
// between the rungs of a multi-fidelity search is one tar archive
// (Conn.PutDir, Conn.GetDir): unpacking refuses absolute or parent paths,
// symlinks that lead out of the directory, links, special files and
// archives over ArchiveLimits, and writes only through an os.Root on the
// directory.
//
// Objects are read by a reader of this package (GetBytes, Fetch, GetDir),
// not by nats.go's ObjectStore.Get: it reads an object's description from
// its stream's leader, not from any replica, and its subscription handler
// never blocks once the read is over, whatever ended it (see
// openObjectOnce).
//
// Events (core NATS, best effort): gahpo.event.<run> once a worker's
// training of a task has run for 100 ms, and after each epoch it trains
// (gahpo.Started with its Report).
package bus
