package problems

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"

	"github.com/gahpo/gahpo"
	"github.com/gahpo/gahpo/ga"
	"github.com/gahpo/gahpo/models"
)

// Errors of the registry.
var (
	// ErrUnknown is returned (wrapped) for a problem name that was not
	// registered: the worker was not given that problem (another may
	// have it), so it is not the genome's fault.
	ErrUnknown = errors.New("problems: unknown problem")
	// ErrDuplicate is returned by Register for a name already taken.
	ErrDuplicate = errors.New("problems: problem already registered")
	// ErrDigest is returned by Accept for a task whose problem file has
	// another digest than the one this process was given.
	ErrDigest = errors.New("problems: task for another version of the problem file")
)

// JobTrainer trains one job of a problem: the worker's one-method
// interface.
type JobTrainer interface {
	Train(ctx context.Context, job models.Job) (models.Outcome, error)
}

// Budget is the range of epochs a genome of a problem may be trained for;
// a multi-fidelity search trains its rungs from Min up to Max. The zero
// Budget means the problem has none (one training per genome).
type Budget struct {
	Min, Max int
}

// Problem is a trainable problem: what the coordinator needs to search it
// and what the workers need to train it.
type Problem struct {
	// Name identifies the problem in tasks and in the history.
	Name string
	// Space returns a new search space for a run (the caller may adjust
	// its operators).
	Space func() *ga.Space
	// DataFiles lists the data set's files, found in dir ("" lets the
	// problem look in its usual place); nil: the problem has none.
	DataFiles func(dir string) ([]string, error)
	// NeedsData tells that workers cannot train without the data files.
	NeedsData bool
	// Budget is the problem's range of epochs.
	Budget Budget
	// BudgetGene names the gene of Space that is the problem's epochs
	// (the regression's "epochs"), if it has one: a multi-fidelity run,
	// whose rungs decide the epochs, leaves it out of its space
	// (gahpo.RunConfig.BudgetGene), and its tasks carry the epochs alone.
	BudgetGene string
	// Digest is the SHA-256 of the problem file the problem was read
	// from; "" for a problem built into gahpo.
	Digest string
	// Objective names a problem file's metric and Maximize says that its
	// goal is the highest (the fitness is its negation); empty for a
	// built-in problem, whose fitness is its loss.
	Objective string
	Maximize  bool
	// Trainer trains its jobs.
	Trainer JobTrainer
	// FitnessMin and FitnessMax bound the fitness (what the search
	// minimises) the problem can produce: the coordinator fails a genome
	// whose result lies outside, so a forged or broken result cannot win.
	// Both 0: no bounds.
	FitnessMin, FitnessMax float64
}

// Validate reports what a Problem lacks.
func (p Problem) Validate() error {
	switch {
	case p.Name == "":
		return errors.New("problems: a problem without a name")
	case p.Space == nil:
		return fmt.Errorf("problems: problem %q has no space", p.Name)
	case p.Trainer == nil:
		return fmt.Errorf("problems: problem %q has no trainer", p.Name)
	case p.Budget != Budget{} && (p.Budget.Min < 1 || p.Budget.Max < p.Budget.Min):
		return fmt.Errorf("problems: problem %q: budget [%d, %d] epochs", p.Name, p.Budget.Min, p.Budget.Max)
	case p.BudgetGene != "" && p.Budget == Budget{}:
		return fmt.Errorf("problems: problem %q: budget gene %q without a budget of epochs", p.Name, p.BudgetGene)
	case p.BudgetGene != "":
		if _, err := p.Space().Without(p.BudgetGene); err != nil {
			return fmt.Errorf("problems: problem %q: budget gene: %w", p.Name, err)
		}
	}
	return nil
}

// SpaceFor returns the search space of a run of p with configuration rc:
// the problem's, without rc.BudgetGene when the run names one.
func (p Problem) SpaceFor(rc gahpo.RunConfig) (*ga.Space, error) {
	s := p.Space()
	if rc.BudgetGene == "" {
		return s, nil
	}
	if rc.BudgetGene != p.BudgetGene {
		return nil, fmt.Errorf("problems: problem %q: the run leaves out gene %q, the problem's budget gene is %q", p.Name, rc.BudgetGene, p.BudgetGene)
	}
	return s.Without(rc.BudgetGene)
}

