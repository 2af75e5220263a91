// Package cause finds, in what a failed program printed on its standard
// error, the line that says why it failed: not a stack frame nor a
// runtime's trailer, in the languages training commands are written in.
package cause

import (
	"regexp"
	"strings"
)

// notCauseRE matches the lines of standard error that come after a failed
// program's statement of why, in the languages trainers are written in,
// and say nothing of the cause: a stack frame (indented in Python, Java,
// Node.js, Rust and Go), Node.js's version line, Rust's backtrace notes,
// Go's goroutine headers, frame functions, signal lines and go run's exit
// status, Python's traceback header, an elision.
var notCauseRE = regexp.MustCompile(`^(\s|$)|` +
	`^Node\.js v[0-9]|` +
	`^note: (run with ` + "`" + `RUST_BACKTRACE|Some details are omitted)|^stack backtrace:$|` +
	`^goroutine [0-9]+ \[.*\]:$|^created by |^\[signal |^[^\s:]*\.[^\s:]*\(.*\)( \+0x[0-9a-f]+)?$|^exit status [0-9]+$|` +
	`^Traceback \(most recent call last\):$|^(…|\.\.\.)$`)

// Is tells whether a line of standard error may say why a program failed
// (see Line).
func Is(line string) bool {
	return !notCauseRE.MatchString(line)
}

// Line returns the line of a failed program's standard error that says
// why it failed: the last line that is not a stack frame or a runtime's
// trailer, such as Python's exception line ("ValueError: ..."), Node.js's
// "TypeError: ..." above its frames and version, Java's exception or
// "Caused by:" line above its frames, Rust's panic message above its
// backtrace notes, Go's "panic: ..." above its goroutines; "" when no line
// qualifies.
func Line(lines []string) string {
	for i := len(lines) - 1; i >= 0; i-- {
		if l := strings.TrimRight(lines[i], "\r"); Is(l) {
			return strings.TrimSpace(l)
		}
	}
	return ""
}
