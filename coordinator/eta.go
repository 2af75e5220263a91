package coordinator

import (
	"time"

	"github.com/gahpo/gahpo"
	"github.com/gahpo/gahpo/models/problems"
)

// etaInput is what the ETA of a run is estimated from: what is left of it
// and what this coordinator measured of its trainings.
type etaInput struct {
	State  gahpo.RunStatus
	Config gahpo.RunConfig
	// Trainings is the fitness trainings left to the end of the search,
	// Parallel how many train at once (at least 1 is assumed).
	Trainings, Parallel int
	// Measured is the fitness trainings measured on this run, Time their
	// summed durations and Epochs their summed epochs.
	Measured int
	Time     time.Duration
	Epochs   int
	// Final is the epochs of the final training reported so far.
	Final []gahpo.EpochMetrics
	// EpochsLeft, with halving, is the epoch-trainings expected to the end
	// of the search (halvingEpochsLeft): promotions to come included,
	// which Trainings, a count of genomes, leaves out.
	EpochsLeft float64
	// Unbred is the trainings of Trainings whose genomes are not bred
	// yet, and BredEpochs, with halving, the epoch-trainings of
	// EpochsLeft that the genomes bred so far still train: with
	// Config.TimeBudget, breeding stops at Started+TimeBudget, and what
	// was bred by then still trains.
	Unbred     int
	BredEpochs float64
	// Now is when the estimate is made, Started when the run started.
	Now, Started time.Time
	// Resumed: this coordinator resumed the run (Measured counts only
	// the trainings that ended since).
	Resumed bool
	// UnderWay is the trainings under way: the time each has trained is
	// done (the estimate counts down between results).
	UnderWay []underWay
}

// underWay is a training under way: since how long, and the epochs it
// trains (0: a fitness training, of the run's mean duration).
type underWay struct {
	Elapsed time.Duration
	Epochs  int
}

// underWayDone is the time the trainings under way have trained, each
// up to what it is expected to take in all (at the run's mean time of a
// training, or of an epoch).
func (in etaInput) underWayDone() time.Duration {
	if in.Measured == 0 {
		return 0
	}
	mean := in.Time / time.Duration(in.Measured)
	var done time.Duration
	for _, u := range in.UnderWay {
		expect := mean
		if u.Epochs > 0 && in.Epochs > 0 {
			expect = time.Duration(float64(in.Time) / float64(in.Epochs) * float64(u.Epochs))
		}
		done += min(max(u.Elapsed, 0), expect)
	}
	return done
}

// genETA is the time left of the current generation, of which genLeft
// genomes have no result yet, those under way included.
func (in etaInput) genETA(genLeft int) time.Duration {
	if in.Measured == 0 {
		return 0
	}
	work := in.Time / time.Duration(in.Measured) * time.Duration(genLeft)
	return max(work-in.underWayDone(), 0) / time.Duration(max(in.Parallel, 1))
}

// halvingBeyond returns a halving run's rungs and, for each, the epochs a
// genome at the end of that rung is expected to train still.
func halvingBeyond(rc gahpo.RunConfig) (rungs []int, beyond []float64) {
	rungs = rc.RungEpochs()
	eta := float64(max(rc.Eta, 2))
	beyond = make([]float64, len(rungs))
	for k := len(rungs) - 2; k >= 0; k-- {
		beyond[k] = (float64(rungs[k+1]-rungs[k]) + beyond[k+1]) / eta
	}
	return rungs, beyond
}

// halvingFresh is the epochs a genome not bred yet is expected to train.
func halvingFresh(rc gahpo.RunConfig) float64 {
	rungs, beyond := halvingBeyond(rc)
	return float64(rungs[0]) + beyond[0]
}

// halvingEpochsLeft is the epoch-trainings a halving run is expected to
// train still: each genome not bred yet trains the first rung and goes on
// to each next one with chance 1/eta; a genome under way finishes its rung
// and may go on; one done at a rung below the top may still be promoted;
// the confirmation trainings still queued train to the top rung.
func halvingEpochsLeft(rc gahpo.RunConfig, recs []gahpo.GenomeRecord, unbred, replicatesLeft int) float64 {
	rungs, beyond := halvingBeyond(rc)
	left := float64(unbred) * halvingFresh(rc)
	for _, r := range recs {
		if r.DuplicateOf != 0 || r.Rung >= len(rungs) {
			continue
		}
		switch r.Status {
		case gahpo.GenomeQueued, gahpo.GenomePromoted: // training its rung, or waiting to
			if k := rungTrained(r); k < len(rungs) {
				left += float64(rungEpochs(rungs, k)) + beyond[k]
			}
		case gahpo.GenomeDone:
			if r.Stopped == "" {
				left += beyond[r.Rung]
			}
		}
	}
	return left + float64(replicatesLeft*rungs[len(rungs)-1])
}

// rungTrained is the rung that the task of genome r, queued or promoted,
// trains: a promoted genome's record keeps the rung it finished until its
// next result, and its task trains the rung above (search.Machine's).
func rungTrained(r gahpo.GenomeRecord) int {
	if r.Status == gahpo.GenomePromoted {
		return r.Rung + 1
	}
	return r.Rung
}

