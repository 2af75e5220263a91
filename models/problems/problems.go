// Package problems binds gahpo's trainable problems to the cluster: each
// problem has a name, a search space for the GA, the data files the
// coordinator distributes, a budget of epochs, and a trainer that workers
// run. Problems live in a [Registry]: the built-in cnn and regression
// register at init, problem files through [RegisterFile].
package problems

import (
	"context"

	"github.com/gahpo/gahpo"
	"github.com/gahpo/gahpo/ga"
	"github.com/gahpo/gahpo/models"
)

// Names lists the registered problems of Default.
func Names() []string { return Default.Names() }

// Space returns a new GA search space of a problem of Default.
func Space(name string) (*ga.Space, error) {
	p, err := Lookup(name)
	if err != nil {
		return nil, err
	}
	return p.Space(), nil
}

// DataFiles lists the files of a problem's data set in dir (for the CNN,
// found in the Go module cache when dir is empty; a problem file lists its
// own); they are what the coordinator puts in the object store for remote
// workers. Problems whose data is built in have none.
func DataFiles(name, dir string) ([]string, error) {
	p, err := Lookup(name)
	if err != nil {
		return nil, err
	}
	if p.DataFiles == nil {
		return nil, nil
	}
	return p.DataFiles(dir)
}

// NeedsData tells whether a problem's trainer reads data files.
func NeedsData(name string) bool {
	p, err := Lookup(name)
	return err == nil && p.NeedsData
}

// Check validates a task's params against its problem's space (Default),
// so that an out-of-range genome is rejected before any training.
func Check(task gahpo.Task) error { return Default.Check(task) }

// Trainer trains the genomes of every problem of a registry; it
// implements the worker's one-method interface (Train) and the older
// Fitness and Final. It is safe for concurrent use.
type Trainer struct {
	reg *Registry
}

// NewTrainer returns a trainer of Default's problems. The CNN uses the
// fast GEMM (models/gemm) when the CPU has AVX-512 or AVX2 with FMA; with
// GAHPO_BLAS=gonum the first trainer of a process switches it, and
// gorgonia, to gonum's pure-Go BLAS.
func NewTrainer() *Trainer {
	useGonumIfAsked()
	return &Trainer{reg: Default}
}

// Train trains job with its problem's trainer. A problem that is not
// registered gives ErrUnknown, which is not the genome's fault.
func (t *Trainer) Train(ctx context.Context, job models.Job) (models.Outcome, error) {
	return t.reg.Train(ctx, job)
}

// Fitness runs a fitness task; dataDir holds the problem's data files.
//
// Deprecated: use Train.
func (t *Trainer) Fitness(ctx context.Context, task gahpo.Task, dataDir string) (models.Eval, error) {
	out, err := t.Train(ctx, models.Job{Task: task, DataDir: dataDir})
	if err != nil {
		return models.Eval{}, err
	}
	ev := models.Eval{Loss: out.Fitness, Accuracy: out.Accuracy, ImagesPerSec: out.ImagesPerSec, Diverged: out.Diverged}
	for _, rep := range out.Curve {
		ev.Duration += rep.Duration
	}
	return ev, nil
}

// Final runs the full training of a genome.
//
// Deprecated: use Train with a final task.
func (t *Trainer) Final(ctx context.Context, task gahpo.Task, dataDir string, onEpoch func(models.EpochMetrics)) (models.FinalResult, error) {
	job := models.Job{Task: task, DataDir: dataDir}
	if onEpoch != nil {
		job.OnEpoch = func(rep gahpo.EpochReport) { onEpoch(epochMetrics(rep)) }
	}
	out, err := t.Train(ctx, job)
	if err != nil {
		return models.FinalResult{}, err
	}
	return finalResult(out), nil
}
