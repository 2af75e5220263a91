package main

import (
	"bytes"
	"testing"
)

// TestPrintable: what reaches the terminal from a training's output.
func TestPrintable(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"plain text, new lines and tabs", "genome 3\tdone\nfailure\tnone\n", "genome 3\tdone\nfailure\tnone\n"},
		{"UTF-8 text", "loss → 0.5 ✓ ü\n", "loss → 0.5 ✓ ü\n"},
		{"a colour", "\x1b[31mred\x1b[0m\n", "^[[31mred^[[0m\n"},
		{"a window title", "\x1b]0;pwned\x07", "^[]0;pwned^G"},
		{"a carriage return over the line", "ok\rfailed", "ok^Mfailed"},
		{"DEL and NUL", "a\x7fb\x00c", "a^?b^@c"},
		{"a C1 CSI", "x\u009b31my", "x^?31my"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			n, err := printable{&b}.Write([]byte(tt.in))
			if err != nil || n != len(tt.in) {
				t.Fatalf("Write = %d, %v; want %d, nil", n, err, len(tt.in))
			}
			if b.String() != tt.want {
				t.Errorf("wrote %q, want %q", b.String(), tt.want)
			}
		})
	}
}
