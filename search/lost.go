package search

import (
	"slices"
	"time"

	"github.com/gahpo/gahpo"
)

// Lost checkpoints. A run's checkpoints live in the object store of its
// NATS server, the history in its bbolt file: the two can part, as when
// the server's store directory is deleted or a cluster's volume is
// replaced, and a resumed run then names checkpoints that are gone. A task
// that would go on from one trains from scratch to the same rung instead,
// which gives the numbers training on would have (a checkpoint holds the
// whole state of a training: Train from one equals training straight
// through); under population based training it replays the genome's
// schedule from scratch (Task.Schedule), each step with the seed of the
// genome that trained it (ScheduleStep.Seed): a genome that exploits
// another goes on from that one's checkpoint, random sources included,
// so the replay gives what its lineage trained, and its last step leaves
// the checkpoint its next rung expects. Nothing is failed, and no result
// is lost: only the epochs are trained again.

// CheckpointsLost tells the machine which of the checkpoints its records
// name still exist (exists reports it by object name), after a restart.
// Tasks that would go on from a checkpoint that does not exist train from
// scratch instead (Outstanding and every later task); the lost objects are
// no longer deleted. It returns the names of the lost checkpoints.
func (m *Machine) CheckpointsLost(exists func(name string) bool) []string {
	var lost []string
	for _, r := range m.recs {
		if ref := r.Checkpoint; ref != nil && !m.lost[ref.Name] && !exists(ref.Name) {
			if m.lost == nil {
				m.lost = map[string]bool{}
			}
			m.lost[ref.Name] = true
			lost = append(lost, ref.Name)
		}
	}
	slices.Sort(lost)
	return lost
}

// fromScratch makes t, a task that goes on from a checkpoint that is lost,
// a training from scratch to the same epochs: r's schedule when it has
// one (population based training) and it fits in a task, each step with
// its genome's seed (seedOf), r's own params otherwise.
func fromScratch(t gahpo.Task, r gahpo.GenomeRecord, seedOf func(genome int) uint64) gahpo.Task {
	t.Checkpoint, t.FromEpochs = nil, 0
	t.FromGenome, t.FromParams, t.FromSeed = 0, nil, 0
	if s := taskSchedule(r); len(s) > 0 {
		for i := range s {
			s[i].Seed = seedOf(r.Schedule[i].Genome)
		}
		withSchedule := t
		withSchedule.Schedule = s
		if fits(withSchedule) {
			return withSchedule
		}
	}
	return t
}

// curveUpTo keeps the points of curve before epoch from: a result that
// trained from scratch again reports the epochs before its rung too.
func curveUpTo(curve []gahpo.EpochReport, from int) []gahpo.EpochReport {
	var out []gahpo.EpochReport
	for _, e := range curve {
		if e.Epoch < from {
			out = append(out, e)
		}
	}
	return out
}

// seedOf returns the seed genome id trained with (0 for an id the run
// does not have: the task's own seed then).
func (m *Machine) seedOf(id int) uint64 {
	if id < 1 || id > len(m.recs) {
		return 0
	}
	return m.recs[id-1].Seed
}

// WeightsLost tells the machine which of the top-rung weights its records
// name still exist (exists reports it by object name), after a restart.
// When the run's result is one of the genomes whose weights are lost, the
// run does not end with its figures alone: its training to the top rung is
// done again from scratch (retrainTask), which gives the same model, and
// that is the final training. It returns the genomes whose weights are lost.
func (m *Machine) WeightsLost(exists func(name string) bool) []int {
	var lost []int
	for _, r := range m.recs {
		if ref := r.Weights; ref != nil && !exists(ref.Name) {
			if m.lostWeights == nil {
				m.lostWeights = map[string]bool{}
			}
			m.lostWeights[ref.Name] = true
			lost = append(lost, r.ID)
		}
	}
	return lost
}

// retrainTask is r's training to the top rung from scratch, with the
// final's token: the task that gives back its lost weights.
func (m *Machine) retrainTask(r gahpo.GenomeRecord) gahpo.Task {
	top := len(m.rungs) - 1
	t := fromScratch(m.rungTask(r, top), r, m.seedOf)
	t.Token = m.Token(r.ID, -1)
	return t
}

// retraining tells whether r answers the task of training the run's best
// again (finalTask of a halving or pbt run).
func (m *Machine) retraining(r gahpo.Result) bool {
	return m.final && m.rc.MultiFidelity() && r.RunID == m.run.ID && r.Kind == gahpo.KindFitness &&
		r.GenomeID == m.run.Best && r.Token == m.Token(r.GenomeID, -1)
}

// retrained ends the run with the result of training its best genome
// again: its weights and figures; when that training failed, the search's
// figures without weights, saying why. The genome's record keeps the
// search's result.
func (m *Machine) retrained(r gahpo.Result, now time.Time) error {
	if err := m.checkObjects(r); err != nil {
		return err
	}
	top := m.rungs[len(m.rungs)-1]
	m.recs[r.GenomeID-1].Retrained += top // its top-rung training, twice
	m.touch(r.GenomeID)
	rec := m.recs[r.GenomeID-1]
	_, failure := m.checkFitness(r, top)
	if failure == "" && r.WeightsObject == "" {
		failure = "no weights were stored"
	}
	if failure != "" {
		m.ready.Final = m.topFinal(rec, now)
		m.ready.Final.WeightsLost = "the weights were lost with the NATS server's store, and training the genome again failed: " + failure
	} else {
		again := rec
		if len(r.Curve) > 0 {
			again.Curve = r.Curve // every epoch: it trained from scratch
		}
		// Its time and worker are this training's: the rungs' of the
		// search trained weights that were lost.
		again.Duration, again.Worker = r.Duration, r.Worker
		again.RungDuration, again.RungWorker = nil, nil
		m.ready.Final = m.topFinal(again, now)
		m.ready.Final.Retrained = true
		m.ready.FinalWeights = &gahpo.ObjectRef{Bucket: r.WeightsBucket, Name: r.WeightsObject, Digest: r.WeightsDigest}
	}
	m.final = false
	m.run.Status, m.run.Ended = gahpo.RunDone, now
	m.touchRun()
	return nil
}
