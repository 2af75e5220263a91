package coordinator

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/gahpo/gahpo"
	"github.com/gahpo/gahpo/bus"
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

// Runs lists the runs.
func (q Queries) Runs() ([]gahpo.Run, error) { return q.Store.Runs() }

// Best lists the best genome of each generation of a run ("" = latest).
func (q Queries) Best(run string) ([]gahpo.BestEntry, error) {
	r, err := q.Store.Run(run)
	if err != nil {
		return nil, err
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
	decode := func(b []byte) (QueryRequest, error) {
		var r QueryRequest
		if len(b) > 0 {
			if err := json.Unmarshal(b, &r); err != nil {
				return r, fmt.Errorf("bad query: %w", err)
			}
		}
		if r.Run == "" {
			r.Run = c.id
		}
		return r, nil
	}
	return map[string]bus.Endpoint{
		EndpointRuns: func(context.Context, []byte) (any, error) { return q.Runs() },
		EndpointBest: func(_ context.Context, b []byte) (any, error) {
			r, err := decode(b)
			if err != nil {
				return nil, err
			}
			return q.Best(r.Run)
		},
		EndpointGeneration: func(_ context.Context, b []byte) (any, error) {
			r, err := decode(b)
			if err != nil {
				return nil, err
			}
			return q.Generation(r.Run, r.Generation)
		},
		EndpointGenome: func(_ context.Context, b []byte) (any, error) {
			r, err := decode(b)
			if err != nil {
				return nil, err
			}
			return q.Genome(r.Run, r.Genome)
		},
		EndpointFinal: func(_ context.Context, b []byte) (any, error) {
			r, err := decode(b)
			if err != nil {
				return nil, err
			}
			return q.Final(r.Run)
		},
		EndpointStatus: func(context.Context, []byte) (any, error) { return c.Status(), nil },
	}
}

// Status reports the progress of the run.
func (c *Coordinator) Status() gahpo.Status {
	c.mu.Lock()
	defer c.mu.Unlock()
	rc := c.run.Config
	st := gahpo.Status{
		RunID: c.id, Problem: rc.Problem, State: c.run.Status, Generation: c.engine.Generation(),
		Generations: rc.GA.Generations, Population: rc.GA.Population, Started: c.run.Started,
		Final: slices.Clone(c.final),
	}
	pending := map[int]bool{}
	for _, g := range c.engine.Pending() {
		pending[g.ID] = true
	}
	for _, g := range c.engine.Current() {
		if pending[g.ID] {
			continue
		}
		st.Done++
		if f, ok := c.engine.Fitness(g.ID); ok && (math.IsInf(f, 0) || math.IsNaN(f)) {
			st.Failed++
		}
	}
	for id, h := range c.holders {
		if pending[id] {
			st.Holders = append(st.Holders, h)
		}
	}
	slices.SortFunc(st.Holders, func(a, b gahpo.Holder) int { return a.GenomeID - b.GenomeID })
	st.InFlight = len(st.Holders)
	st.Queued = len(pending) - st.InFlight
	if c.run.Status != gahpo.RunRunning {
		st.Done, st.Queued, st.InFlight = len(c.engine.Current()), 0, 0
	}
	if best, f, ok := c.engine.Best(); ok {
		e := gahpo.BestEntry{Generation: best.Generation, GenomeID: best.ID, Fitness: gahpo.Float(f), Params: c.space.ToMap(best.Genes)}
		st.Best = &e
	}
	if c.evalN > 0 && c.run.Status == gahpo.RunRunning {
		mean := c.evalTime / time.Duration(c.evalN)
		par := max(st.InFlight, 1)
		st.GenETA = mean * time.Duration(len(pending)) / time.Duration(par)
		left := len(pending) + (rc.GA.Generations-1-st.Generation)*rc.GA.Population
		st.RunETA = mean * time.Duration(left) / time.Duration(par)
	}
	return st
}
