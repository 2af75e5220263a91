// Package coordinator runs one gahpo search: it breeds generations with the
// GA engine, publishes each genome as a task on the cluster, collects the
// results, records everything in the history file, and ends with the best
// genome's full training: a training of its own after a one-epoch search;
// after halving or population based training, the best genome's own
// training to the top rung (trained again only when its weights were
// lost).
//
// Every received result is stored in one transaction (with the engine's
// checkpoint when it completes a generation; results within a generation
// are replayed from their records on resume), and the result is
// acknowledged only afterwards. A
// coordinator killed at any moment and restarted on the same file resumes
// the run: finished genomes are not retrained, genomes whose tasks were
// lost are queued again, and the run ends as an uninterrupted one would.
// A NATS server that comes back without the run's streams (its store lost)
// has them made again, with the data set, and the lost tasks queued, by the
// running coordinator.
//
// While it runs, the coordinator answers live queries and status as the
// NATS micro service "gahpo".
package coordinator
