package main

import (
	"os"

	"golang.org/x/term"
)

// isTerminal tells whether w is a terminal (not /dev/null, a pipe or a
// file), where a progress bar may redraw itself.
func isTerminal(w any) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
