// Package gahpo holds the domain types shared by the parts of the gahpo
// cluster: the run, the record of each evaluated genome, and the versioned
// messages that coordinators and workers exchange over NATS.
//
// # Architecture
//
//   - [github.com/gahpo/gahpo/ga] breeds genomes (ask/tell, standard library only).
//   - [github.com/gahpo/gahpo/models] trains the problems (the MNIST CNN with gorgonia,
//     the 1-D regression net).
//   - [github.com/gahpo/gahpo/store] keeps the history in bbolt.
//   - [github.com/gahpo/gahpo/bus] is the only package that speaks NATS JetStream.
//   - [github.com/gahpo/gahpo/coordinator] and [github.com/gahpo/gahpo/worker] tie
//     them together; cmd/gahpo wires everything into one binary.
package gahpo
