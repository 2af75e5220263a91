package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/gahpo/gahpo"
	"github.com/gahpo/gahpo/coordinator"
	"github.com/gahpo/gahpo/report"
	"github.com/gahpo/gahpo/store"
)

// renumber counts the generations of a query's answer from 1, as the logs,
// the progress, status, the report and export do (the history stores them
// from 0).
func renumber(out any) {
	switch v := out.(type) {
	case *[]gahpo.BestEntry:
		for i := range *v {
			(*v)[i].Generation++
		}
	case *[]gahpo.GenomeRecord:
		for i := range *v {
			(*v)[i].Generation++
		}
	case *gahpo.GenomeRecord:
		v.Generation++
	}
}

// better ranks best entries as gahpo.Better ranks genomes: a higher rung
// first, then the lower fitness.
func better(a, b gahpo.BestEntry) bool {
	return gahpo.Better(gahpo.GenomeRecord{ID: a.GenomeID, Fitness: a.Fitness, Rung: a.Rung}, gahpo.GenomeRecord{ID: b.GenomeID, Fitness: b.Fitness, Rung: b.Rung})
}

// overallBest is the best genome of a run, from its rows of "best per
// generation" (or per rung): the genome the run chose (gahpo.Run.Best, the
// one of its final training) once it has chosen one, with the mean fitness
// of its trainings when it was chosen on more than one seed
// (--confirm-seeds); before, the best of the rows on one training each.
func overallBest(ctx context.Context, q querier, run string, rows []gahpo.BestEntry) (gahpo.BestEntry, error) {
	r, err := queriedRun(ctx, q, run)
	if err != nil {
		return gahpo.BestEntry{}, err
	}
	if r.Best == 0 && r.Status == gahpo.RunDone && !slices.ContainsFunc(rows, func(b gahpo.BestEntry) bool { return b.Status == gahpo.GenomeDone }) {
		return gahpo.BestEntry{}, fmt.Errorf("run %s chose no genome: %s (gahpo query best --run %s lists them, gahpo query genome N gives one's reason)", r.ID, noResult(r), r.ID)
	}
	if r.Best == 0 {
		best := rows[0]
		for _, b := range rows {
			if b.Status != gahpo.GenomeQueued && (best.Status == gahpo.GenomeQueued || better(b, best)) {
				best = b
			}
		}
		return best, nil
	}
	var g gahpo.GenomeRecord
	if err := q.query(ctx, coordinator.EndpointGenome, coordinator.QueryRequest{Run: r.ID, Genome: r.Best}, &g); err != nil {
		return gahpo.BestEntry{}, fmt.Errorf("the chosen genome %d of run %s: %w", r.Best, r.ID, err)
	}
	best := gahpo.NewBestEntry(g)
	if g.ConfirmedFitness != nil {
		best.Seeds, best.ConfirmedFitness = 1+len(g.Replicates), g.ConfirmedFitness
	}
	// A population based training's rows are rungs: the chosen genome's is
	// its top rung's, with that rung's statistics.
	for _, row := range rows {
		if row.RungResults > 0 && row.Rung == g.Rung {
			best.Generation, best.Epochs = row.Generation, row.Epochs
			best.RungResults, best.RungFailed, best.RungMedian, best.RungMean = row.RungResults, row.RungFailed, row.RungMedian, row.RungMean
		}
	}
	return best, nil
}

// queriedRun is the run a query is of: run, or else the one the querier
// answers for by default (offline the latest run of the file, live the
// coordinator's).
func queriedRun(ctx context.Context, q querier, run string) (gahpo.Run, error) {
	var runs []gahpo.Run
	if err := q.query(ctx, coordinator.EndpointRuns, coordinator.QueryRequest{Run: run}, &runs); err != nil {
		return gahpo.Run{}, err
	}
	if l, ok := q.(live); ok && run == "" {
		run = l.run
	}
	for _, r := range runs {
		if r.ID == run {
			return r, nil
		}
	}
	if run == "" && len(runs) > 0 {
		return runs[len(runs)-1], nil // oldest first
	}
	return gahpo.Run{}, fmt.Errorf("%w: run %q", store.ErrNotFound, run)
}

