package main

import (
	"io"
)

// printable writes to w with the control characters a terminal acts on
// shown in caret notation (ESC as ^[, CR as ^M, DEL as ^?), new lines and
// tabs kept: a training command's output reaches the views (a genome's
// failure, its log lines) and must not move the cursor, recolour the
// terminal or set its title. UTF-8's C1 controls (U+0080 to U+009F) are
// shown as ^? too, when a write holds both bytes.
type printable struct{ w io.Writer }

func (p printable) Write(b []byte) (int, error) {
	clean := true
	for i, c := range b {
		if control(b, i) || c == 0x7f {
			clean = false
			break
		}
	}
	if clean {
		return p.w.Write(b)
	}
	out := make([]byte, 0, len(b)+16)
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch {
		case c == 0xc2 && i+1 < len(b) && b[i+1] >= 0x80 && b[i+1] <= 0x9f:
			out = append(out, '^', '?')
			i++
		case c == 0x7f:
			out = append(out, '^', '?')
		case control(b, i):
			out = append(out, '^', c+'@')
		default:
			out = append(out, c)
		}
	}
	if _, err := p.w.Write(out); err != nil {
		return 0, err
	}
	return len(b), nil
}

// control tells whether b[i] is a C0 control other than a new line or a
// tab, or starts a UTF-8 C1 control.
func control(b []byte, i int) bool {
	c := b[i]
	if c < 0x20 {
		return c != '\n' && c != '\t'
	}
	return c == 0xc2 && i+1 < len(b) && b[i+1] >= 0x80 && b[i+1] <= 0x9f
}
