package report

import (
	"testing"

	"github.com/gahpo/gahpo/store"
)

// WriteTestHistory writes a finished run into a history file for the external
// tests; it returns the store and the run id.
func WriteTestHistory(t *testing.T, problem string, pop, gens int) (*store.Store, string) {
	h := newHistory(t, problem, pop, gens, false)
	return h.st, h.run.ID
}
