package command_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gahpo/gahpo"
	"github.com/gahpo/gahpo/internal/cause"
	"github.com/gahpo/gahpo/models/command"
)

// TestNoObjectiveSaysWhy runs trainers that report their objective in a way
// gahpo cannot read, as new users write them: the failure says what the
// command printed instead and what to change, within the 200 bytes of a
// run summary's line.
func TestNoObjectiveSaysWhy(t *testing.T) {
	tests := []struct {
		name, body string
		want       string // the failure's first line, after "no objective: the command printed no JSON line with "loss""
	}{
		{"another metric's name", `echo '{"epoch": 1, "val_loss": 0.5, "acc": 0.8}'`,
			`: its JSON lines report acc, val_loss, and objective.metric in PATH is "loss" (a metric's name must be the same in both)`},
		{"a Python dict", `echo "{'epoch': 1, 'loss': 0.5}"`,
			`: {'epoch': 1, 'loss': 0.5} is not JSON (in Python, print(json.dumps(metrics)), not print(metrics))`},
		{"reports without newlines", `printf '{"epoch": 1, "loss": 0.5}{"epoch": 2, "loss": 0.25}'`,
			`: {"epoch": 1, "loss": 0.5}{"epoch": 2, "loss": 0.25… is not JSON (end each report with a newline)`},
		{"plain words", `echo "epoch 1 loss 0.5000"`,
			`: the line "epoch 1 loss 0.5000" is no report; print the JSON object alone on its line, {"epoch": 1, "loss": 0.25}`},
		{"a prefix before the object", `echo 'metrics: {"epoch": 1, "loss": 0.5}'`,
			`: the line metrics: {"epoch": 1, "loss": 0.5} is no report; print the JSON object alone on its line, {"epoch": 1, "loss": 0.25}`},
		{"nested", `echo '{"epoch": 1, "metrics": {"loss": 0.5}}'`,
			`: {"epoch": 1, "metrics": {"loss": 0.5}} holds it, but not as a number at its top level`},
		// Lines longer than a failure quotes: what each is, is read from
		// the whole line; the quote is cut on a character, with an ellipsis.
		{"nested, in a long line", `echo '{"epoch": 1, "metrics": {"loss": 0.5, "accuracy": 0.91}, "lr": "1e-3"}'`,
			`: {"epoch": 1, "metrics": {"loss": 0.5, "accuracy": … holds it, but not as a number at its top level`},
		{"another metric's name, not a number", `echo '{"epoch": 1, "val_loss": "0.5"}'`,
			`: {"epoch": 1, "val_loss": "0.5"} has no field "loss" (objective.metric in PATH)`},
		{"another metric's name, nested in a long line", `echo '{"epoch": 1, "summary": {"val_loss": 0.5, "val_accuracy": 0.91}, "lr": "1e-3"}'`,
			`: {"epoch": 1, "summary": {"val_loss": 0.5, "val_acc… has no field "loss" (objective.metric in PATH)`},
		{"multibyte characters at the cut", `echo '{"epoch": 1, "notes": "` + strings.Repeat("é", 20) + `", "metrics": {"loss": 0.5}}'`,
			`: {"epoch": 1, "notes": "` + strings.Repeat("é", 13) + `… holds it, but not as a number at its top level`},
		{"bytes that are not UTF-8", `printf '{"epoch": 1, "host": "\377\376", "metrics": {"loss": 0.5}}\n'`,
			`: {"epoch": 1, "host": "", "metrics": {"loss": 0.5… holds it, but not as a number at its top level`},
		{"long plain words", `echo "époque 1 — loss 0.5000 après 12 minutes de calcul sur le GPU 0"`,
			`: the line "époque 1 — loss 0.5000 après 12 minutes de cal…" is no report; print the JSON object alone on its line, {"epoch": 1, "loss": 0.25}`},
		{"a long Python dict", `echo "{'epoch': 1, 'loss': 0.5, 'accuracy': 0.91, 'learning_rate': 0.001}"`,
			`: {'epoch': 1, 'loss': 0.5, 'accuracy': 0.91, 'learn… is not JSON (in Python, print(json.dumps(metrics)), not print(metrics))`},
		{"on standard error", `echo '{"epoch": 1, "loss": 0.5}' >&2`,
			` on standard output, where reports are read, but on standard error: {"epoch": 1, "loss": 0.5}`},
		{"nothing at all", `echo working >&2`,
			`: it printed nothing on standard output, where a report such as {"epoch": 1, "loss": 0.25} is read after each epoch`},
		{"other words only", `echo working`, ``},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := shProblem(t, tt.body+"\n")
			j := job(p, "ok", t.TempDir())
			j.Task.Params = map[string]float64{"x": 0.5}
			_, err := command.New(p).Train(context.Background(), j)
			if err == nil {
				t.Fatal("no error")
			}
			first, _, _ := strings.Cut(err.Error(), "; standard error ends")
			_, got, _ := strings.Cut(first, `no objective: the command printed no JSON line with "loss"`)
			if want := strings.ReplaceAll(tt.want, "PATH", p.Path); got != want {
				t.Errorf("failure %q\nsays after the objective %q\nwant %q", err, got, want)
			}
			if n := len(first) - len(p.Path) - len("command: models: cannot train this genome: "); n > 200 {
				t.Errorf("failure of %d bytes: a run's summary cuts it: %q", n, first)
			}
			if !utf8.ValidString(err.Error()) {
				t.Errorf("failure not UTF-8: %q", err)
			}
		})
	}
}

