package command

import (
	"bytes"
	"strings"
)

// lineWriter splits what a process writes into lines and hands each to
// line, keeping at most max bytes of a line (truncated reports whether
// some were dropped). Its memory is bounded by max whatever is written.
type lineWriter struct {
	max       int
	buf       []byte
	truncated bool
	line      func(b []byte, truncated bool)
}

// Write implements io.Writer; it never fails.
func (w *lineWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		chunk := p
		if i >= 0 {
			chunk, p = p[:i], p[i+1:]
		} else {
			p = nil
		}
		if room := w.max - len(w.buf); len(chunk) > room {
			w.buf = append(w.buf, chunk[:max(room, 0)]...)
			w.truncated = true
		} else {
			w.buf = append(w.buf, chunk...)
		}
		if i >= 0 {
			w.emit()
		}
	}
	return n, nil
}

// flush hands over a last line that had no newline.
func (w *lineWriter) flush() {
	if len(w.buf) > 0 || w.truncated {
		w.emit()
	}
}

func (w *lineWriter) emit() {
	w.line(bytes.TrimSuffix(w.buf, []byte("\r")), w.truncated)
	w.buf, w.truncated = w.buf[:0], false
}

// tail keeps the last n lines given to it, each cut to size bytes.
type tail struct {
	n, size int
	lines   []string
	next    int // where the next line goes once full
}

func (t *tail) add(b []byte, truncated bool) {
	s := clip(b, t.size, truncated)
	if len(t.lines) < t.n {
		t.lines = append(t.lines, s)
		return
	}
	t.lines[t.next] = s
	t.next = (t.next + 1) % t.n
}

// all returns the lines kept, oldest first.
func (t *tail) all() []string {
	out := make([]string, 0, len(t.lines))
	out = append(out, t.lines[t.next:]...)
	return append(out, t.lines[:t.next]...)
}

// clip returns b as valid UTF-8 of at most size bytes, with "…" when it
// was cut.
func clip(b []byte, size int, truncated bool) string {
	if len(b) > size {
		b, truncated = b[:size], true
	}
	s := strings.ToValidUTF8(string(b), "")
	if truncated {
		s += "…"
	}
	return s
}
