package problems

import (
	"math"

	"github.com/gahpo/gahpo/ga"
	"github.com/gahpo/gahpo/models/command"
	"github.com/gahpo/gahpo/problemfile"
)

// FromFile returns the problem a problem file declares, trained by its
// command (models/command).
func FromFile(pf *problemfile.Problem) Problem {
	p := Problem{
		Name: pf.Name,
		Space: func() *ga.Space {
			s := *pf.Space
			s.Params = append([]ga.Param(nil), pf.Space.Params...)
			return &s
		},
		Digest:    pf.Digest,
		Trainer:   command.New(pf),
		Objective: pf.Objective.Metric,
		Maximize:  pf.Objective.Goal == problemfile.Maximize,
	}
	if len(pf.DataFiles) > 0 {
		files := append([]string(nil), pf.DataFiles...)
		p.DataFiles = func(string) ([]string, error) { return files, nil }
		p.NeedsData = true
	}
	if b := pf.Budget; b != nil {
		p.Budget = Budget{Min: b.Min, Max: b.Max}
	}
	if b := pf.FitnessBounds; b != nil {
		// The bounds are on the objective; the fitness of a goal to
		// maximise is its negation.
		lo, hi := math.Inf(-1), math.Inf(1)
		if b.Min != nil {
			lo = *b.Min
		}
		if b.Max != nil {
			hi = *b.Max
		}
		if pf.Objective.Goal == problemfile.Maximize {
			lo, hi = -hi, -lo
		}
		p.FitnessMin, p.FitnessMax = lo, hi
	}
	return p
}

// RegisterFile loads the problem file at path (refusing it with one line
// naming the faulty field) and registers its problem in Default. It is
// what --problem-file does on run, coordinator and worker. The same file
// (the same digest) registered again returns the problem registered; another
// file of the name is refused.
func RegisterFile(path string) (Problem, error) {
	pf, err := problemfile.Load(path)
	if err != nil {
		return Problem{}, err
	}
	if old, err := Lookup(pf.Name); err == nil && old.Digest != "" && old.Digest == pf.Digest {
		return old, nil // the same file, registered already (one process running two commands)
	}
	p := FromFile(pf)
	if err := Register(p); err != nil {
		return Problem{}, err
	}
	return p, nil
}

// Runnable tells whether this machine can start the training command of
// the registered problem name when a problem file declares it
// ([command.Runnable]): workers check it at start. A built-in problem
// always can.
func Runnable(name string) error {
	p, err := Lookup(name)
	if err != nil {
		return err
	}
	if t, ok := p.Trainer.(*command.Trainer); ok {
		return command.Runnable(t.Problem)
	}
	return nil
}
