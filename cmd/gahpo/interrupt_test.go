package main

import (
	"bytes"
	"context"
	"flag"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gahpo/gahpo"
	"github.com/gahpo/gahpo/internal/testnats"
	"github.com/gahpo/gahpo/store"
)

// TestRunInterruptedHandsItsTaskBack interrupts `gahpo run` (as Ctrl-C
// does: its context ends) while its worker trains, then resumes it. The
// task in training must be back in the queue when the process ends: the
// resumed run takes it at once, not after --ack-wait (1 hour here), and
// the interrupted delivery is not one of --max-attempts 1, which would
// record the genome as failed. The interrupted command says how to resume
// the run, and the run is resumed so (its --new left out).
func TestRunInterruptedHandsItsTaskBack(t *testing.T) {
	if testing.Short() {
		t.Skip("two runs of a command trainer: -short")
	}
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no sh on PATH")
	}
	dir := t.TempDir()
	// The trainer blocks until the file release exists.
	script := "touch started; [ -e release ] || exec sleep 3600; echo '{\"epoch\": 1, \"val_loss\": 0.5}'"
	problem := "name: blocked\nspace:\n  - {name: x, type: float, min: 0, max: 1}\n" +
		"objective: {metric: val_loss, goal: minimize}\nbudget: {min: 1, max: 1}\n" +
		"train:\n  command: [sh, -c, \"" + strings.ReplaceAll(script, `"`, `\"`) + "\"]\n  dir: .\n  timeout: 2h\n"
	if err := os.WriteFile(filepath.Join(dir, "problem.yaml"), []byte(problem), 0o600); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(dir, "h.db")
	args := []string{"run", "--problem-file", filepath.Join(dir, "problem.yaml"), "--db", db, "--population", "2", "--generations", "1",
		"--workers", "1", "--max-attempts", "1", "--ack-wait", "1h", "--no-progress", "--log-level", "error", "--new"}

	ctx, interrupt := context.WithCancel(context.Background())
	defer interrupt()
	errOut := &testnats.LogBuffer{}
	done := make(chan error, 1)
	go func() { done <- (&Main{Stdout: &bytes.Buffer{}, Stderr: errOut}).Run(ctx, args) }()
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(100 * time.Millisecond) {
		if _, err := os.Stat(filepath.Join(dir, "started")); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no training started within a minute\n%s", errOut.String())
		}
	}
	interrupt()
	select {
	case <-done:
	case <-time.After(time.Minute):
		t.Fatal("gahpo run did not stop within a minute of its interruption")
	}

	// The interrupted command says how to resume the run: the same
	// command, but for --new, which would start another search.
	const hint = "; to resume it where it stopped: gahpo "
	_, resume, ok := strings.Cut(errOut.String(), hint)
	if !ok {
		t.Fatalf("the interrupted run does not say how to resume it:\n%s", errOut.String())
	}
	resume, _, _ = strings.Cut(resume, "\n")
	if slices.Contains(strings.Fields(resume), "--new") {
		t.Fatalf("the command that resumes the run starts another: %s", resume)
	}

	if err := os.WriteFile(filepath.Join(dir, "release"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	errOut = &testnats.LogBuffer{}
	if err := (&Main{Stdout: &bytes.Buffer{}, Stderr: errOut}).Run(rctx, strings.Fields(resume)); err != nil {
		t.Fatalf("resumed run: %v\n%s", err, errOut.String())
	}
	if !strings.Contains(errOut.String(), "gahpo: resuming run ") {
		t.Errorf("the resumed run does not say it resumes:\n%s", errOut.String())
	}
	if strings.Contains(errOut.String(), "held by the workers of the previous process") {
		t.Errorf("the resumed run found tasks held by the stopped process:\n%s", errOut.String())
	}
	st, err := store.Open(db, store.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	runs, err := st.Runs()
	if err != nil || len(runs) != 1 {
		t.Fatalf("%d runs, %v", len(runs), err)
	}
	gs, err := st.Genomes(runs[0].ID, -1)
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range gs {
		if g.Status != gahpo.GenomeDone || g.Attempts != 1 {
			t.Errorf("genome %d: %s after %d attempts (%s); want done after 1", g.ID, g.Status, g.Attempts, g.Failure)
		}
	}
}

// TestResumeCommand: the command an interrupted run prints to resume it is
// the one given, without --new (which would start another search), with
// --run naming the run (in place of any --run given), without a secret
// given as a flag (stderr may be a log), quoted for the shell.
func TestResumeCommand(t *testing.T) {
	tests := []struct {
		name string
		cmd  string
		args []string
		want string
	}{
		{"as given", "gahpo run", []string{"--preset", "quick"}, "gahpo run --preset quick --run R1"},
		{"--new left out", "gahpo run", []string{"--new", "--problem", "regression", "-new=true"}, "gahpo run --problem regression --run R1"},
		{"--run replaced", "gahpo run", []string{"--run", "R0", "--seed=3", "-run=R0"}, "gahpo run --seed=3 --run R1"},
		{"quoted", "gahpo run", []string{"--db", "my runs/h.db"}, "gahpo run --db 'my runs/h.db' --run R1"},
		{"no secret", "gahpo coordinator", []string{"--nats", "nats://a:4222", "--nats-token", "s3cret", "--nats-password=pw", "--db", "h.db"},
			"gahpo coordinator --nats nats://a:4222 --db h.db --run R1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sf := searchFlags{fs: flag.NewFlagSet(tt.cmd, flag.ContinueOnError), args: tt.args}
			if got := sf.resumeCommand("R1"); got != tt.want {
				t.Errorf("resumeCommand(%q) = %q, want %q", tt.args, got, tt.want)
			}
		})
	}
}

// TestRunSaysHowToFollowIt: gahpo run prints, as it starts, the command
// that shows its progress from another terminal (its embedded NATS
// server's address is random), and that command answers while it runs.
// A newcomer saw the run's id and history file, and nothing more for
// minutes.
func TestRunSaysHowToFollowIt(t *testing.T) {
	if testing.Short() {
		t.Skip("a run and a live status: -short")
	}
	db := filepath.Join(t.TempDir(), "h.db")
	ctx, interrupt := context.WithCancel(context.Background())
	defer interrupt()
	errOut := &testnats.LogBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- (&Main{Stdout: &bytes.Buffer{}, Stderr: errOut}).Run(ctx, []string{"run", "--problem", "regression", "--db", db,
			"--population", "50", "--generations", "40", "--no-progress", "--log-level", "error"})
	}()
	const hint = "follow it from another terminal: gahpo "
	var status []string
	for deadline := time.Now().Add(time.Minute); status == nil; time.Sleep(50 * time.Millisecond) {
		if _, after, ok := strings.Cut(errOut.String(), hint); ok && strings.Contains(after, "\n") {
			cmd, _, _ := strings.Cut(after, " (")
			status = strings.Fields(cmd)
		}
		if time.Now().After(deadline) {
			t.Fatalf("gahpo run did not say how to follow it within a minute:\n%s", errOut.String())
		}
	}
	// The line comes once the coordinator answers: the command it gives
	// answers at once (TestRunFollowHintAnswers asks it of the binary).
	var out bytes.Buffer
	if err := (&Main{Stdout: &out, Stderr: io.Discard}).Run(context.Background(), status); err != nil {
		t.Fatalf("gahpo %s, as soon as gahpo run says it: %v", strings.Join(status, " "), err)
	}
	if !strings.Contains(out.String(), "(regression): running") {
		t.Errorf("gahpo %s printed no running run:\n%s", strings.Join(status, " "), out.String())
	}
	interrupt()
	select {
	case <-done:
	case <-time.After(time.Minute):
		t.Fatal("gahpo run did not stop within a minute of its interruption")
	}
}
