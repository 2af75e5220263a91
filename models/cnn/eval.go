package cnn

import (
	"context"
	"fmt"
	"math"

	"github.com/gahpo/gahpo/models/mnist"
)

// EvalBatch is the number of images an evaluation computes at once; it
// divides the validation and test sets.
const EvalBatch = 100

// evaluator measures weights on a data set, without dropout.
type evaluator struct {
	net *net
	idx []int
}

// newEvaluator compiles the evaluation graph around p; it sees every later
// change of p's tensors.
func newEvaluator(p params) (*evaluator, error) {
	n, err := newNet(p, EvalBatch, false)
	if err != nil {
		return nil, err
	}
	return &evaluator{net: n, idx: make([]int, 0, EvalBatch)}, nil
}

// evaluate returns the mean negative log-likelihood and the accuracy of the
// network on s. A non-finite loss is ErrDiverged; ctx is checked between
// batches.
func (e *evaluator) evaluate(ctx context.Context, s *mnist.Set) (loss, accuracy float64, err error) {
	var nll float64
	var correct int
	for start := 0; start < s.N; start += e.net.batch {
		if err := ctx.Err(); err != nil {
			return 0, 0, fmt.Errorf("evaluation stopped: %w", err)
		}
		e.idx = e.idx[:0]
		for i := start; i < min(start+e.net.batch, s.N); i++ {
			e.idx = append(e.idx, i)
		}
		e.net.setImages(s, e.idx)
		if err := e.net.run(); err != nil {
			return 0, 0, err
		}
		l, c, err := e.net.scoreRows(s, e.idx)
		if err != nil {
			return 0, 0, err
		}
		nll += l
		correct += c
	}
	loss, accuracy = nll/float64(s.N), float64(correct)/float64(s.N)
	if math.IsNaN(loss) || math.IsInf(loss, 0) {
		return math.Inf(1), accuracy, fmt.Errorf("%w: loss %v on %d images", ErrDiverged, loss, s.N)
	}
	return loss, accuracy, nil
}

// Evaluate loads weights serialised by TrainFull and returns their mean
// negative log-likelihood and accuracy on s. Weights that give a NaN or an
// infinite loss return ErrDiverged.
func Evaluate(ctx context.Context, weights []byte, s *mnist.Set) (loss, accuracy float64, err error) {
	defer recoverPanic(&err)
	if err := checkSet("evaluation", s); err != nil {
		return 0, 0, err
	}
	p, err := unmarshalParams(weights)
	if err != nil {
		return 0, 0, err
	}
	e, err := newEvaluator(p)
	if err != nil {
		return 0, 0, err
	}
	return e.evaluate(ctx, s)
}
