package coordinator

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/gahpo/gahpo"
	"github.com/gahpo/gahpo/bus"
	"github.com/gahpo/gahpo/search"
	"github.com/gahpo/gahpo/store"
)

// QueryRequest is the body of a live query.
type QueryRequest struct {
	Run        string `json:"run,omitempty"`
	Generation int    `json:"generation,omitempty"`
	Genome     int    `json:"genome,omitempty"`
}

// Endpoint names of the live service.
const (
	EndpointRuns       = "runs"
	EndpointBest       = "best"
	EndpointGeneration = "generation"
	EndpointGenome     = "genome"
	EndpointFinal      = "final"
	EndpointStatus     = "status"
)

// Queries answers the queries that work both offline, on a history file,
// and live, through a running coordinator; both give the same answers.
type Queries struct{ Store *store.Store }

// Runs lists the runs (without their secrets).
func (q Queries) Runs() ([]gahpo.Run, error) {
	runs, err := q.Store.Runs()
	for i := range runs {
		runs[i].Secret = ""
		if runs[i].EpochsSpent == 0 {
			// Stored before it was recorded, or still running: counted
			// from the genomes, as the run summary does.
			if gs, err := q.Store.Genomes(runs[i].ID, -1); err == nil {
				runs[i].EpochsSpent = search.EpochsSpent(runs[i].Config.RungEpochs(), gs)
			}
		}
	}
	if runs == nil && err == nil {
		runs = []gahpo.Run{} // [] in JSON, as every other list
	}
	return runs, err
}

// Best lists the best genome of each generation of a run ("" = latest);
// of each rung for a population based training (search.RungBest).
func (q Queries) Best(run string) ([]gahpo.BestEntry, error) {
	r, err := q.Store.Run(run)
	if err != nil {
		return nil, err
	}
	if r.Config.PBT() {
		// Its genomes train on together: a row per rung, not per
		// generation of the genomes that took a place.
		recs, err := q.Store.Genomes(r.ID, -1)
		if err != nil {
			return nil, err
		}
		return search.RungBest(r.Config, recs), nil
	}
	recs, err := q.Store.BestPerGeneration(r.ID)
	if err != nil {
		return nil, err
	}
	out := make([]gahpo.BestEntry, len(recs))
	for i, g := range recs {
		out[i] = gahpo.NewBestEntry(g)
	}
	return out, nil
}

// Generation lists every genome of one generation, best first.
func (q Queries) Generation(run string, gen int) ([]gahpo.GenomeRecord, error) {
	r, err := q.Store.Run(run)
	if err != nil {
		return nil, err
	}
	gs, err := q.Store.Genomes(r.ID, gen)
	if err != nil {
		return nil, err
	}
	slices.SortStableFunc(gs, func(a, b gahpo.GenomeRecord) int {
		switch {
		case a.Evaluated() != b.Evaluated():
			if a.Evaluated() {
				return -1
			}
			return 1
		case gahpo.Better(a, b):
			return -1
		case gahpo.Better(b, a):
			return 1
		}
		return 0
	})
	return gs, nil
}

// Genome returns one genome.
func (q Queries) Genome(run string, id int) (gahpo.GenomeRecord, error) {
	r, err := q.Store.Run(run)
	if err != nil {
		return gahpo.GenomeRecord{}, err
	}
	return q.Store.Genome(r.ID, id)
}

// Final returns the final training of a run.
func (q Queries) Final(run string) (gahpo.FinalTraining, error) {
	r, err := q.Store.Run(run)
	if err != nil {
		return gahpo.FinalTraining{}, err
	}
	return q.Store.Final(r.ID)
}

func (c *Coordinator) endpoints() map[string]bus.Endpoint {
	q := Queries{Store: c.store}
	// asked decodes a query's request (bad JSON refused, no run: this
	// coordinator's) and answers it.
	asked := func(answer func(r QueryRequest) (any, error)) bus.Endpoint {
		return func(_ context.Context, b []byte) (any, error) {
			var r QueryRequest
			if len(b) > 0 {
				if err := json.Unmarshal(b, &r); err != nil {
					return nil, fmt.Errorf("bad query: %w", err)
				}
			}
			if r.Run == "" {
				r.Run = c.id
			}
			return answer(r)
		}
	}
	return map[string]bus.Endpoint{
		EndpointRuns:       func(context.Context, []byte) (any, error) { return q.Runs() },
		EndpointBest:       asked(func(r QueryRequest) (any, error) { return q.Best(r.Run) }),
		EndpointGeneration: asked(func(r QueryRequest) (any, error) { return q.Generation(r.Run, r.Generation) }),
		EndpointGenome:     asked(func(r QueryRequest) (any, error) { return q.Genome(r.Run, r.Genome) }),
		EndpointFinal:      asked(func(r QueryRequest) (any, error) { return q.Final(r.Run) }),
		EndpointStatus:     func(context.Context, []byte) (any, error) { return c.Status(), nil },
	}
}

