// Package store keeps the history of gahpo runs in a bbolt file: every run's
// configuration and status, every genome with its fitness, worker and
// timing, a summary of each finished generation, the engine's checkpoint and
// the final full training with its weights.
//
// # Layout
//
// The file holds a bucket "meta" (the schema version) and a bucket "runs"
// with one nested bucket per run id (ids sort by start time). A run's bucket
// holds the keys "run" (the run record) and "engine" (the GA checkpoint), and
// the nested buckets "genomes" (big-endian genome id → record),
// "generations" (big-endian generation → summary) and "final" (keys
// "training" and "weights"). Values are JSON.
//
// Every state change that must be atomic is one transaction: a received
// result together with the engine checkpoint and, when it completes a
// generation, the generation's summary and the next generation's genomes.
//
// The file is locked by the process that opens it for writing; a second
// opener fails after [Options.Timeout] with [ErrLocked].
package store
