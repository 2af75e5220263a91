package search

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/gahpo/gahpo"
	"github.com/gahpo/gahpo/ga"
)

// Confirmation (RunConfig.ConfirmSeeds): once a halving or population
// based search has nothing left to breed or train, the ConfirmTop best
// genomes of the top rung each train ConfirmSeeds-1 more times from scratch
// to the top rung with other seeds, and the run's result is the genome with
// the lowest mean fitness over its trainings. At the top rung the
// differences between the best genomes are often smaller than one seed's
// luck; one training each ranks mostly the luck. A population based
// genome's replicates train its schedule (Task.Schedule): the
// hyperparameters its weights were trained with, epoch by epoch, which is
// what a user takes away from such a run.

// confirming reports whether the run confirms its choice on more seeds.
func (m *Machine) confirming() bool {
	return (m.rc.Halving() || m.rc.PBT()) && m.rc.ConfirmSeeds > 1
}

// replicateSeed is the training seed of replicate k (1-based) of genome
// id: k = 0 would be the genome's own seed (ga.TrainSeed).
func replicateSeed(runSeed uint64, id, k int) uint64 {
	return ga.TrainSeed(runSeed+uint64(k)*0x9e3779b97f4a7c15, id)
}

// confirm starts the confirmation trainings when none has started yet, and
// reports whether any is under way (queued or training): the run's choice
// waits for them.
func (m *Machine) confirm() bool {
	started := false
	for _, r := range m.recs {
		for _, rep := range r.Replicates {
			started = true
			if rep.Status == gahpo.GenomeQueued {
				return true
			}
		}
	}
	if started {
		return false
	}
	top := len(m.rungs) - 1
	var ids []int
	for _, id := range m.rungOrder(top) {
		if len(ids) == m.rc.ConfirmTop {
			break
		}
		r := m.recs[id-1]
		if r.Status == gahpo.GenomeDone && len(r.RungFitness) > top && finite(float64(r.RungFitness[top])) && m.replicable(r) {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids) // issued in id order, as Outstanding lists them
	for _, id := range ids {
		r := &m.recs[id-1]
		for k := 1; k < m.rc.ConfirmSeeds; k++ {
			r.Replicates = append(r.Replicates, gahpo.Replicate{
				Seed: replicateSeed(m.rc.GA.Seed, id, k), Status: gahpo.GenomeQueued, Fitness: gahpo.Float(math.NaN()),
			})
			m.ready.Publish = append(m.ready.Publish, m.replicateTask(*r, k))
		}
		m.touch(id)
	}
	return len(ids) > 0
}

// replicable tells whether r's replicate tasks can be published: a
// schedule of thousands of steps may not fit in a message, and a task
// that cannot be published would hold the run open for ever. Such a
// genome is left unconfirmed.
func (m *Machine) replicable(r gahpo.GenomeRecord) bool {
	r.Replicates = []gahpo.Replicate{{Seed: math.MaxUint64}} // a copy: the longest seed
	return fits(m.replicateTask(r, 1))
}

// replicateTask is the task of replicate k (1-based) of r: its genome
// (or, after population based training, its schedule) trained from scratch
// to the top rung with the replicate's seed, tested after each epoch as the
// top rung is, its weights not kept.
func (m *Machine) replicateTask(r gahpo.GenomeRecord, k int) gahpo.Task {
	top := len(m.rungs) - 1
	rc := m.rc
	params, schedule := r.Params, taskSchedule(r)
	if schedule != nil {
		params = schedule[0].Params
	}
	return gahpo.Task{
		V: gahpo.MessageVersion, Kind: gahpo.KindFitness, RunID: m.run.ID, GenomeID: r.ID, Generation: r.Generation,
		Problem: rc.Problem, Params: params, Schedule: schedule, Seed: r.Replicates[k-1].Seed,
		DataSeed:    rc.GA.Seed | 1<<63, // the genome's own data: only the seed differs
		TrainSubset: rc.TrainSubset, OnTest: rc.FitnessOnTest, MaxAttempts: rc.MaxAttempts,
		Rung: top, Epochs: m.rungs[top], MaxEpochs: m.rungs[top], Test: true, Replicate: k,
		Token: m.replicateToken(r.ID, k),
	}
}

// taskSchedule is what a replicate's task carries of r's schedule: nil for
// a genome that never exploited another (its Params are its schedule),
// else each step's first epoch and params, no more (the worker needs
// nothing else, and a long schedule must fit in a message).
func taskSchedule(r gahpo.GenomeRecord) []gahpo.ScheduleStep {
	if len(r.Schedule) < 2 {
		return nil
	}
	out := make([]gahpo.ScheduleStep, len(r.Schedule))
	for i, st := range r.Schedule {
		out[i] = gahpo.ScheduleStep{Epoch: st.Epoch, Params: st.Params}
	}
	return out
}

// fits tells whether a task can be published: its message within
// gahpo.MaxMessageSize, with room for the bus's headers.
func fits(t gahpo.Task) bool {
	b, err := json.Marshal(t)
	return err == nil && len(b) <= gahpo.MaxMessageSize-1024
}

// replicateToken is the token of replicate k of genome id: the rung of a
// genome's tasks is at least 0, the final task's -1.
func (m *Machine) replicateToken(id, k int) string { return m.Token(id, -1-k) }

// openReplicates returns the tasks of the replicates queued or in training.
func (m *Machine) openReplicates() []gahpo.Task {
	var out []gahpo.Task
	for _, r := range m.recs {
		for k, rep := range r.Replicates {
			if rep.Status == gahpo.GenomeQueued {
				out = append(out, m.replicateTask(r, k+1))
			}
		}
	}
	return out
}

// replicateOutstands reports whether t, a replicate's task, is still
// outstanding.
func (m *Machine) replicateOutstands(t gahpo.Task) bool {
	if t.GenomeID < 1 || t.GenomeID > len(m.recs) {
		return false
	}
	r := m.recs[t.GenomeID-1]
	return t.Replicate <= len(r.Replicates) && r.Replicates[t.Replicate-1].Status == gahpo.GenomeQueued &&
		t.Token == m.replicateToken(r.ID, t.Replicate)
}

// replicateResult takes the result of a confirmation training.
func (m *Machine) replicateResult(r gahpo.Result, now time.Time) error {
	switch {
	case r.RunID != m.run.ID:
		return fmt.Errorf("%w: result of run %q, this is %q", ErrRefused, r.RunID, m.run.ID)
	case r.Kind != gahpo.KindFitness:
		return fmt.Errorf("%w: a %q result of a replicate", ErrRefused, r.Kind)
	case r.GenomeID < 1 || r.GenomeID > len(m.recs):
		return fmt.Errorf("%w: genome %d was never bred (bred: 1 to %d)", ErrRefused, r.GenomeID, len(m.recs))
	}
	rec := &m.recs[r.GenomeID-1]
	switch k := r.Replicate; {
	case k > len(rec.Replicates) || r.Token != m.replicateToken(rec.ID, k):
		return fmt.Errorf("%w: genome %d has no replicate %d with the result's token", ErrRefused, rec.ID, k)
	case rec.Replicates[k-1].Status != gahpo.GenomeQueued:
		return fmt.Errorf("%w: genome %d replicate %d", ErrStale, rec.ID, k)
	}
	if err := m.checkObjects(r); err != nil {
		return err
	}
	m.now = now
	top := len(m.rungs) - 1
	fitness, failure := m.checkFitness(r, m.rungs[top])
	if steps := len(taskSchedule(*rec)); steps > 0 && r.ScheduleSteps != steps && failure == "" {
		// A worker that predates schedules trained the first step's
		// params alone: a fitness, but not the schedule's.
		fitness, failure = math.Inf(1), fmt.Sprintf("refused: the worker replayed %d of the schedule's %d steps (a worker older than schedules: upgrade it)", r.ScheduleSteps, steps)
	}
	rep := &rec.Replicates[r.Replicate-1]
	rep.Fitness, rep.Failure, rep.Accuracy = gahpo.Float(fitness), failure, r.Accuracy
	rep.Worker, rep.Duration, rep.Finished, rep.Curve = r.Worker, r.Duration, now, r.Curve
	rep.Status = gahpo.GenomeDone
	if failure != "" {
		rep.Status = gahpo.GenomeFailed
	}
	if r.Checkpoint != nil {
		m.ready.Delete = append(m.ready.Delete, *r.Checkpoint) // nothing goes on from a replicate
	}
	if r.WeightsObject != "" {
		m.ready.Delete = append(m.ready.Delete, gahpo.ObjectRef{Bucket: r.WeightsBucket, Name: r.WeightsObject})
	}
	m.touch(rec.ID)
	m.finish(now)
	return nil
}

// confirmedBest sets the confirmed fitness of every confirmed genome and
// returns the one with the lowest (ties to the better first training), or
// 0 when none was confirmed.
func (m *Machine) confirmedBest() int {
	for i := range m.recs {
		r := &m.recs[i]
		if len(r.Replicates) == 0 {
			continue
		}
		mean, _, _ := r.TrainingsMean()
		f := gahpo.Float(mean)
		r.ConfirmedFitness = &f
		m.touch(r.ID)
	}
	id, _, _ := ConfirmedLead(m.recs)
	return id
}

// ConfirmedLead returns the genome that leads a confirmation so far: of the
// genomes with replicates, the one with the lowest mean fitness over its own
// top-rung training and the replicates that came back
// (gahpo.GenomeRecord.TrainingsMean; ties go to the better first
// training), with that mean and the number of trainings it is over. It
// returns 0 when no genome has replicates. Once every replicate is back it
// is the run's result (confirmedBest): the live status ranks by it, not by
// first trainings alone, whose luck the confirmation exists to discount.
func ConfirmedLead(recs []gahpo.GenomeRecord) (id int, mean float64, n int) {
	var lead *gahpo.GenomeRecord
	for i := range recs {
		r := &recs[i]
		if len(r.Replicates) == 0 {
			continue
		}
		m, k, _ := r.TrainingsMean()
		if k == 0 {
			continue
		}
		if lead == nil || m < mean || m == mean && gahpo.Better(*r, *lead) {
			lead, mean, n = r, m, k
		}
	}
	if lead == nil {
		return 0, 0, 0
	}
	return lead.ID, mean, n
}

// ConfirmCounts tells how a confirmation went against what was asked
// (RunConfig.ConfirmTop): how many genomes have confirmation trainings,
// and how many reached the top rung with a finite fitness of their own,
// the most that could be confirmed. Fewer confirmed than asked means fewer
// compared: a single confirmed genome is chosen on its mean alone.
func ConfirmCounts(rc gahpo.RunConfig, recs []gahpo.GenomeRecord) (confirmed, reached int) {
	top := len(rc.RungEpochs()) - 1
	for _, r := range recs {
		if len(r.Replicates) > 0 {
			confirmed++
		}
		if r.DuplicateOf == 0 && r.Status == gahpo.GenomeDone && len(r.RungFitness) > top && finite(float64(r.RungFitness[top])) {
			reached++
		}
	}
	return confirmed, reached
}
