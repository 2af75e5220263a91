package search

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/gahpo/gahpo"
	"github.com/gahpo/gahpo/ga"
)

// Population based training (Jaderberg et al. 2017) as this machine runs
// it, asynchronously and with a durable history:
//
//   - the pool breeds the population once (random genomes and the
//     enqueued known ones); each trains MinEpochs, one rung;
//   - after each rung k a genome waits until three quarters of the
//     population have a result of their own at k (or no more can come; a
//     queue of the last quarter's tasks keeps the workers busy meanwhile),
//     then is judged against
//     every result at k: in the worst quarter (Ray Tune's
//     quantile_fraction 0.25; failures are the worst), its training stops
//     and a new genome takes its place. At most a quarter of the
//     population loses its place at a rung, whatever the order results
//     arrive in (a failure, which cannot go on, is replaced beyond it). The new genome exploits one of the
//     best quarter, chosen at random: it goes on from that genome's latest
//     checkpoint, with its rungs' fitnesses and curve as its own past,
//     and explores: its hyperparameters are that genome's, each multiplied
//     by 0.8 or 1.2 (ga.Space.Perturb), never drawn anew: a learning rate
//     drawn from the whole space (1e-8 to 1, log-uniform) is nearly
//     always one that stops training, and in a run that resampled with
//     Ray Tune's probability 0.25, a genome at lr 2e-6 kept its weights
//     frozen at a lucky validation loss, which every other genome then
//     copied. Any other genome trains on to rung k+1 with its own;
//   - a genome that reaches MaxEpochs is done; the best of them is the
//     run's final training, and its Schedule says which hyperparameters
//     trained its weights, epoch by epoch.
//
// Every draw comes from a source seeded by the run's seed, the genome and
// the rung, and every decision is stored in the records (Stopped,
// Replaces, Exploited, Inherited), so a restored machine goes on exactly.

// perturber is what PBT's explore needs of a space.
type perturber interface {
	Perturb(r *rand.Rand, genes []float64, resample float64) []float64
	Canonical(genes []float64) []float64
}

// pbtQuantile is the fraction of a rung's results that is replaced, and
// that is exploited.
const pbtQuantile = 0.25

// quantileSize returns how many of n results make the best (and the worst)
// quarter, as Ray Tune counts it: ⌈n/4⌉, at most ⌊n/2⌋.
func quantileSize(n int) int {
	return min(int(math.Ceil(float64(n)*pbtQuantile)), n/2)
}

// exploitAndExplore decides every genome waiting at a rung that can be
// judged now; none once the run stopped for failures (those waiting stay
// where they are).
func (m *Machine) exploitAndExplore() {
	if m.stoppedForFailures() {
		return
	}
	for k := 0; k < len(m.rungs)-1; k++ {
		m.decideRung(k)
	}
}

// waiting tells whether genome r finished rung k below the top and waits
// for its judgement.
func (m *Machine) waiting(r gahpo.GenomeRecord, k int) bool {
	return r.Rung == k && k < len(m.rungs)-1 && r.Stopped == "" && r.DuplicateOf == 0 &&
		len(r.RungFitness) == k+1 && (r.Status == gahpo.GenomeDone || r.Status == gahpo.GenomeFailed)
}

// moreAt tells whether a task outstanding may still add a result at rung k
// or below.
func (m *Machine) moreAt(k int) bool {
	for _, r := range m.recs {
		switch {
		case r.Status == gahpo.GenomeQueued:
			return true
		case r.Status == gahpo.GenomePromoted && r.Rung+1 <= k:
			return true
		}
	}
	return false
}

// decideRung judges the genomes waiting at rung k once three quarters of
// the population have a result there, or once no more can come. (Judged
// against fewer, a genome would be replaced for ranking last among the
// first few; waiting for all would let one slow worker hold the others.)
func (m *Machine) decideRung(k int) {
	var waiting []int
	for _, r := range m.recs {
		if m.waiting(r, k) {
			waiting = append(waiting, r.ID)
		}
	}
	if len(waiting) == 0 {
		return
	}
	order := m.rungOrder(k)
	quorum := (3*m.rc.GA.Population + 3) / 4
	if len(order) < quorum && m.moreAt(k) {
		return
	}
	q := quantileSize(len(order))
	best := order[:q]
	// At most a quarter of the population loses its place at a rung,
	// whatever the order its results arrive in: judged one by one as they
	// come, each in the worst quarter of the results so far, the last
	// quarter to arrive could all be replaced after the quarter judged at
	// the quorum (half the population). Failures fill the quarter first
	// (they are the worst) and are replaced beyond it (they cannot go on).
	quota := quantileSize(m.rc.GA.Population) - m.stoppedAt(k)
	for _, id := range waiting {
		pos := slices.Index(order, id)
		r := m.recs[id-1]
		failed := r.Status == gahpo.GenomeFailed
		if !failed && (pos < len(order)-q || quota <= 0) {
			m.promoteOne(id)
			continue
		}
		quota--
		if !m.replace(id, k, best) {
			if failed {
				m.stop(id, "its training failed and no genome of the best quarter had a checkpoint to take its place")
			} else {
				m.promoteOne(id) // nobody to exploit: it goes on
				quota++          // and keeps its place
			}
		}
	}
}

// stoppedAt counts the genomes whose training stopped at rung k (their
// place taken, or failed with nobody to take it).
func (m *Machine) stoppedAt(k int) int {
	n := 0
	for _, r := range m.recs {
		if r.Stopped != "" && r.Rung == k {
			n++
		}
	}
	return n
}

