// Package problems binds gahpo's trainable problems to the cluster: each
// problem has a name, a search space for the GA, the data files the
// coordinator distributes, and a trainer that workers run.
package problems

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"github.com/gahpo/gahpo"
	"github.com/gahpo/gahpo/ga"
	"github.com/gahpo/gahpo/models"
	"github.com/gahpo/gahpo/models/cnn"
	"github.com/gahpo/gahpo/models/mnist"
	"github.com/gahpo/gahpo/models/regression"
)

// Names of the problems.
const (
	CNN        = "cnn"
	Regression = "regression"
)

// ErrUnknown is returned for a problem name this build does not know.
var ErrUnknown = errors.New("problems: unknown problem")

// Names lists the known problems.
func Names() []string { return []string{CNN, Regression} }

// Space returns the GA search space of a problem.
func Space(name string) (*ga.Space, error) {
	switch name {
	case CNN:
		return CNNSpace(), nil
	case Regression:
		return regression.Space(), nil
	}
	return nil, fmt.Errorf("%w %q (known: %v)", ErrUnknown, name, Names())
}

// DataFiles lists the files of a problem's data set in dir (found in the Go
// module cache when dir is empty); they are what the coordinator puts in the
// object store for remote workers. Problems whose data is built in have none.
func DataFiles(name, dir string) ([]string, error) {
	switch name {
	case CNN:
		if dir == "" {
			d, err := mnist.FindDir()
			if err != nil {
				return nil, err
			}
			dir = d
		}
		paths := make([]string, len(mnist.Files))
		for i, f := range mnist.Files {
			paths[i] = filepath.Join(dir, f)
		}
		return paths, nil
	case Regression:
		return nil, nil
	}
	return nil, fmt.Errorf("%w %q", ErrUnknown, name)
}

// Trainer trains the genomes of every problem. Data sets are loaded once per
// directory and kept. It is safe for concurrent use.
type Trainer struct {
	mu    sync.Mutex
	mnist map[string]*mnistData
	reg   *regression.Data
}

type mnistData struct {
	once        sync.Once
	train, test *mnist.Set
	err         error
}

// NewTrainer returns a trainer with no data loaded yet. The CNN uses the
// fast GEMM (models/gemm) when the CPU has AVX-512 or AVX2 with FMA; with
// GAHPO_BLAS=gonum the first trainer of a process switches it, and
// gorgonia, to gonum's pure-Go BLAS.
func NewTrainer() *Trainer {
	blasOnce.Do(func() {
		if os.Getenv("GAHPO_BLAS") == "gonum" {
			cnn.UseGonum()
		}
	})
	return &Trainer{mnist: map[string]*mnistData{}}
}

var blasOnce sync.Once

func (t *Trainer) loadMNIST(dir string) (train, test *mnist.Set, err error) {
	t.mu.Lock()
	d := t.mnist[dir]
	if d == nil {
		d = &mnistData{}
		t.mnist[dir] = d
	}
	t.mu.Unlock()
	d.once.Do(func() { d.train, d.test, d.err = mnist.Load(dir) })
	return d.train, d.test, d.err
}

func (t *Trainer) loadRegression() (*regression.Data, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.reg == nil {
		d, err := regression.Load()
		if err != nil {
			return nil, err
		}
		t.reg = d
	}
	return t.reg, nil
}

// Check validates a task's params against its problem's space, so that an
// out-of-range genome is rejected before any training.
func Check(task gahpo.Task) error {
	space, err := Space(task.Problem)
	if err != nil {
		return err
	}
	genes, err := space.FromMap(task.Params)
	if err != nil {
		return fmt.Errorf("invalid genome: %w", err)
	}
	if err := space.Check(genes); err != nil {
		return fmt.Errorf("invalid genome: %w", err)
	}
	return nil
}

func cnnConfig(task gahpo.Task) cnn.Config {
	p := task.Params
	return cnn.Config{
		BatchSize:     int(math.Round(p["batch_size"])),
		LR:            p["lr"],
		Gamma:         p["gamma"],
		WeightDecay:   p["weight_decay"],
		Epochs:        task.Epochs,
		Seed:          task.Seed,
		FitnessOnTest: task.OnTest,
	}
}

// Fitness runs a fitness task; dataDir holds the problem's data files.
func (t *Trainer) Fitness(ctx context.Context, task gahpo.Task, dataDir string) (models.Eval, error) {
	if err := Check(task); err != nil {
		return models.Eval{}, untrainable(err)
	}
	switch task.Problem {
	case CNN:
		train, test, err := t.loadMNIST(dataDir)
		if err != nil {
			return models.Eval{}, err
		}
		splits, err := mnist.NewSplits(train, test, task.TrainSubset)
		if err != nil {
			return models.Eval{}, untrainable(err)
		}
		return cnn.Fitness(ctx, splits, cnnConfig(task))
	case Regression:
		d, err := t.loadRegression()
		if err != nil {
			return models.Eval{}, err
		}
		cfg, err := regression.ConfigFromParams(task.Params)
		if err != nil {
			return models.Eval{}, err
		}
		cfg.Seed, cfg.SplitSeed = task.Seed, task.DataSeed
		return regression.Fitness(ctx, d, cfg)
	}
	return models.Eval{}, fmt.Errorf("%w %q", ErrUnknown, task.Problem)
}

// untrainable marks err as the task's own fault: see models.ErrUntrainable.
// The model packages mark their own errors (cnn.ErrConfig, ...); this is
// for the checks made here.
func untrainable(err error) error { return fmt.Errorf("%w: %w", models.ErrUntrainable, err) }

// Final runs the full training of a genome.
func (t *Trainer) Final(ctx context.Context, task gahpo.Task, dataDir string, onEpoch func(models.EpochMetrics)) (models.FinalResult, error) {
	if err := Check(task); err != nil {
		return models.FinalResult{}, untrainable(err)
	}
	switch task.Problem {
	case CNN:
		train, test, err := t.loadMNIST(dataDir)
		if err != nil {
			return models.FinalResult{}, err
		}
		if n := task.TrainSubset; n > 0 && n < train.N {
			train = train.Slice(0, n)
		}
		return cnn.TrainFull(ctx, train, test, cnnConfig(task), onEpoch)
	case Regression:
		d, err := t.loadRegression()
		if err != nil {
			return models.FinalResult{}, err
		}
		cfg, err := regression.ConfigFromParams(task.Params)
		if err != nil {
			return models.FinalResult{}, err
		}
		cfg.Seed = task.Seed // the genome's own epochs: its full training is one longer fit on all the data
		return regression.TrainFull(ctx, d, cfg, onEpoch)
	}
	return models.FinalResult{}, fmt.Errorf("%w %q", ErrUnknown, task.Problem)
}

// NeedsData tells whether a problem's trainer reads data files.
func NeedsData(name string) bool { return slices.Contains([]string{CNN}, name) }
