package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
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
// record the genome as failed.
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
		"--workers", "1", "--max-attempts", "1", "--ack-wait", "1h", "--no-progress", "--log-level", "error"}

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

	if err := os.WriteFile(filepath.Join(dir, "release"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	errOut = &testnats.LogBuffer{}
	if err := (&Main{Stdout: &bytes.Buffer{}, Stderr: errOut}).Run(rctx, args); err != nil {
		t.Fatalf("resumed run: %v\n%s", err, errOut.String())
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