// Answers with durations in seconds beside the nanoseconds kept for
// compatibility.
type (
	bestJSON struct {
		gahpo.BestEntry
		DurationS float64 `json:"duration_s"`
		// Median and Mean of the generation's finite fitnesses.
		Median *gahpo.Float `json:"median,omitempty"`
		Mean   *gahpo.Float `json:"mean,omitempty"`
		objectiveJSON
	}
	genomeJSON struct {
		gahpo.GenomeRecord
		DurationS float64 `json:"duration_s"`
		objectiveJSON
	}
	// objectiveJSON is, in a problem file's run, its objective's name and
	// the genome's value of it in its own sign (RunConfig.Shown): fitness
	// stays what the search minimises, a maximised objective negated.
	objectiveJSON struct {
		Objective      string       `json:"objective,omitempty"`
		ObjectiveValue *gahpo.Float `json:"objective_value,omitempty"`
	}
	finalJSON struct {
		gahpo.FinalTraining
		DurationS float64 `json:"duration_s"`
	}
)

// withSeconds adds duration_s fields to a query's answer, to the best
// genomes of the generations their median and mean fitness (stats in the
// same order, or none), and to a genome of a problem file's run of rc its
// objective's value.
func withSeconds(out any, rc gahpo.RunConfig, stats []report.GenStats) any {
	obj := func(f gahpo.Float) objectiveJSON {
		if rc.Objective == "" {
			return objectiveJSON{}
		}
		v := rc.Shown(f)
		return objectiveJSON{Objective: rc.Objective, ObjectiveValue: &v}
	}
	switch v := out.(type) {
	case *[]gahpo.BestEntry:
		o := make([]bestJSON, len(*v))
		for i, b := range *v {
			o[i] = bestJSON{BestEntry: b, DurationS: b.Duration.Seconds(), objectiveJSON: obj(b.Fitness)}
			if len(stats) == len(*v) {
				o[i].Median, o[i].Mean = &stats[i].Median, &stats[i].Mean
			}
		}
		return o
	case *[]gahpo.GenomeRecord:
		o := make([]genomeJSON, len(*v))
		for i, g := range *v {
			o[i] = genomeJSON{g, g.Duration.Seconds(), obj(g.Fitness)}
		}
		return o
	case *gahpo.GenomeRecord:
		return genomeJSON{*v, v.Duration.Seconds(), obj(v.Fitness)}
	case *gahpo.FinalTraining:
		return finalJSON{*v, v.Duration.Seconds()}
	}
	return out
}

// generationStats reads every generation of the run for the median and
// mean of their fitness; nil when one cannot be read.
func generationStats(ctx context.Context, q querier, run string, n int) []report.GenStats {
	var all []gahpo.GenomeRecord
	for g := range n {
		var gs []gahpo.GenomeRecord
		if err := q.query(ctx, coordinator.EndpointGeneration, coordinator.QueryRequest{Run: run, Generation: g}, &gs); err != nil {
			return nil
		}
		all = append(all, gs...)
	}
	return report.GenerationStats(all)
}

// rungStats gives the statistics of rows that are a population based
// training's rungs (search.RungBest), nil for rows of generations.
func rungStats(best []gahpo.BestEntry) []report.GenStats {
	if len(best) == 0 || best[0].RungResults == 0 {
		return nil
	}
	out := make([]report.GenStats, len(best))
	for i, b := range best {
		out[i] = report.GenStats{Generation: b.Generation, Genomes: b.RungResults, Evaluated: b.RungResults, Failed: b.RungFailed,
			Median: b.RungMedian, Mean: b.RungMean}
	}
	return out
}

// isNotFound tells a missing record, offline or through the live service.
func isNotFound(err error) bool {
	return errors.Is(err, store.ErrNotFound) || strings.Contains(err.Error(), "not found")
}

