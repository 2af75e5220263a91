package regression

import (
	"errors"

	"github.com/gahpo/gahpo/models"
)

var (
	// ErrMalformedCSV is returned (wrapped, with the line number) by ReadCSV
	// when the input lacks the "x,y" header, has a row without exactly two
	// fields, a field that is not a finite number, or no data rows.
	ErrMalformedCSV = errors.New("regression: malformed CSV")

	// ErrInvalidConfig is returned (wrapped) by Config.Validate and
	// ConfigFromParams when a hyperparameter is missing, unknown or out of
	// range. It is models.ErrUntrainable.
	ErrInvalidConfig = models.NewUntrainable("regression: invalid config")

	// ErrInvalidData is returned (wrapped) by Fitness and TrainFull when the
	// data are nil, x and y differ in length, a set is empty, or there are
	// fewer training rows than folds.
	ErrInvalidData = errors.New("regression: invalid data")

	// ErrDiverged is returned (wrapped) by TrainFull when the training loss
	// became NaN or infinite. Fitness does not return it: it reports the
	// divergence in models.Eval instead. It is models.ErrUntrainable.
	ErrDiverged = models.NewUntrainable("regression: training diverged")

	// ErrBadWeights is returned (wrapped) by Predict when the weights are not
	// in the format TrainFull writes (wrong magic, version or length).
	ErrBadWeights = errors.New("regression: bad weights")
)
