// Package search holds every decision of a gahpo run as a pure state
// machine: what to breed, what to promote, what to store, what to publish
// and what to delete. It never touches NATS or bbolt (the coordinator does,
// around it), so every decision is tested with plain tables.
//
// The shape follows etcd-io/raft's split of the algorithm from the
// application: feed an event in ([Machine.Result], [Machine.Final]), take
// what it decided with [Machine.Ready] (records to store in one
// transaction, then tasks to publish and checkpoints to delete), and the
// machine is ready for the next. The stored genome records are the
// machine's whole state (with, for the paper's generations, the engine's
// head: its generation and config, stored when a generation starts):
// [Restore] rebuilds it from them after a crash, so a decision stored is a
// decision that survives. Nothing stored grows with the history but the
// records themselves.
//
// # Modes
//
// A run has a fidelity and a breeding:
//
//   - one-epoch fidelity, generational breeding: the paper's search, by
//     [ga.Engine] (a generation is bred when the previous one is
//     evaluated), then a final full training of the best genome;
//   - halving fidelity: asynchronous successive halving (ASHA, Li et al.,
//     MLSys 2020) inside the GA. Every genome trains MinEpochs first; as
//     soon as a result puts a genome among the best ⌊n/η⌋ of the n results
//     of its rung, it trains on from its own checkpoint to the next rung
//     (η× the epochs, at most MaxEpochs). Breeding ranks genomes by the
//     highest rung reached, then fitness there ([ga.Ahead]). A genome that
//     reaches MaxEpochs has been fully trained: the best of them is the
//     run's final training. When nothing else is left to do and no genome
//     has reached MaxEpochs (those promoted there failed), the best genome
//     of the highest rung is promoted until one has, from scratch when its
//     checkpoint was dropped;
//   - pbt fidelity: population based training (Jaderberg et al. 2017;
//     pbt.go says how): the population trains to MaxEpochs in steps of
//     MinEpochs; after each step the worst quarter of a rung's results
//     stop, each replaced by a new genome that goes on from the checkpoint
//     of one of the best quarter with its hyperparameters perturbed. The
//     best genome at MaxEpochs is the run's final training, with the
//     schedule of hyperparameters that trained it; a stopped genome never
//     trains again (when every top-rung training fails, there is none);
//   - steady-state breeding ([ga.Pool]): a genome is bred whenever fewer
//     than InFlight genomes are queued or training, so a slow or dead
//     worker never holds the others back. Generational breeding with
//     halving breeds the next generation from the pool once every genome
//     of the last one has its first-rung result.
//
// # Failures
//
// A run whose genomes fail stops (gahpo.StopFailures, failures.go): by
// default once its first Population genomes trained have all failed, none
// having succeeded, or (halving, pbt) once Population trainings resumed
// from a checkpoint have, none of those having succeeded; or after
// RunConfig.MaxFailures failures; a genome's own
// divergence ([Diverged]) never counts. Nothing more is then bred,
// promoted or exploited; the trainings under way finish, and the run ends
// failed, its error naming the count and the commonest cause
// ([FailuresError]).
//
// A checkpoint is deleted as soon as its genome can no longer be promoted:
// when at least ⌊N/η⌋ genomes of its rung rank before it, N being the most
// results that rung can ever hold, or when the run ends. Under population
// based training a checkpoint is shared by its genome and those that
// exploit it, and deleted when none of them holds it any more.
package search
