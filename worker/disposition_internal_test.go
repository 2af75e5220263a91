package worker

import (
	"errors"
	"fmt"
	"testing"

	"github.com/gahpo/gahpo"
	"github.com/gahpo/gahpo/bus"
	"github.com/gahpo/gahpo/models"
)

func TestAfterData(t *testing.T) {
	cannot := fmt.Errorf("%w: the data file x is not here", models.ErrCannotRunHere)
	gone := fmt.Errorf("worker: data set: %w", &dataGoneError{ref: gahpo.DataRef{Bucket: "b", Name: "train.csv"}, err: errors.New("not found")})
	down := errors.New("worker: data set: nats: timeout")
	for _, c := range []struct {
		name         string
		err          error
		stopping     bool
		attempt, max int
		want         disposition
	}{
		{"not here: others can", cannot, false, 1, 3, refuse},
		{"not here, stopping: still refused", cannot, true, 1, 3, refuse},
		{"stopping", down, true, 3, 3, handBack},
		{"unreachable: later", down, false, 1, 3, retry},
		{"unreachable at the last attempt: later still", down, false, 3, 3, retry},
		{"gone, attempts left", gone, false, 2, 3, retry},
		{"gone at the last attempt: the genome fails", gone, false, 3, 3, fail},
		{"gone past the last attempt", gone, false, 4, 3, fail},
		{"gone, unbounded attempts", gone, false, 50, 0, retry},
		{"gone, stopping", gone, true, 3, 3, handBack},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := afterData(c.err, c.stopping, c.attempt, c.max); got != c.want {
				t.Errorf("afterData(%v, stopping %v, attempt %d of %d) = %v, want %v", c.err, c.stopping, c.attempt, c.max, got, c.want)
			}
		})
	}
}

func TestAfterTraining(t *testing.T) {
	crash := errors.New("command: exit status 1")
	untrainable := fmt.Errorf("cnn: %w: batch size 0", models.ErrUntrainable)
	panicked := fmt.Errorf("%w: index out of range", errPanicked)
	badArchive := fmt.Errorf("worker: checkpoint: %w", bus.ErrBadArchive)
	cannot := fmt.Errorf("%w: no GPU", models.ErrCannotRunHere)
	cache := fmt.Errorf("%w: data file removed", errCacheChanged)
	for _, c := range []struct {
		name         string
		err          error
		stopping     bool
		attempt, max int
		want         disposition
	}{
		{"crash, attempts left", crash, false, 1, 3, retry},
		{"crash at the last attempt", crash, false, 3, 3, fail},
		{"crash, unbounded attempts: fails at once", crash, false, 1, 0, fail},
		{"the genome's own fault", untrainable, false, 1, 3, fail},
		{"a panic", panicked, false, 1, 3, fail},
		{"a refused checkpoint", badArchive, false, 1, 3, fail},
		{"stopping beats everything", untrainable, true, 1, 3, handBack},
		{"stopping, cannot run here", cannot, true, 1, 3, handBack},
		{"cannot run here", cannot, false, 3, 3, refuse},
		{"cannot run here, attempts left: refused, not retried", cannot, false, 1, 3, refuse},
		{"the cache changed: uncounted", cache, false, 3, 3, handBackLater},
		{"the cache changed, attempts left: uncounted, not retried", cache, false, 1, 3, handBackLater},
		{"the cache changed, stopping: at once", cache, true, 1, 3, handBack},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := afterTraining(c.err, c.stopping, c.attempt, c.max); got != c.want {
				t.Errorf("afterTraining(%v, stopping %v, attempt %d of %d) = %v, want %v", c.err, c.stopping, c.attempt, c.max, got, c.want)
			}
		})
	}
}
