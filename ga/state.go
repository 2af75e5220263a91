package ga

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
)

// StateVersion is the version of the JSON state written by MarshalJSON.
const StateVersion = 1

// ErrBadState is returned (wrapped, with details) by Restore for state that is
// corrupt, of another version, inconsistent, or saved with another problem.
var ErrBadState = errors.New("ga: bad engine state")

// stateJSON is the versioned serialised form of an Engine.
type stateJSON struct {
	Version    int             `json:"version"`
	Config     Config          `json:"config"`
	Generation int             `json:"generation"`
	Genomes    []genomeJSON    `json:"genomes,omitempty"` // none in a head (MarshalHead)
	Problem    json.RawMessage `json:"problem,omitempty"`
}

type genomeJSON struct {
	Genome
	Fitness *JSONFloat `json:"fitness,omitempty"`
}

// MarshalJSON returns the engine's state as versioned JSON: {"version":1,
// "config":..., "generation":..., "genomes":[...], "problem":...}. Genomes
// carry their lineage and known fitness; "problem" is the Problem's own JSON
// when it has one (a *Space has), so Restore can refuse another problem. A
// coordinator can save it after every Tell and Restore it to continue.
func (e *Engine) MarshalJSON() ([]byte, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	s := stateJSON{
		Version:    StateVersion,
		Config:     e.st.cfg,
		Generation: e.st.gen,
		Genomes:    make([]genomeJSON, len(e.st.recs)),
		Problem:    problemJSON(e.p),
	}
	for i, r := range e.st.recs {
		s.Genomes[i].Genome = r.g
		if r.known {
			f := JSONFloat(r.fit)
			s.Genomes[i].Fitness = &f
		}
	}
	b, err := json.Marshal(s)
	if err != nil {
		return nil, fmt.Errorf("ga: marshal engine state: %w", err)
	}
	return b, nil
}

// problemJSON returns p's compact JSON form, or nil when p has none.
func problemJSON(p Problem) json.RawMessage {
	b, err := json.Marshal(p)
	if err != nil {
		return nil
	}
	var buf bytes.Buffer
	if json.Compact(&buf, b) != nil || buf.String() == "{}" || buf.String() == "null" {
		return nil
	}
	return buf.Bytes()
}

// sameJSON reports whether a and b encode the same value, whatever the order
// of object keys and the spacing.
func sameJSON(a, b []byte) bool {
	var va, vb any
	if json.Unmarshal(a, &va) != nil || json.Unmarshal(b, &vb) != nil {
		return false
	}
	return reflect.DeepEqual(va, vb)
}

// Restore returns the engine saved by MarshalJSON, to be driven with problem
// p. The restored engine breeds exactly what the saved one would have,
// including when it was saved mid-generation. Errors wrap ErrBadState: not
// JSON, a version other than StateVersion, an invalid config, genomes that are
// inconsistent or refused by p, or a saved problem whose JSON differs from p's.
func Restore(p Problem, state []byte) (*Engine, error) {
	s, err := decodeState(p, state)
	if err != nil {
		return nil, err
	}
	st, err := rebuild(p, s)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadState, err)
	}
	// A valid state never holds a complete, unbred generation; breed on if it does.
	for st.complete() && st.gen < st.cfg.Generations-1 {
		st.gen++
		if err := st.breed(p, st.gen); err != nil {
			return nil, fmt.Errorf("ga: breed generation %d: %w", st.gen, err)
		}
	}
	return &Engine{p: p, st: st}, nil
}

// Told is a genome of the run and the fitness the engine was told for it
// (Known), what RestoreWith takes back: a caller that keeps every genome and
// its fitness in its own records need not store them twice.
type Told struct {
	Genome
	Fitness float64
	Known   bool
}

// MarshalHead returns the engine's state without its genomes: its version,
// config, generation and problem, a few hundred bytes however long the run.
// RestoreWith takes it back with the genomes (History) and the fitness told
// for each. A coordinator that keeps those in its records saves the head
// when a generation starts, instead of the whole history every time.
func (e *Engine) MarshalHead() ([]byte, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	b, err := json.Marshal(stateJSON{Version: StateVersion, Config: e.st.cfg, Generation: e.st.gen, Problem: problemJSON(e.p)})
	if err != nil {
		return nil, fmt.Errorf("ga: marshal engine head: %w", err)
	}
	return b, nil
}

