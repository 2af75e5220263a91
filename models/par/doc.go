// Package par runs the parallel sections of a training step on a team of
// helper goroutines that stay awake between sections.
//
// A training step is a chain of short parallel sections (each layer's
// images shared among the cores, each matrix product's tiles) separated
// by short serial ones. A goroutine started for each section lands on an
// idle processor whose thread the Go runtime has put to sleep, and waking
// that thread costs what a hypervisor takes to wake a halted virtual CPU:
// measured on this project's 2-core machines, the second goroutine of the
// CNN's feature layers started 0.5-0.7 ms after the first, on sections of
// 1-8 ms. The helpers here instead spin for a while (2 ms) after each
// section, watching for the next one, as OpenMP's threads do, and sleep
// when none comes or when other goroutines want their processor; after 100 ms asleep they exit, so a process
// that stops training keeps no goroutines.
//
// The work of a section must be claimed by the calls of its function
// themselves (from a shared counter, say), so that the caller alone can do
// all of it: a helper that is busy, asleep or late simply does not join,
// and no result depends on which goroutine did which part.
package par
