// Package worker runs genomes' trainings for any coordinator on the
// cluster. A worker pulls one task at a time per slot from the shared
// JetStream work queue, keeps its lease alive while it trains, publishes
// the result, and only then acknowledges the task; a worker that dies
// mid-training loses its lease and another worker gets the genome.
//
// Workers are stateless: start and stop any number, on any machine. Data
// sets come from the cluster's object store (checked by digest and cached
// on disk) unless a local directory is given.
package worker