// rungEpochs is the epochs a training of rung k trains: from the rung
// below's epochs (its checkpoint) to its own.
func rungEpochs(rungs []int, k int) int {
	if k == 0 {
		return rungs[0]
	}
	return rungs[k] - rungs[k-1]
}

// Reasons given for a run without an ETA.
const (
	etaNoTraining = "no training of this run has ended yet"
	// etaNoTrainingResumed: a resumed multi-fidelity run (whose
	// trainings before the restart are not counted, see timeStored), or
	// one that had timed none, waits for a training of its own.
	etaNoTrainingResumed = "no training has ended since the run resumed"
	etaNoEpoch           = "no epoch of the final training or of this run's trainings measured yet"
)

// finalEpochs returns the epochs of a run's final training of its own,
// 0 for none: with halving or pbt the best genome's top-rung training is
// the final, and only when its weights were lost (state final) is it
// trained again.
func finalEpochs(rc gahpo.RunConfig, state gahpo.RunStatus) int {
	if !rc.MultiFidelity() {
		return rc.FinalEpochs
	}
	if state != gahpo.RunFinal {
		return 0
	}
	rungs := rc.RungEpochs()
	return rungs[len(rungs)-1]
}

// eta estimates the time left of a run that is running or in its final
// training: the search's trainings left at the mean time of a training,
// spread over the trainings under way, and then the final training's
// epochs left, at its own mean epoch time once an epoch of it is reported,
// before that at this run's mean epoch time of a fitness training (scaled
// for a CNN's final training on more images than its fitness trainings).
// The trainings under way count with the time they have trained already,
// so that the estimate goes down between results; with a time budget the
// search ends no later than the budget's end and the trainings bred by
// then. With no estimate possible it returns why instead.
func (in etaInput) eta() (time.Duration, string) {
	var search time.Duration
	switch in.State {
	case gahpo.RunRunning:
		if in.Measured == 0 {
			if in.Resumed {
				return 0, etaNoTrainingResumed
			}
			return 0, etaNoTraining
		}
		// The work left, less what the trainings under way have done,
		// spread over those training at once.
		work := in.Time / time.Duration(in.Measured) * time.Duration(max(in.Trainings, 0))
		bred := in.Time / time.Duration(in.Measured) * time.Duration(max(in.Trainings-in.Unbred, 0))
		if in.EpochsLeft > 0 && in.Epochs > 0 {
			perEpoch := float64(in.Time) / float64(in.Epochs)
			work, bred = time.Duration(perEpoch*in.EpochsLeft), time.Duration(perEpoch*in.BredEpochs)
		}
		done := in.underWayDone()
		par := time.Duration(max(in.Parallel, 1))
		search = max(work-done, 0) / par
		if in.Config.TimeBudget > 0 && in.Unbred > 0 && !in.Started.IsZero() {
			// Breeding stops at the deadline: what is bred by then still
			// trains (about what is bred now), nothing after.
			toDeadline := max(in.Started.Add(in.Config.TimeBudget).Sub(in.Now), 0)
			search = min(search, toDeadline+max(bred-done, 0)/par)
		}
	case gahpo.RunFinal:
	default:
		return 0, "" // over
	}
	epochs := finalEpochs(in.Config, in.State)
	if epochs == 0 {
		return search, ""
	}
	left := epochs - len(in.Final)
	if left <= 0 {
		return search, "" // its epochs are done: its result is on its way
	}
	var perEpoch time.Duration
	var spent time.Duration
	n := 0
	for _, e := range in.Final {
		if e.Duration > 0 {
			spent += e.Duration
			n++
		}
	}
	switch {
	case n > 0:
		perEpoch = spent / time.Duration(n)
	case in.Epochs > 0 && in.Time > 0:
		perEpoch = time.Duration(float64(in.Time) / float64(in.Epochs) * finalScale(in.Config))
	default:
		return 0, etaNoEpoch
	}
	return search + perEpoch*time.Duration(left), ""
}

// finalScale is how much longer an epoch of the final training is than
// one of a fitness training: the CNN's fitness trains on a subset of its
// 54,000 training images (RunConfig.TrainSubset), its final on all 60,000
// or RunConfig.FinalSubset; other problems train alike.
func finalScale(rc gahpo.RunConfig) float64 {
	if !problems.IsCNN(rc.Problem) || rc.MultiFidelity() { // trained again on the search's images
		return 1
	}
	fit, fin := 54000, 60000
	if rc.TrainSubset > 0 && rc.TrainSubset < fit {
		fit = rc.TrainSubset
	}
	if rc.FinalSubset > 0 && rc.FinalSubset < fin {
		fin = rc.FinalSubset
	}
	return float64(fin) / float64(fit)
}

// fitnessEpochs is the epochs a fitness result trained: its curve's (a
// rung's from its checkpoint), else those it says, else the run's fitness
// epochs, else the trainer's one.
func fitnessEpochs(r gahpo.Result, rc gahpo.RunConfig) int {
	switch {
	case len(r.Curve) > 0:
		return len(r.Curve) // the epochs of this training: a rung's, from its checkpoint
	case r.EpochsDone > 0:
		return r.EpochsDone
	case rc.FitnessEpochs > 0:
		return rc.FitnessEpochs
	}
	return 1
}
