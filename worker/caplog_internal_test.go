package worker

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// TestCapLog: a long log line is cut to maxLogLine bytes on a character,
// with an ellipsis, whatever it holds: a byte that is not UTF-8 early in
// the line cut it back to just before that byte (the cut went on until the
// whole line was valid).
func TestCapLog(t *testing.T) {
	long := strings.Repeat("a", maxLogLine+100)
	tests := []struct {
		name, line string
		keep       int // bytes of the line kept before the ellipsis; -1: the line whole
	}{
		{"short", "epoch 1", -1},
		{"exactly the limit", long[:maxLogLine], -1},
		{"ASCII", long, maxLogLine},
		{"a rune across the cut", long[:maxLogLine-1] + "é" + long, maxLogLine - 1},
		{"a 4-byte rune across the cut", long[:maxLogLine-2] + "😀" + long, maxLogLine - 2},
		{"a byte not UTF-8 early", "ab\xffc" + long, maxLogLine},
		{"only bytes not UTF-8", strings.Repeat("\x80", maxLogLine+10), maxLogLine},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := capLog([]string{tt.line})[0]
			want := tt.line
			if tt.keep >= 0 {
				want = tt.line[:tt.keep] + "…"
			}
			if got != want {
				t.Errorf("capLog kept %d bytes %q…, want %d bytes %q…", len(got), got[:min(len(got), 20)], len(want), want[:min(len(want), 20)])
			}
			if utf8.ValidString(tt.line) && !utf8.ValidString(got) {
				t.Errorf("a valid line cut to invalid UTF-8: %q", got)
			}
		})
	}
}
