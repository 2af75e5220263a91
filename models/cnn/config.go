package cnn

import (
	"errors"
	"fmt"
	"math"

	"gonum.org/v1/gonum/blas/gonum"
	G "gorgonia.org/gorgonia"

	"github.com/gahpo/gahpo/models"
	"github.com/gahpo/gahpo/models/gemm"
	"github.com/gahpo/gahpo/models/mnist"
)

// Defaults and fixed hyperparameters of the paper's training.
const (
	// DefaultEpochs is the number of epochs of a full training when
	// Config.Epochs is 0.
	DefaultEpochs = 14
	// Rho is Adadelta's decay of its running averages.
	Rho = 0.9
	// Eps is Adadelta's term added under the square roots.
	Eps = 1e-6
	// MaxBatchSize is the largest batch Config accepts: the whole training file.
	MaxBatchSize = 60000
	// MaxShift is the largest Config.Shift, in pixels: beyond it most of a
	// 28×28 digit could leave its image.
	MaxShift = 8
)

var (
	// ErrConfig is returned (wrapped) by Config.Validate and by every
	// function given an invalid Config. It is models.ErrUntrainable.
	ErrConfig = models.NewUntrainable("cnn: invalid config")
	// ErrDiverged is returned (wrapped, with the reason) when a training or
	// an evaluation meets a NaN or infinite loss, activation or weight.
	// Fitness reports it as an infinite loss instead of an error. It is
	// models.ErrUntrainable.
	ErrDiverged = models.NewUntrainable("cnn: diverged")
	// ErrWeights is returned (wrapped) when serialised weights cannot be
	// loaded: wrong format, version, shapes, length or checksum.
	ErrWeights = errors.New("cnn: bad weights")
	// ErrPanic is returned (wrapped, with the panic's value) when gorgonia
	// panicked in the calling goroutine.
	ErrPanic = errors.New("cnn: panic in training")
)

// Config is one genome of the search plus the seed that makes its training
// reproducible. Its zero value is not valid: BatchSize and LR must be set.
type Config struct {
	// BatchSize is the number of images per optimiser step, 1 to 60,000.
	// Batches above 128 images are computed in chunks whose gradients
	// add up, with the same result.
	BatchSize int
	// LR is Adadelta's learning rate (> 0).
	LR float64
	// Gamma is the StepLR factor applied to the learning rate after each
	// epoch, in [0, 1]. A one-epoch fitness never uses it.
	Gamma float64
	// WeightDecay is Adadelta's L2 penalty (>= 0), added to the gradient.
	WeightDecay float64
	// Shift moves each training image, each epoch, by a random whole
	// number of pixels from -Shift to Shift along each axis (data
	// augmentation: random translation), the background filling what
	// comes in; 0, the paper's training, moves none. Evaluations never
	// move their images.
	Shift int
	// Epochs is the number of epochs of a full training; 0 means
	// DefaultEpochs. Fitness always trains one epoch.
	Epochs int
	// Seed determines the initial weights, the shuffling and the dropout
	// masks: the same Config gives the same result on the same machine.
	Seed uint64
	// FitnessOnTest makes Fitness measure the loss on the test set, the
	// paper's choice, instead of the validation set.
	FitnessOnTest bool
}

// Validate reports a Config that cannot train: batch size outside 1 to
// 60,000, LR not positive and finite, Gamma outside [0, 1], a negative or
// non-finite WeightDecay, negative Epochs.
func (c Config) Validate() error {
	switch {
	case c.BatchSize < 1 || c.BatchSize > MaxBatchSize:
		return fmt.Errorf("%w: batch size %d outside 1..%d", ErrConfig, c.BatchSize, MaxBatchSize)
	case !(c.LR > 0) || math.IsInf(c.LR, 0):
		return fmt.Errorf("%w: learning rate %v is not positive and finite", ErrConfig, c.LR)
	case !(c.Gamma >= 0 && c.Gamma <= 1):
		return fmt.Errorf("%w: gamma %v outside [0, 1]", ErrConfig, c.Gamma)
	case !(c.WeightDecay >= 0) || math.IsInf(c.WeightDecay, 0):
		return fmt.Errorf("%w: weight decay %v is not non-negative and finite", ErrConfig, c.WeightDecay)
	case c.Shift < 0 || c.Shift > MaxShift:
		return fmt.Errorf("%w: shift %d pixels outside 0..%d", ErrConfig, c.Shift, MaxShift)
	case c.Epochs < 0:
		return fmt.Errorf("%w: %d epochs", ErrConfig, c.Epochs)
	}
	return nil
}

// epochs returns the number of epochs of a full training.
func (c Config) epochs() int {
	if c.Epochs == 0 {
		return DefaultEpochs
	}
	return c.Epochs
}

// UseBLAS makes gorgonia (and its tensors) use b for matrix products, in
// every graph of the process; call it once at startup, before any training.
// The default, set when the package loads, is models/gemm's fast Sgemm when
// the CPU has AVX-512 or AVX2 with FMA, else gonum's pure-Go BLAS. (The
// convolutions call models/gemm directly, whatever UseBLAS installed;
// gemm.SetKernel(gemm.KernelGonum) makes them use gonum's too.)
func UseBLAS(b G.BLAS) { G.Use(b) }

// UseGonum makes every matrix product of the CNN, gorgonia's and the
// convolutions', use gonum's pure-Go BLAS (for comparisons, or with
// GAHPO_BLAS=gonum), and returns a function that restores the previous
// choice. Like UseBLAS, it acts on the whole process.
func UseGonum() (restore func()) {
	oldBLAS, oldKernel := G.WhichBLAS(), gemm.Kernel()
	_ = gemm.SetKernel(gemm.KernelGonum) // always available
	UseBLAS(gonum.Implementation{})
	return func() {
		UseBLAS(oldBLAS)
		_ = gemm.SetKernel(oldKernel) // available: it was in use
	}
}

func init() {
	if gemm.Kernel() != gemm.KernelGonum {
		UseBLAS(gemm.Implementation{})
	}
}

// checkSet reports a data set unfit for training or evaluation.
func checkSet(name string, s *mnist.Set) error {
	switch {
	case s == nil:
		return fmt.Errorf("cnn: no %s set", name)
	case s.N < 1:
		return fmt.Errorf("cnn: empty %s set", name)
	case len(s.Pixels) != s.N*mnist.Pixels || len(s.Labels) != s.N:
		return fmt.Errorf("cnn: %s set of %d images has %d pixels and %d labels", name, s.N, len(s.Pixels), len(s.Labels))
	}
	return nil
}
