package worker

import (
	"errors"

	"github.com/gahpo/gahpo/models"
)

// disposition is what becomes of a delivery whose data fetch or training
// did not end in a result: the decision of handle, apart from its I/O.
type disposition int

const (
	// fail publishes the error as the genome's failure (an attempt
	// counted, the cause on record), then acknowledges the task.
	fail disposition = iota
	// handBack gives the task back at once, uncounted: this worker is
	// stopping.
	handBack
	// handBackLater gives it back uncounted after Config.RetryDelay: the
	// worker's own trouble (its cache changed under the training).
	handBackLater
	// refuse hands it to the workers that can run it: this worker cannot
	// (models.ErrCannotRunHere).
	refuse
	// retry naks it for another attempt, counted by the delivery: the
	// data set is unavailable for now (after Config.DataRetryDelay), or
	// the training failed in a way another attempt may not (after
	// Config.RetryDelay).
	retry
)

func (d disposition) String() string {
	switch d {
	case fail:
		return "fail"
	case handBack:
		return "hand back"
	case handBackLater:
		return "hand back later"
	case refuse:
		return "refuse"
	case retry:
		return "retry"
	}
	return "disposition(?)"
}

// afterData decides on a task whose data set could not be fetched (err,
// not nil). stopping tells that the worker's context ended; attempt is
// the delivery's, maxAttempts the task's (0: unbounded). A data set that
// is gone fails the genome only at its last attempt, where the next would
// fail it as "every worker that took it died or lost it": the cause on
// record is then the missing data.
func afterData(err error, stopping bool, attempt, maxAttempts int) disposition {
	var gone *dataGoneError
	switch {
	case errors.Is(err, models.ErrCannotRunHere):
		return refuse
	case stopping:
		return handBack
	case errors.As(err, &gone) && maxAttempts > 0 && attempt >= maxAttempts:
		return fail
	}
	return retry
}

// afterTraining decides on a training that ended in err (not nil), with
// afterData's arguments. A training is retried while attempts remain,
// unless its error would recur on every worker (retryable).
func afterTraining(err error, stopping bool, attempt, maxAttempts int) disposition {
	switch {
	case stopping:
		return handBack
	case errors.Is(err, models.ErrCannotRunHere):
		// This worker's setup, not the genome: an attempt here would
		// count against a genome that others can train.
		return refuse
	case errors.Is(err, errCacheChanged):
		return handBackLater
	case retryable(err) && maxAttempts > 0 && attempt < maxAttempts:
		return retry
	}
	return fail
}