// RestoreWith returns the engine saved by MarshalHead (or by MarshalJSON,
// whose genomes give way to those given), given back its genomes in id
// order: every genome of the generations up to the saved one, each with
// the fitness it was told (a duplicate's is its original's). It checks
// them as Restore does, and refuses a saved generation that the given
// fitness values complete: a generation is saved when it starts, so the
// genomes do not belong to that head. Errors wrap ErrBadState.
func RestoreWith(p Problem, head []byte, genomes []Told) (*Engine, error) {
	s, err := decodeState(p, head)
	if err != nil {
		return nil, err
	}
	s.Genomes = make([]genomeJSON, len(genomes))
	for i, g := range genomes {
		s.Genomes[i].Genome = g.Genome
		if g.Known {
			f := JSONFloat(g.Fitness)
			s.Genomes[i].Fitness = &f
		}
	}
	st, err := rebuild(p, s)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadState, err)
	}
	if st.complete() && st.gen < st.cfg.Generations-1 {
		return nil, fmt.Errorf("%w: generation %d is complete but the next was not bred: the genomes given do not belong to this head", ErrBadState, st.gen)
	}
	return &Engine{p: p, st: st}, nil
}

// decodeState decodes a state of MarshalJSON or MarshalHead and checks its
// version and problem.
func decodeState(p Problem, state []byte) (stateJSON, error) {
	var s stateJSON
	if p == nil {
		return s, errors.New("ga: nil problem")
	}
	var head struct {
		Version int `json:"version"`
	}
	if err := json.Unmarshal(state, &head); err != nil {
		return s, fmt.Errorf("%w: decode: %w", ErrBadState, err)
	}
	if head.Version != StateVersion {
		return s, fmt.Errorf("%w: version %d, want %d", ErrBadState, head.Version, StateVersion)
	}
	dec := json.NewDecoder(bytes.NewReader(state))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return s, fmt.Errorf("%w: decode: %w", ErrBadState, err)
	}
	if len(s.Problem) > 0 {
		if now := problemJSON(p); now != nil && !sameJSON(now, s.Problem) {
			return s, fmt.Errorf("%w: the state was saved with another problem: %s, now %s",
				ErrBadState, s.Problem, now)
		}
	}
	return s, nil
}

// rebuild checks the decoded state and turns it into engine state.
func rebuild(p Problem, s stateJSON) (*state, error) {
	if err := s.Config.Validate(); err != nil {
		return nil, err
	}
	pop := s.Config.Population
	if s.Generation < 0 || s.Generation >= s.Config.Generations {
		return nil, fmt.Errorf("generation %d outside [0, %d)", s.Generation, s.Config.Generations)
	}
	if want := (s.Generation + 1) * pop; len(s.Genomes) != want {
		return nil, fmt.Errorf("%d genomes, want %d for generation %d of population %d",
			len(s.Genomes), want, s.Generation, pop)
	}
	st := &state{cfg: s.Config, gen: s.Generation, index: make(map[string]int)}
	for i, gj := range s.Genomes {
		g := gj.Genome
		id := i + 1
		if g.ID != id || g.Generation != i/pop {
			return nil, fmt.Errorf("genome at position %d has id %d, generation %d; want id %d, generation %d",
				i, g.ID, g.Generation, id, i/pop)
		}
		if err := st.checkGenes(p, g.Genes); err != nil {
			return nil, fmt.Errorf("genome %d: %w", id, err)
		}
		for _, par := range g.Parents {
			if par < 1 || par >= id || (par-1)/pop != g.Generation-1 {
				return nil, fmt.Errorf("genome %d: parent %d is not in the previous generation", id, par)
			}
		}
		r := record{g: g, key: geneKey(g.Genes)}
		if gj.Fitness != nil {
			r.fit, r.known = float64(*gj.Fitness), true
		}
		if g.Generation < s.Generation && !r.known {
			return nil, fmt.Errorf("genome %d of the finished generation %d has no fitness", id, g.Generation)
		}
		orig, seen := st.index[r.key]
		switch {
		case g.DuplicateOf == 0 && seen:
			return nil, fmt.Errorf("genome %d has the genes of genome %d but is not marked a duplicate", id, orig)
		case g.DuplicateOf == 0:
			st.index[r.key] = id
		case !seen || orig != g.DuplicateOf:
			return nil, fmt.Errorf("genome %d: duplicate_of %d, but its genes were first issued as genome %d",
				id, g.DuplicateOf, orig)
		default:
			o := st.recs[orig-1]
			if o.known != r.known || (r.known && math.Float64bits(o.fit) != math.Float64bits(r.fit) &&
				!(math.IsNaN(o.fit) && math.IsNaN(r.fit))) {
				return nil, fmt.Errorf("genome %d: fitness differs from that of genome %d it duplicates", id, orig)
			}
		}
		st.recs = append(st.recs, r)
	}
	return st, nil
}