// TestCauseAboveALongStackTrace: a program that dies with a stack trace
// longer than the lines of standard error a failure quotes (a Java
// exception, a Rust backtrace) still has the line saying why in its
// failure, where cause.Line finds it.
func TestCauseAboveALongStackTrace(t *testing.T) {
	body := `echo '{"epoch": 1, "loss": 0.5}'
echo 'Exception in thread "main" java.lang.IllegalStateException: weights shape mismatch' >&2
for i in $(seq 1 30); do printf '\tat Train.deep(Train.java:%d)\n' $i >&2; done
exit 1
`
	p := shProblem(t, body)
	j := job(p, "ok", t.TempDir())
	j.Task.Params = map[string]float64{"x": 0.5}
	_, err := command.New(p).Train(context.Background(), j)
	if err == nil {
		t.Fatal("no error")
	}
	_, stderr, ok := strings.Cut(err.Error(), "; standard error ends:\n")
	if !ok {
		t.Fatalf("failure without standard error: %q", err)
	}
	lines := strings.Split(stderr, "\n")
	want := `Exception in thread "main" java.lang.IllegalStateException: weights shape mismatch`
	if got := cause.Line(lines); got != want {
		t.Errorf("Cause of the quoted standard error %q, want %q; failure:\n%s", got, want, err)
	}
	if last := lines[len(lines)-1]; last != "\tat Train.deep(Train.java:30)" {
		t.Errorf("the quote ends with %q, want the trace's last line", last)
	}
	if len(lines) > command.MaxStderrLines+2 {
		t.Errorf("%d lines of standard error quoted, want at most %d and the cause with its elision", len(lines), command.MaxStderrLines)
	}
}

// TestEmptyCheckpointNoted: a training the genome may be promoted from
// (a task with CheckpointTo) whose command keeps no state in
// GAHPO_CHECKPOINT_DIR has a note in its log, since its later rungs train
// from the first epoch again; one that keeps its state, or whose genome
// cannot be promoted, has none.
func TestEmptyCheckpointNoted(t *testing.T) {
	const report = "echo '{\"epoch\": 1, \"loss\": 0.5}'\n"
	tests := []struct {
		name, body, checkpointTo string
		noted                    bool
	}{
		{"keeps nothing", report, "gahpo-checkpoints", true},
		{"keeps its state", "echo 1 > \"$GAHPO_CHECKPOINT_DIR/state\"\n" + report, "gahpo-checkpoints", false},
		{"keeps a folder", "mkdir \"$GAHPO_CHECKPOINT_DIR/step-1\"\n" + report, "gahpo-checkpoints", false},
		{"the top rung: no promotion", report, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := shProblem(t, tt.body)
			j := job(p, "ok", t.TempDir())
			j.Task.Params = map[string]float64{"x": 0.5}
			j.Task.Epochs = 1
			j.Task.CheckpointTo = tt.checkpointTo
			out, err := command.New(p).Train(context.Background(), j)
			if err != nil {
				t.Fatal(err)
			}
			noted := false
			for _, l := range out.Log {
				noted = noted || strings.HasPrefix(l, gahpo.NoCheckpointNote+"the command left GAHPO_CHECKPOINT_DIR empty")
			}
			if noted != tt.noted {
				t.Errorf("log %q: noted %v, want %v", out.Log, noted, tt.noted)
			}
		})
	}
}

// TestTimeoutPerEpoch: train.timeout bounds every training, the longest
// too: a final training of budget.max epochs was stopped by a timeout
// sized for the search's one-epoch trainings, the run failed without a
// model, and the failure did not say why. Its failure now says what to
// change, and train.timeout_per_epoch bounds a training by the epochs it
// trains (beyond its checkpoint's).
func TestTimeoutPerEpoch(t *testing.T) {
	const body = "i=$((${FROM:-0}+1)); while [ $i -le $GAHPO_EPOCHS ]; do sleep 0.2; echo \"{\\\"epoch\\\": $i, \\\"loss\\\": 0.5}\"; i=$((i+1)); done\n"
	tests := []struct {
		name, timeouts string
		from, epochs   int
		want           string // "" : trains
	}{
		{"train.timeout stops a long final", "timeout: 500ms", 0, 5,
			"timeout after 500ms, training 5 epochs: train.timeout bounds every training, a final's of budget.max epochs too (raise it, or bound each epoch with train.timeout_per_epoch)"},
		{"per epoch: a long final trains", "timeout_per_epoch: 1s", 0, 5, ""},
		{"per epoch: the epochs beyond the checkpoint's", "timeout_per_epoch: 1s", 3, 5, ""},
		{"per epoch: a hang is stopped", "timeout_per_epoch: 100ms", 0, 3, "timeout after 300ms, training 3 epochs (train.timeout_per_epoch 100ms each)"},
		{"the shorter of both", "timeout: 500ms\n  timeout_per_epoch: 1s", 0, 5, "timeout after 500ms, training 5 epochs: train.timeout bounds every training"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel() // each its own process, sleeping
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "train.sh"), []byte("#!/bin/sh\n"+body), 0o755); err != nil {
				t.Fatal(err)
			}
			p := writeProblem(t, dir, fmt.Sprintf("name: slow\nspace:\n  - {name: x, type: float, min: -1, max: 1}\nobjective: {metric: loss}\n"+
				"budget: {min: 1, max: 5}\ntrain:\n  command: [./train.sh]\n  %s\n  env: {FROM: \"%d\"}\n", tt.timeouts, tt.from))
			j := job(p, "ok", t.TempDir())
			j.Task.Params = map[string]float64{"x": 0.5}
			j.Task.Epochs, j.Task.FromEpochs = tt.epochs, tt.from
			_, err := (&command.Trainer{Problem: p, Grace: 200 * time.Millisecond}).Train(context.Background(), j)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("a training of %d epochs from %d: %v", tt.epochs, tt.from, err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("error %v, want it to say %q", err, tt.want)
			}
		})
	}
}
