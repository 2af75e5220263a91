// Package gahpo holds the domain types shared by the parts of the gahpo
// cluster, and nothing else (no views, no I/O):
//
//   - types.go: the stored records (the run and its configuration, each
//     genome, the final training), versioned by store.SchemaVersion;
//   - messages.go: the messages coordinators and workers exchange over
//     NATS JetStream (tasks, results, started events), versioned by
//     MessageVersion;
//   - replies.go: the replies of a running coordinator's query service
//     (best genomes, status).
//
// # Architecture
//
//   - [github.com/gahpo/gahpo/ga] breeds genomes (ask/tell, standard library only).
//   - [github.com/gahpo/gahpo/search] decides a run (breed, promote, store,
//     publish, delete) as a pure state machine.
//   - [github.com/gahpo/gahpo/models] trains the problems (the MNIST CNN with gorgonia,
//     the 1-D regression net).
//   - [github.com/gahpo/gahpo/store] keeps the history in bbolt.
//   - [github.com/gahpo/gahpo/bus] is the only package that speaks NATS JetStream.
//   - [github.com/gahpo/gahpo/coordinator] and [github.com/gahpo/gahpo/worker] tie
//     them together; cmd/gahpo wires everything into one binary.
package gahpo
