package search

import gahpo "github.com/gahpo/gahpo"

// EpochsSpent counts the epoch-trainings of a run's genome records, given
// the epochs of each rung (gahpo.RunConfig.RungEpochs): what each genome
// trained, or is training, on its own. It is the one rule for the cost of a
// search: the machine's epoch budget (--budget-epochs), the benches' "epoch
// spent" columns and the headline's summary all use it.
//
//   - A copy of another genome (DuplicateOf) costs nothing.
//   - A queued genome costs its first rung; a promoted one the rung it is
//     promoted to; any other (trained, failed, stopped) the last rung it has
//     a result for, and nothing if it has none.
//   - A genome that exploited another (population based training, Inherited
//     = k) did not pay for the first k rungs: their epochs were trained by
//     the genome whose checkpoint it took.
//   - Each confirmation training (Replicates) costs the top rung.
//   - Epochs trained a second time (Retrained: a training from scratch
//     where a lost or dropped checkpoint would have been gone on from, the
//     run's best trained again for its lost weights) cost again: the
//     count is of the epochs trained, not of the rungs reached.
//
// Only trainings whose result the run recorded are counted: one whose
// result never came (lost with the NATS server's store, its worker killed)
// or came a second time is not known to have trained anything. A one-epoch
// GA's final training is not a genome's; a bench that counts it adds its
// epochs itself.
func EpochsSpent(rungs []int, recs []gahpo.GenomeRecord) int {
	at := func(k int) int { // a rung's epochs, clamped: a stored record may name a rung beyond the run's
		if len(rungs) == 0 || k < 0 {
			return 0
		}
		return rungs[min(k, len(rungs)-1)]
	}
	n := 0
	for _, r := range recs {
		if r.DuplicateOf != 0 {
			continue
		}
		switch {
		case r.Status == gahpo.GenomeQueued:
			n += at(0)
		case r.Status == gahpo.GenomePromoted:
			n += at(r.Rung + 1)
		case len(r.RungFitness) > 0:
			n += at(len(r.RungFitness) - 1)
		}
		if r.Inherited > 0 && r.Status != gahpo.GenomeQueued {
			n -= at(r.Inherited - 1)
		}
		n += len(r.Replicates)*at(len(rungs)-1) + r.Retrained
	}
	return n
}
