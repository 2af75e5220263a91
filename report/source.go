package report

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/gahpo/gahpo"
	"github.com/gahpo/gahpo/store"
)

// Snapshot is what the figures and the page are drawn from.
type Snapshot struct {
	Run     gahpo.Run
	Genomes []gahpo.GenomeRecord // every genome bred so far, in id order
	Final   *gahpo.FinalTraining // nil until the final training is stored
	Weights []byte               // the final training's weights (store only)
	Status  *gahpo.Status        // progress of a running coordinator, when known
	Taken   time.Time
	// Offline says that no coordinator can be at work on the run: it was
	// read from a history file opened read-only, whose lock keeps a
	// coordinator out. A run there that has not ended was interrupted.
	Offline bool
	// DB is the history file the run is kept in (absolute path), which
	// the commands that resume or read it name; "" when not known.
	DB string
}

// LastActivity is when the run last did something: its latest stored
// result (a rung's, a confirmation training's, the final training's), or
// its start.
func (s *Snapshot) LastActivity() time.Time {
	last := s.Run.Started
	later := func(t time.Time) {
		if t.After(last) {
			last = t
		}
	}
	for _, g := range s.Genomes {
		later(g.Finished)
		for _, t := range g.RungFinished {
			later(t)
		}
		for _, r := range g.Replicates {
			later(r.Finished)
		}
	}
	if s.Final != nil {
		later(s.Final.Finished)
	}
	return last
}

// Source hands out snapshots of one run.
type Source interface {
	Snapshot(ctx context.Context) (*Snapshot, error)
}

// StoreSource reads a run from a history file. The store may be one a
// running coordinator holds open (bbolt readers do not block its writer).
type StoreSource struct {
	Store *store.Store
	Run   string // "" = the latest run
	// Status, when set, adds the progress of the coordinator that owns the
	// store to each snapshot.
	Status func() gahpo.Status
}

var _ Source = StoreSource{}

// Snapshot implements Source.
func (s StoreSource) Snapshot(context.Context) (*Snapshot, error) {
	run, err := s.Store.Run(s.Run)
	if err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	gs, err := s.Store.Genomes(run.ID, -1)
	if err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	run.Secret = "" // the coordinator's alone
	snap := &Snapshot{Run: run, Genomes: gs, Taken: time.Now(), Offline: s.Store.ReadOnly() && s.Status == nil, DB: s.Store.Path()}
	f, err := s.Store.Final(run.ID)
	switch {
	case err == nil:
		snap.Final = &f
		if w, err := s.Store.Weights(run.ID); err == nil {
			snap.Weights = w
		}
	case !errors.Is(err, store.ErrNotFound):
		return nil, fmt.Errorf("report: %w", err)
	}
	if s.Status != nil {
		st := s.Status()
		snap.Status = &st
	}
	return snap, nil
}

// Querier asks a running coordinator's query service (*bus.Conn is one).
type Querier interface {
	Query(ctx context.Context, run, endpoint string, req, resp any) error
}

// liveRequest is the coordinator's query request (coordinator.QueryRequest).
type liveRequest struct {
	Run        string `json:"run,omitempty"`
	Generation int    `json:"generation,omitempty"`
}

// LiveSource reads a run through a running coordinator's query service.
// The weights of the final training are not served live: the figures that
// need them appear when the report is drawn from the history file.
type LiveSource struct {
	Q   Querier
	Run string // the run id the service is registered under
}

var _ Source = LiveSource{}

// Snapshot implements Source.
func (l LiveSource) Snapshot(ctx context.Context) (*Snapshot, error) {
	var st gahpo.Status
	if err := l.Q.Query(ctx, l.Run, "status", liveRequest{}, &st); err != nil {
		return nil, fmt.Errorf("report: live status: %w", err)
	}
	var runs []gahpo.Run
	if err := l.Q.Query(ctx, l.Run, "runs", liveRequest{}, &runs); err != nil {
		return nil, fmt.Errorf("report: live runs: %w", err)
	}
	snap := &Snapshot{Status: &st, Taken: time.Now(), DB: st.History}
	for _, r := range runs {
		if r.ID == st.RunID {
			snap.Run = r
		}
	}
	if snap.Run.ID == "" {
		return nil, fmt.Errorf("report: run %s is not in the coordinator's history", st.RunID)
	}
	for g := 0; g < st.Generation; g++ { // Status.Generation counts from 1
		var gs []gahpo.GenomeRecord
		if err := l.Q.Query(ctx, l.Run, "generation", liveRequest{Run: st.RunID, Generation: g}, &gs); err != nil {
			return nil, fmt.Errorf("report: live generation %d: %w", g+1, err)
		}
		snap.Genomes = append(snap.Genomes, gs...)
	}
	sortByID(snap.Genomes)
	var f gahpo.FinalTraining
	if err := l.Q.Query(ctx, l.Run, "final", liveRequest{Run: st.RunID}, &f); err == nil {
		snap.Final = &f
	}
	return snap, nil
}

func sortByID(gs []gahpo.GenomeRecord) {
	slices.SortFunc(gs, func(a, b gahpo.GenomeRecord) int { return a.ID - b.ID })
}