// finalEpochs returns the epochs of the final training reported so far:
// in a halving or pbt run, those of its best genome's training again
// (which reports as a fitness training does), when its weights were lost;
// and the run's objective (a problem file's metric, as its trainer
// reported it) at those of them whose report held it, by epoch.
func (c *Coordinator) finalEpochs(run gahpo.Run) ([]gahpo.EpochMetrics, map[int]gahpo.Float) {
	if !run.Config.MultiFidelity() {
		return slices.Clone(c.final), maps.Clone(c.finalObjective)
	}
	if run.Status != gahpo.RunFinal {
		return nil, nil
	}
	curve := c.reports[training{run.Best, 0}]
	if curve == nil {
		return nil, nil
	}
	var out []gahpo.EpochMetrics
	var objective map[int]gahpo.Float
	for _, e := range curve.reports() {
		out = append(out, e.Fixed())
		if v, ok := objectiveOf(&e, run.Config.Objective); ok {
			if objective == nil {
				objective = map[int]gahpo.Float{}
			}
			objective[e.Epoch] = v
		}
	}
	return out, objective
}

// objectiveOf is the value of objective (a problem file's metric) in
// rep, when rep holds it; none for a built-in problem (no objective).
func objectiveOf(rep *gahpo.EpochReport, objective string) (gahpo.Float, bool) {
	if rep == nil || objective == "" {
		return 0, false
	}
	v, ok := rep.Metrics[objective]
	return v, ok
}

// underWayOf returns the trainings under way, held by workers: how long
// each has trained at now and, in a multi-fidelity run, the epochs it
// trains (those of the rung it trains, rungTrained; a confirmation
// training's, the top rung's).
func underWayOf(rc gahpo.RunConfig, recs []gahpo.GenomeRecord, holders []gahpo.Holder, now time.Time) []underWay {
	rungs := rc.RungEpochs()
	out := make([]underWay, 0, len(holders))
	for _, h := range holders {
		u := underWay{Elapsed: now.Sub(h.Since)}
		switch i := h.GenomeID - 1; {
		case !rc.MultiFidelity():
		case h.Replicate > 0:
			u.Epochs = rungs[len(rungs)-1]
		case i >= 0 && i < len(recs) && recs[i].ID == h.GenomeID && rungTrained(recs[i]) < len(rungs):
			u.Epochs = rungEpochs(rungs, rungTrained(recs[i]))
		}
		out = append(out, u)
	}
	return out
}

// Status reports the progress of the run.
func (c *Coordinator) Status() gahpo.Status {
	c.mu.Lock()
	defer c.mu.Unlock()
	run := c.machine.Run()
	rc := run.Config
	recs := c.machine.Records()
	gen := c.machine.Generation()
	st := gahpo.Status{
		RunID: c.id, Problem: rc.Problem, State: run.Status, Generation: c.machine.Generation() + 1,
		Generations: rc.GA.Generations, Population: rc.GA.Population, Started: run.Started,
		Fidelity: rc.Fidelity, Breeding: rc.Breeding,
		Bred: len(recs), Budget: rc.GA.Population * rc.GA.Generations,
		EpochsSpent: c.machine.EpochsSpent(), BudgetEpochs: rc.BudgetEpochs, StoppedBy: run.StoppedBy, MaxFailures: rc.MaxFailures,
		History: c.store.Path(), Objective: rc.Objective, Maximize: rc.Maximize,
	}
	st.Final, st.FinalObjective = c.finalEpochs(run)
	outstanding, best := tallyRecords(&st, recs, gen)
	st.Holders = c.holdersOf(outstanding)
	st.InFlight = len(st.Holders)
	st.Queued = max(st.Outstanding+st.Confirming-st.InFlight, 0)
	st.Curves = c.curvesOf(outstanding)
	st.Fault = c.fault
	if best != nil {
		st.Best = bestOf(*best, recs)
	}
	if run.Status == gahpo.RunRunning || run.Status == gahpo.RunFinal {
		c.statusETA(&st, run, recs, gen)
	}
	return st
}

// tallyRecords counts into st, from the genomes' records, the results per
// rung, the trainings outstanding and confirming, and those done and
// failed of generation gen; it returns the genomes outstanding (their own
// trainings or their confirmations) and the best genome trained, nil when
// none is.
func tallyRecords(st *gahpo.Status, recs []gahpo.GenomeRecord, gen int) (outstanding map[int]bool, best *gahpo.GenomeRecord) {
	outstanding = map[int]bool{}
	for i := range recs {
		r := &recs[i]
		if len(st.Rungs) < len(r.RungFitness) {
			st.Rungs = append(st.Rungs, make([]int, len(r.RungFitness)-len(st.Rungs))...)
		}
		if r.DuplicateOf == 0 {
			for k := r.Inherited; k < len(r.RungFitness); k++ { // PBT: not those taken from the genome exploited
				st.Rungs[k]++
			}
		}
		switch r.Status {
		case gahpo.GenomeQueued, gahpo.GenomePromoted:
			outstanding[r.ID] = true
			st.Outstanding++
		}
		for _, rep := range r.Replicates {
			if rep.Status == gahpo.GenomeQueued {
				st.Confirming++
				outstanding[r.ID] = true // its holders and curves are the replicates'
			}
		}
		if r.Generation == gen && r.Status != gahpo.GenomeQueued {
			st.Done++
			if r.Status == gahpo.GenomeFailed || (r.Status == gahpo.GenomeDuplicate && r.Failure != "") {
				st.Failed++
			}
		}
		if r.Status != gahpo.GenomeQueued && r.Status != gahpo.GenomeFailed && r.DuplicateOf == 0 && (best == nil || gahpo.Better(*r, *best)) {
			best = r
		}
	}
	return outstanding, best
}