// Registry holds problems by name. It is safe for concurrent use.
type Registry struct {
	mu    sync.RWMutex
	order []string
	byKey map[string]Problem
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{byKey: map[string]Problem{}} }

// Default holds the built-in problems (cnn, cnn-shift, regression) and those the
// command line registers from problem files.
var Default = NewRegistry()

// Register adds p; the name must be new.
func (r *Registry) Register(p Problem) error {
	if err := p.Validate(); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if old, ok := r.byKey[p.Name]; ok {
		what := "built into gahpo"
		if old.Digest != "" {
			what = "from a problem file"
		}
		return fmt.Errorf("%w: %q (%s)", ErrDuplicate, p.Name, what)
	}
	r.byKey[p.Name] = p
	r.order = append(r.order, p.Name)
	return nil
}

// Lookup returns the problem named name.
func (r *Registry) Lookup(name string) (Problem, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	p, ok := r.byKey[name]
	if !ok {
		err := fmt.Errorf("%w %q (known: %v)", ErrUnknown, name, r.order)
		if ext := strings.ToLower(filepath.Ext(name)); ext == ".yaml" || ext == ".yml" || ext == ".json" {
			err = fmt.Errorf("%w: a problem file is given with --problem-file", err)
		}
		return Problem{}, err
	}
	return p, nil
}

// Names lists the registered problems in the order of registration.
func (r *Registry) Names() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return append([]string(nil), r.order...)
}

// Accept tells whether this process may train task: its problem is
// registered and, for a problem file, the task's digest is the file's. An
// error is the worker's lack (ErrUnknown, ErrDigest), never the genome's:
// another worker may hold the problem.
func (r *Registry) Accept(task gahpo.Task) error {
	p, err := r.Lookup(task.Problem)
	if err != nil {
		return err
	}
	if task.ProblemDigest != p.Digest {
		return fmt.Errorf("%w: %q: the task's digest is %.12s, this worker's file has %.12s", ErrDigest, p.Name, orNone(task.ProblemDigest), orNone(p.Digest))
	}
	return nil
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// Check validates a task's params against its problem's space, so that an
// out-of-range genome is rejected before any training; the error wraps
// models.ErrUntrainable. A problem that is not registered is not checked
// here (Accept refuses it).
func (r *Registry) Check(task gahpo.Task) error {
	p, err := r.Lookup(task.Problem)
	if err != nil {
		return nil
	}
	return checkGenome(p.Space(), p.BudgetGene, task)
}

// checkGenome validates task's params (and, under population based
// training, the params its checkpoint comes from) against space. A task
// that trains to a rung (Epochs > 0) may leave out budgetGene: its run's
// rungs decide the epochs.
func checkGenome(space *ga.Space, budgetGene string, task gahpo.Task) error {
	check := func(params map[string]float64) error {
		s := space
		if _, has := params[budgetGene]; budgetGene != "" && !has && task.Epochs > 0 {
			var err error
			if s, err = space.Without(budgetGene); err != nil {
				return err
			}
		}
		genes, err := s.FromMap(params)
		if err == nil {
			err = s.Check(genes)
		}
		return err
	}
	if err := check(task.Params); err != nil {
		return untrainable(fmt.Errorf("invalid genome: %w", err))
	}
	if task.FromParams != nil {
		if err := check(task.FromParams); err != nil {
			return untrainable(fmt.Errorf("invalid genome: the genome the checkpoint comes from: %w", err))
		}
	}
	return nil
}

// Train trains job with the trainer of the task's problem.
func (r *Registry) Train(ctx context.Context, job models.Job) (models.Outcome, error) {
	p, err := r.Lookup(job.Task.Problem)
	if err != nil {
		return models.Outcome{}, err
	}
	return p.Trainer.Train(ctx, job)
}

// Register adds p to Default.
func Register(p Problem) error { return Default.Register(p) }

// Lookup returns the problem of Default named name.
func Lookup(name string) (Problem, error) { return Default.Lookup(name) }

// Accept is Default.Accept: the worker's Config.Accept.
func Accept(task gahpo.Task) error { return Default.Accept(task) }

// untrainable marks err as the task's own fault: see models.ErrUntrainable.
func untrainable(err error) error { return fmt.Errorf("%w: %w", models.ErrUntrainable, err) }