// stop ends genome id's training below the top rung.
func (m *Machine) stop(id int, why string) {
	r := &m.recs[id-1]
	r.Stopped = why
	if ref := r.Checkpoint; ref != nil {
		r.Checkpoint = nil
		m.release(ref)
	}
	m.touch(id)
}

// replace puts a new genome in the place of genome x, judged at rung k:
// it exploits one of best (those with a checkpoint, not x) and explores.
// It reports false when none of best can be exploited.
func (m *Machine) replace(x, k int, best []int) bool {
	var sources []int
	for _, id := range best {
		if r := m.recs[id-1]; id != x && r.Checkpoint != nil && finite(float64(r.RungFitness[k])) {
			sources = append(sources, id)
		}
	}
	if len(sources) == 0 {
		return false
	}
	rng := rand.New(rand.NewPCG(m.rc.GA.Seed^0x706274, uint64(x)<<16|uint64(k)))
	src := m.recs[sources[rng.IntN(len(sources))]-1]
	p, _ := m.space.(perturber) // checked by New
	genes := p.Canonical(p.Perturb(rng, src.Genes, 0))
	child := m.addChild(src, x, genes)
	m.stop(x, fmt.Sprintf("in the worst quarter at rung %d: genome %d took its place, exploiting genome %d", k, child, src.ID))
	m.publish(child)
	return true
}

// addChild records the genome that exploits src in the place of x, with
// genes, and returns its id. Its past is src's up to src's checkpoint.
func (m *Machine) addChild(src gahpo.GenomeRecord, x int, genes []float64) int {
	id := len(m.recs) + 1
	held := len(src.RungFitness) - 1 // the rung of src's checkpoint
	epochs := m.rungs[held]
	params := m.space.ToMap(genes)
	var curve []gahpo.EpochReport
	for _, e := range src.Curve {
		if e.Epoch <= epochs {
			curve = append(curve, e)
		}
	}
	r := gahpo.GenomeRecord{
		ID: id, Generation: held + 1, Params: params, Genes: genes, Choices: m.choices(params),
		Parents: []int{src.ID}, Ops: []string{"exploit", "perturb"},
		Seed: ga.TrainSeed(m.rc.GA.Seed, id), Status: gahpo.GenomePromoted,
		Fitness: src.RungFitness[held], Accuracy: src.Accuracy, Epochs: epochs, Rung: held,
		RungFitness: slices.Clone(src.RungFitness[:held+1]), Curve: curve, Checkpoint: src.Checkpoint,
		RungFinished: slices.Clone(src.RungFinished[:min(held+1, len(src.RungFinished))]),
		RungDuration: slices.Clone(src.RungDuration[:min(held+1, len(src.RungDuration))]),
		RungWorker:   slices.Clone(src.RungWorker[:min(held+1, len(src.RungWorker))]),
		Inherited:    held + 1, Exploited: src.ID, Replaces: x,
		Schedule: append(slices.Clone(src.Schedule), gahpo.ScheduleStep{Epoch: epochs + 1, Genome: id, Params: params, Choices: m.choices(params)}),
	}
	m.recs = append(m.recs, r)
	m.touch(id)
	return id
}

// pbtSummary describes generation gen of a population based training: the
// results of rung gen (each genome's own), once no more can come.
func (m *Machine) pbtSummary(gen int) (gahpo.GenerationSummary, bool) {
	if gen >= len(m.rungs) || m.canBreed() || m.moreAt(gen) {
		return gahpo.GenerationSummary{}, false
	}
	sum, n := rungSummary(m.recs, gen)
	return sum, n > 0
}

// rungSummary summarises the n results of rung k that genomes trained to
// themselves (rankAtRung): the best, its fitness there, the mean and the
// median of the finite ones, the failures.
func rungSummary(recs []gahpo.GenomeRecord, k int) (sum gahpo.GenerationSummary, n int) {
	order := rankAtRung(recs, k)
	if len(order) == 0 {
		return gahpo.GenerationSummary{}, 0
	}
	sum = gahpo.GenerationSummary{Generation: k, Best: order[0], Fitness: recs[order[0]-1].RungFitness[k]}
	var fs []float64
	for _, id := range order {
		r := recs[id-1]
		if f := float64(r.RungFitness[k]); finite(f) {
			fs = append(fs, f)
		} else {
			sum.Failed++
		}
		if at := finishedAt(r, k); at.After(sum.Finished) {
			sum.Finished = at
		}
	}
	sum.Mean, sum.Median = meanMedian(fs)
	return sum, len(order)
}

// RungBest lists, for a population based training's records (all of the
// run's, in id order), the best genome of each rung that has a result: the
// rung's row of "best per generation" (a population based training breeds
// no generations; its genomes train on together and are judged rung by
// rung). A row holds the genome's result at that rung (not its last), and
// the rung's results, failures, median and mean, as the run's summaries
// give them (rungSummary).
func RungBest(rc gahpo.RunConfig, recs []gahpo.GenomeRecord) []gahpo.BestEntry {
	var out []gahpo.BestEntry
	for k, ep := range rc.RungEpochs() {
		sum, n := rungSummary(recs, k)
		if n == 0 {
			break
		}
		best := recs[sum.Best-1]
		e := gahpo.NewBestEntry(best)
		e.Generation, e.Rung, e.Epochs, e.Fitness = k, k, ep, sum.Fitness
		e.Accuracy = 0
		for _, rep := range best.Curve {
			if a, ok := rep.Metrics["val_accuracy"]; ok && rep.Epoch == ep {
				e.Accuracy = float64(a)
			}
		}
		e.RungResults, e.RungFailed, e.RungMedian, e.RungMean = n, sum.Failed, sum.Median, sum.Mean
		out = append(out, e)
	}
	return out
}
