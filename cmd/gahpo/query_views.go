package main

import (
	"context"
	"errors"
	"fmt"
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

// Answers with durations in seconds beside the nanoseconds kept for
// compatibility.
type (
	bestJSON struct {
		gahpo.BestEntry
		DurationS float64 `json:"duration_s"`
		// Median and Mean of the generation's finite fitnesses.
		Median *gahpo.Float `json:"median,omitempty"`
		Mean   *gahpo.Float `json:"mean,omitempty"`
	}
	genomeJSON struct {
		gahpo.GenomeRecord
		DurationS float64 `json:"duration_s"`
	}
	finalJSON struct {
		gahpo.FinalTraining
		DurationS float64 `json:"duration_s"`
	}
)

// withSeconds adds duration_s fields to a query's answer, and to the best
// genomes of the generations their median and mean fitness (stats in the
// same order, or none).
func withSeconds(out any, stats []report.GenStats) any {
	switch v := out.(type) {
	case *[]gahpo.BestEntry:
		o := make([]bestJSON, len(*v))
		for i, b := range *v {
			o[i] = bestJSON{BestEntry: b, DurationS: b.Duration.Seconds()}
			if len(stats) == len(*v) {
				o[i].Median, o[i].Mean = &stats[i].Median, &stats[i].Mean
			}
		}
		return o
	case *[]gahpo.GenomeRecord:
		o := make([]genomeJSON, len(*v))
		for i, g := range *v {
			o[i] = genomeJSON{g, g.Duration.Seconds()}
		}
		return o
	case *gahpo.GenomeRecord:
		return genomeJSON{*v, v.Duration.Seconds()}
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
// names the run's valid range.
func explainNotFound(ctx context.Context, q querier, endpoint string, req coordinator.QueryRequest, err error) error {
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
