package main

import (
	"errors"
	"fmt"

	"github.com/gahpo/gahpo/store"
)

// historyErr adds to an error about history file db what the user can do.
func historyErr(db string, err error) error {
	if errors.Is(err, store.ErrCorrupt) {
		return fmt.Errorf("%w\n%s is damaged; gahpo left it as it was: restore it from a backup, or give this command another --db", err, db)
	}
	return err
}
