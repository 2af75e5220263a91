package main

import (
	"io"
	"os"

	"golang.org/x/term"
)

// isTerminal tells whether w is a terminal (not /dev/null, a pipe or a
// file), where a progress bar may redraw itself.
func isTerminal(w any) bool {
	if h, ok := w.(interface{ writer() io.Writer }); ok {
		w = h.writer()
	}
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