// holdersOf returns the workers' holds on the trainings of the genomes
// outstanding, by genome and replicate.
func (c *Coordinator) holdersOf(outstanding map[int]bool) []gahpo.Holder {
	var holders []gahpo.Holder
	for k, h := range c.holders {
		if outstanding[k.genome] {
			holders = append(holders, h)
		}
	}
	slices.SortFunc(holders, func(a, b gahpo.Holder) int { return cmp.Or(a.GenomeID-b.GenomeID, a.Replicate-b.Replicate) })
	return holders
}

// curvesOf returns the curves of the genomes outstanding (nil when none
// has one): a genome's curve is its own training's, or its first
// confirmation training's under way (Curves is by genome).
func (c *Coordinator) curvesOf(outstanding map[int]bool) map[int][]gahpo.EpochReport {
	curveOf := map[int]int{} // genome → the replicate whose curve is shown
	for k := range c.reports {
		if r, ok := curveOf[k.genome]; outstanding[k.genome] && (!ok || k.replicate < r) {
			curveOf[k.genome] = k.replicate
		}
	}
	var curves map[int][]gahpo.EpochReport
	for id, rep := range curveOf {
		if curves == nil {
			curves = map[int][]gahpo.EpochReport{}
		}
		curves[id] = c.reports[training{id, rep}].reports()
	}
	return curves
}

// bestOf is the best genome's entry of the status: the confirmed leader
// once there is one (search.ConfirmedLead), which ranks on its mean over
// seeds, not on one training's luck; its generation counted from 1, as
// everywhere a user sees them.
func bestOf(best gahpo.GenomeRecord, recs []gahpo.GenomeRecord) *gahpo.BestEntry {
	e := gahpo.NewBestEntry(best)
	if id, mean, n := search.ConfirmedLead(recs); id != 0 {
		e = gahpo.NewBestEntry(recs[slices.IndexFunc(recs, func(r gahpo.GenomeRecord) bool { return r.ID == id })])
		f := gahpo.Float(mean)
		e.Seeds, e.ConfirmedFitness = n, &f
	}
	e.Generation++
	return &e
}

// statusETA estimates the ETAs of a running run's generation and of the
// run into st, whose counts tallyRecords and the holders have filled.
func (c *Coordinator) statusETA(st *gahpo.Status, run gahpo.Run, recs []gahpo.GenomeRecord, gen int) {
	rc := run.Config
	left := trainingsLeft(rc, st)
	now := c.cfg.Now()
	in := etaInput{State: run.Status, Config: rc, Trainings: left, Parallel: st.InFlight,
		Measured: c.evalN, Time: c.evalTime, Epochs: c.evalEpochs, Final: st.Final,
		Now: now, Started: run.Started, UnderWay: underWayOf(rc, recs, st.Holders, now), Resumed: c.resumed}
	unbred := max(st.Budget-st.Bred, 0)
	if run.StoppedBy != "" || rc.PBT() {
		unbred = 0
	}
	in.Unbred = min(unbred, max(left, 0))
	if c.evalN > 0 && run.Status == gahpo.RunRunning && !rc.SteadyState() && !rc.MultiFidelity() {
		genLeft := 0
		for _, r := range recs {
			if r.Generation == gen && r.Status == gahpo.GenomeQueued {
				genLeft++
			}
		}
		st.GenETA = in.genETA(genLeft)
	}
	if rc.Halving() {
		in.EpochsLeft = halvingEpochsLeft(rc, recs, unbred, st.Confirming)
		in.BredEpochs = in.EpochsLeft - float64(unbred)*halvingFresh(rc)
		if rc.BudgetEpochs > 0 {
			// Breeding stops at the budget: what the genomes bred so
			// far still train, and the budget's rest at most.
			in.EpochsLeft = min(in.EpochsLeft, in.BredEpochs+float64(max(rc.BudgetEpochs-st.EpochsSpent, 0)))
		}
	}
	st.RunETA, st.NoETA = in.eta()
}

// trainingsLeft counts the trainings a run of rc still has to make, as
// st counts it: those outstanding and the budget's unbred; in a
// population based training, each place of the population trains every
// rung once (a genome that exploits one ahead skips some: an upper
// bound).
func trainingsLeft(rc gahpo.RunConfig, st *gahpo.Status) int {
	if !rc.PBT() {
		return st.Outstanding + st.Budget - st.Bred
	}
	left := rc.GA.Population * len(rc.RungEpochs())
	for _, n := range st.Rungs {
		left -= n
	}
	return max(left, st.Outstanding)
}