// explainNotFound turns a missing generation or genome into an answer that
// names the run's valid range, and a missing final training into one that
// says why the run has none.
func explainNotFound(ctx context.Context, q querier, endpoint string, req coordinator.QueryRequest, err error) error {
	if isNotFound(err) && endpoint == coordinator.EndpointFinal {
		return explainNoFinal(ctx, q, req.Run, err)
	}
	if !isNotFound(err) || (endpoint != coordinator.EndpointGeneration && endpoint != coordinator.EndpointGenome) {
		return err
	}
	var best []gahpo.BestEntry
	if q.query(ctx, coordinator.EndpointBest, req, &best) != nil {
		return err
	}
	var runs []gahpo.Run
	_ = q.query(ctx, coordinator.EndpointRuns, req, &runs)
	run := req.Run
	planned, pbt := 0, false
	for _, r := range runs {
		if r.ID == req.Run || (req.Run == "" && r.Started.After(time.Time{})) {
			run, planned, pbt = r.ID, r.Config.GA.Generations, r.Config.PBT()
		}
	}
	if endpoint == coordinator.EndpointGeneration {
		if len(best) == 0 {
			return fmt.Errorf("generation %d not found: run %s has no evaluated genome yet", req.Generation+1, run)
		}
		if pbt {
			// Its best rows are rungs, and it plans no generations.
			return fmt.Errorf("generation %d not found in run %s, a population based training: its generation 1 is the population it started with, generation k+1 the genomes that took a place after rung k (%d rungs so far); gahpo query best lists its rungs", req.Generation+1, run, len(best))
		}
		return fmt.Errorf("generation %d not found: run %s has generations 1-%d (of %d planned)", req.Generation+1, run, len(best), planned)
	}
	last := 0
	if len(best) > 0 {
		var gs []gahpo.GenomeRecord
		if q.query(ctx, coordinator.EndpointGeneration, coordinator.QueryRequest{Run: req.Run, Generation: len(best) - 1}, &gs) == nil {
			for _, g := range gs {
				last = max(last, g.ID)
			}
		}
	}
	if last == 0 {
		return fmt.Errorf("genome %d not found in run %s", req.Genome, run)
	}
	return fmt.Errorf("genome %d not found: run %s has genomes 1-%d", req.Genome, run, last)
}

// noResult says why a finished run chose no genome: every genome failed,
// or, with halving or population based training (whose stopped genomes
// did not fail), none completed the last rung.
func noResult(r gahpo.Run) string {
	if rungs := r.Config.RungEpochs(); r.Config.MultiFidelity() && len(rungs) > 0 {
		return fmt.Sprintf("no genome completed its training to the last rung (%d epochs): those trained there failed", rungs[len(rungs)-1])
	}
	return "every genome it trained failed"
}

// explainNoFinal says why a run has no final training: it is still
// searching or training it, it failed, or it was run without one.
func explainNoFinal(ctx context.Context, q querier, run string, err error) error {
	r, rerr := queriedRun(ctx, q, run)
	if rerr != nil {
		return err
	}
	_, isLive := q.(live)
	switch {
	case r.Status == gahpo.RunRunning && isLive:
		return fmt.Errorf("run %s has no final training yet: it is still running, and trains its best genome fully at its end", r.ID)
	case r.Status == gahpo.RunFinal && isLive:
		return fmt.Errorf("run %s has no final training yet: it is still running, its final training under way", r.ID)
	case r.Status == gahpo.RunRunning || r.Status == gahpo.RunFinal:
		// Offline: a running coordinator would hold the file, so this
		// run's stopped before its end.
		return fmt.Errorf("run %s has no final training yet: it is unfinished, left %s by a coordinator that stopped before its end (the same command resumes it)", r.ID, r.Status)
	case r.Status == gahpo.RunFailed:
		return fmt.Errorf("run %s has no final training: it failed before it (%s)", r.ID, cmp.Or(r.Error, "no error recorded"))
	case r.Status == gahpo.RunDone && r.Best == 0:
		return fmt.Errorf("run %s has no final training: %s (gahpo query best --run %s lists them, gahpo query genome N gives one's reason)", r.ID, noResult(r), r.ID)
	case r.Config.FinalEpochs == 0 && !r.Config.MultiFidelity():
		return fmt.Errorf("run %s has no final training: it was run with --final-epochs 0 (gahpo query best --per-generation=false --run %s names its best genome)", r.ID, r.ID)
	}
	return fmt.Errorf("run %s, %s, has no final training: %w", r.ID, r.Status, err)
}
