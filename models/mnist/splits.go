package mnist

import (
	"fmt"
)

// ValidationSize is the number of images, at the end of the training file,
// that form the fixed validation set.
const ValidationSize = 6000

// Splits are the data sets of a search.
type Splits struct {
	// Train trains each genome during its fitness evaluation.
	Train *Set
	// Val measures the fitness: never trained on.
	Val *Set
	// Test is for the final training's report (and the paper's variant of
	// the fitness); never trained on during the search.
	Test *Set
}

// NewSplits splits the training file's images into a training set (all but
// the last [ValidationSize]: the first 54,000 of the real file) and the
// validation set (the last ValidationSize); Test is test. When
// 0 < trainSubset < that size, Train is only its first trainSubset images;
// trainSubset 0 means all of them. The sets share memory with train and test.
func NewSplits(train, test *Set, trainSubset int) (Splits, error) {
	if err := train.check(); err != nil {
		return Splits{}, fmt.Errorf("mnist: split training set: %w", err)
	}
	if err := test.check(); err != nil {
		return Splits{}, fmt.Errorf("mnist: split test set: %w", err)
	}
	if train.N <= ValidationSize {
		return Splits{}, fmt.Errorf("mnist: %d training images leave none after the %d of the validation set", train.N, ValidationSize)
	}
	if trainSubset < 0 {
		return Splits{}, fmt.Errorf("mnist: training subset %d is negative", trainSubset)
	}
	n := train.N - ValidationSize
	sub := n
	if trainSubset > 0 && trainSubset < n {
		sub = trainSubset
	}
	return Splits{
		Train: train.Slice(0, sub),
		Val:   train.Slice(n, train.N),
		Test:  test,
	}, nil
}
