package models

import (
	"errors"
	"time"
)

// ErrUntrainable marks a training error that the task itself causes
// (parameters the model cannot train with): every worker would fail the
// same way, so a worker records it as the genome's failure at once. Any
// other error of a trainer is taken for the worker's own (data, memory,
// I/O, a problem it does not know) and the task is tried again, on this or
// another worker, up to its maximum number of attempts.
var ErrUntrainable = errors.New("models: cannot train this genome")

// ErrCannotRunHere marks a training error of the worker's own setup that
// no attempt on this worker gets past (its copy of a problem file names a
// program or a directory it lacks): the worker hands the task back
// without counting an attempt, for the workers that can train it.
var ErrCannotRunHere = errors.New("models: this worker cannot run the training")

// CannotRunHere returns err marked as ErrCannotRunHere (errors.Is), with
// err's message.
func CannotRunHere(err error) error { return &cannotRunError{err} }

type cannotRunError struct{ err error }

func (e *cannotRunError) Error() string { return e.err.Error() }

func (e *cannotRunError) Unwrap() error { return e.err }

func (e *cannotRunError) Is(target error) bool { return target == ErrCannotRunHere }

// NewUntrainable returns a sentinel error with message msg that is also
// ErrUntrainable (errors.Is): for a model package's own errors that the
// genome causes, so that the mark is made where the error is defined.
func NewUntrainable(msg string) error { return &untrainableError{msg} }

type untrainableError struct{ msg string }

func (e *untrainableError) Error() string { return e.msg }

func (e *untrainableError) Is(target error) bool { return target == ErrUntrainable }

// Eval is the outcome of one fitness evaluation (a short training followed by
// a loss on held-out data). Lower Loss is better.
type Eval struct {
	// Loss is the fitness: mean loss on the held-out data. +Inf when the
	// training diverged.
	Loss float64 `json:"loss"`
	// Accuracy is the held-out accuracy in [0, 1], when the problem has one.
	Accuracy float64 `json:"accuracy,omitempty"`
	// Images is the number of training examples processed.
	Images int `json:"images,omitempty"`
	// ImagesPerSec is the training throughput (examples per second).
	ImagesPerSec float64 `json:"images_per_sec,omitempty"`
	// Duration is the wall time of the whole evaluation.
	Duration time.Duration `json:"duration"`
	// Diverged, when not empty, says why the training was stopped as
	// diverged (a NaN or infinite loss); Loss is then +Inf.
	Diverged string `json:"diverged,omitempty"`
}

// EpochMetrics records one epoch of a full training.
type EpochMetrics struct {
	Epoch        int           `json:"epoch"` // 1-based
	LR           float64       `json:"lr"`    // learning rate used during the epoch
	TrainLoss    float64       `json:"train_loss"`
	TestLoss     float64       `json:"test_loss"`
	TestAccuracy float64       `json:"test_accuracy,omitempty"` // in [0, 1]
	Duration     time.Duration `json:"duration"`
}

// FinalResult is the outcome of the full training of one genome.
type FinalResult struct {
	Epochs       []EpochMetrics `json:"epochs"`
	TestLoss     float64        `json:"test_loss"`
	TestAccuracy float64        `json:"test_accuracy,omitempty"`
	Duration     time.Duration  `json:"duration"`
	// Weights is the trained model, serialised by the problem's own format;
	// the problem's package loads it back for evaluation.
	Weights []byte `json:"-"`
}
