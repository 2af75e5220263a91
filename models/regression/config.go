package regression

import (
	"fmt"
	"math"
	"slices"
	"strings"
)

// Names of the hyperparameters in the search space and in the map that
// ConfigFromParams reads.
const (
	ParamLR        = "lr"
	ParamBatchSize = "batch_size"
	ParamEpochs    = "epochs"
)

// Defaults used for the zero value of each Config field.
const (
	DefaultLR        = 0.02
	DefaultBatchSize = 8
	DefaultEpochs    = 100
	DefaultFolds     = 10
)

// MaxEpochs bounds Config.Epochs, so that a bad genome cannot hold a worker
// for hours.
const MaxEpochs = 100_000

// Config holds the hyperparameters of one training. The zero value of every
// field means its documented default.
type Config struct {
	// LR is the SGD learning rate; 0 means DefaultLR. Must be finite and
	// not negative.
	LR float64
	// BatchSize is the number of examples per SGD step; 0 means
	// DefaultBatchSize. A batch size above the training set size uses the
	// whole set as one batch. The last batch of an epoch may be smaller.
	BatchSize int
	// Epochs is the number of passes over the training data; 0 means
	// DefaultEpochs. At most MaxEpochs.
	Epochs int
	// Folds is k of the k-fold cross-validation in Fitness; 0 means
	// DefaultFolds (10). At least 2. TrainFull ignores it.
	Folds int
	// Seed drives the weight initialisation, the per-epoch shuffles and,
	// unless SplitSeed is set, the fold split: the same Config on the same
	// Data gives the same result. 0 is a valid seed.
	Seed uint64
	// SplitSeed, when not 0, drives the fold split instead of Seed, so that
	// the genomes of one search, each trained from its own Seed, are scored
	// on the same folds.
	SplitSeed uint64
}

// withDefaults returns c with every zero field set to its default.
func (c Config) withDefaults() Config {
	if c.LR == 0 {
		c.LR = DefaultLR
	}
	if c.BatchSize == 0 {
		c.BatchSize = DefaultBatchSize
	}
	if c.Epochs == 0 {
		c.Epochs = DefaultEpochs
	}
	if c.Folds == 0 {
		c.Folds = DefaultFolds
	}
	return c
}

// Validate reports, wrapping ErrInvalidConfig, the first field out of range.
func (c Config) Validate() error {
	switch {
	case math.IsNaN(c.LR) || math.IsInf(c.LR, 0) || c.LR < 0:
		return fmt.Errorf("%w: lr %v must be finite and not negative", ErrInvalidConfig, c.LR)
	case c.BatchSize < 0:
		return fmt.Errorf("%w: batch size %d is negative", ErrInvalidConfig, c.BatchSize)
	case c.Epochs < 0 || c.Epochs > MaxEpochs:
		return fmt.Errorf("%w: epochs %d not in [1, %d]", ErrInvalidConfig, c.Epochs, MaxEpochs)
	case c.Folds < 0 || c.Folds == 1:
		return fmt.Errorf("%w: folds %d must be at least 2", ErrInvalidConfig, c.Folds)
	}
	return nil
}

// ConfigFromParams builds a Config from the values of the search space's
// parameters (ParamLR, ParamBatchSize, ParamEpochs), as (*ga.Space).ToMap
// returns them. The integer parameters are rounded to the nearest integer.
// Folds and Seed are left zero for the caller to set. A missing or unknown
// name, or a value out of range, gives an error wrapping ErrInvalidConfig.
func ConfigFromParams(p map[string]float64) (Config, error) {
	known := []string{ParamLR, ParamBatchSize, ParamEpochs}
	var unknown []string
	for name := range p {
		if !slices.Contains(known, name) {
			unknown = append(unknown, name)
		}
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		return Config{}, fmt.Errorf("%w: unknown parameter(s) %s", ErrInvalidConfig, strings.Join(unknown, ", "))
	}
	for _, name := range known {
		v, ok := p[name]
		if !ok {
			return Config{}, fmt.Errorf("%w: missing parameter %q", ErrInvalidConfig, name)
		}
		if math.IsNaN(v) || math.IsInf(v, 0) || v <= 0 {
			return Config{}, fmt.Errorf("%w: parameter %q = %v must be finite and positive", ErrInvalidConfig, name, v)
		}
	}
	// Bound before converting, so a huge float cannot wrap around in int.
	if e := p[ParamEpochs]; e > MaxEpochs {
		return Config{}, fmt.Errorf("%w: parameter %q = %v above %d", ErrInvalidConfig, ParamEpochs, e, MaxEpochs)
	}
	c := Config{
		LR:        p[ParamLR],
		BatchSize: int(math.Round(math.Min(p[ParamBatchSize], math.MaxInt32))),
		Epochs:    int(math.Round(p[ParamEpochs])),
	}
	if c.BatchSize < 1 || c.Epochs < 1 {
		return Config{}, fmt.Errorf("%w: %s %v and %s %v must round to at least 1", ErrInvalidConfig,
			ParamBatchSize, p[ParamBatchSize], ParamEpochs, p[ParamEpochs])
	}
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}
