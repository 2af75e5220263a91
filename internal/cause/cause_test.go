package cause

import (
	"strings"
	"testing"
)

// TestLine reads the cause in the standard error of programs that failed,
// as the languages' runtimes print it (Python 3.11, Java 17, Node.js 20,
// Rust 1.9x with and without RUST_BACKTRACE, Go 1.26, go run).
func TestLine(t *testing.T) {
	tests := []struct {
		name, stderr, want string
	}{
		{"python", "Traceback (most recent call last):\n  File \"/w/train.py\", line 3, in <module>\n    import numpy\nModuleNotFoundError: No module named 'numpy'",
			"ModuleNotFoundError: No module named 'numpy'"},
		{"java", "Exception in thread \"main\" java.lang.IllegalStateException: weights shape mismatch: 54 vs 64\n\tat Train.deep(Train.java:2)\n\tat Train.main(Train.java:3)",
			"Exception in thread \"main\" java.lang.IllegalStateException: weights shape mismatch: 54 vs 64"},
		{"java, caused by", "Exception in thread \"main\" java.lang.RuntimeException: load failed\n\tat Main.main(Main.java:9)\nCaused by: java.io.FileNotFoundException: data.csv (No such file or directory)\n\tat java.base/java.io.FileInputStream.open0(Native Method)\n\t... 1 more",
			"Caused by: java.io.FileNotFoundException: data.csv (No such file or directory)"},
		{"node", "/w/train.js:29\n  const x = w[0];\n             ^\n\nTypeError: Cannot read properties of undefined (reading '0')\n    at Object.<anonymous> (/w/train.js:29:100)\n    at node:internal/main/run_main_module:28:49\n\nNode.js v20.20.2",
			"TypeError: Cannot read properties of undefined (reading '0')"},
		{"rust", "\nthread 'main' panicked at src/main.rs:4:75:\nLR must be a number: ParseFloatError { kind: Empty }\nnote: run with `RUST_BACKTRACE=1` environment variable to display a backtrace",
			"LR must be a number: ParseFloatError { kind: Empty }"},
		{"rust, a backtrace", "thread 'main' (26449) panicked at src/main.rs:4:75:\nLR must be a number: ParseFloatError { kind: Empty }\nstack backtrace:\n   0: __rustc::rust_begin_unwind\n             at /rustc/5980/library/std/src/panicking.rs:689:5\n   4: rtrain::main\n             at ./src/main.rs:4:75\nnote: Some details are omitted, run with `RUST_BACKTRACE=full` for a verbose backtrace.",
			"LR must be a number: ParseFloatError { kind: Empty }"},
		{"go", "panic: assignment to entry in nil map\n\ngoroutine 1 [running]:\nmain.main()\n\t/w/main.go:8 +0x65",
			"panic: assignment to entry in nil map"},
		{"go, a method, go run", "panic: runtime error: invalid memory address or nil pointer dereference\n[signal SIGSEGV: segmentation violation code=0x1 addr=0x0 pc=0x47a5c1]\n\ngoroutine 1 [running]:\nmain.(*model).step(0x0, {0xc000012345, 0x3, 0x3})\n\t/w/main.go:12 +0x21\nmain.main()\n\t/w/main.go:20 +0x65\nexit status 2",
			"panic: runtime error: invalid memory address or nil pointer dereference"},
		{"a plain message", "loading\nerror: data.csv not found", "error: data.csv not found"},
		{"a quoted cause and its elision", "KeyError: 'lr'\n…\n  File \"x.py\", line 1", "KeyError: 'lr'"},
		{"frames only", "\tat A.b(A.java:1)\n\tat A.main(A.java:2)", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Line(strings.Split(tt.stderr, "\n")); got != tt.want {
				t.Errorf("Line = %q, want %q", got, tt.want)
			}
		})
	}
}
