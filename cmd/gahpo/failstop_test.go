package main_test

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	root "github.com/gahpo/gahpo"
	"github.com/gahpo/gahpo/store"
)

// brokenProblem is a problem file whose command fails for every genome at
// once, as a Python trainer whose framework is not installed does.
const brokenProblem = "name: broken\nspace:\n  - {name: x, type: float, min: 0, max: 1}\n" +
	"objective: {metric: val_loss, goal: minimize}\nbudget: {min: 1, max: 1}\n" +
	"train:\n  command: [sh, -c, \"echo Traceback >&2; echo \\\"ModuleNotFoundError: No module named 'torch'\\\" >&2; exit 1\"]\n"

// TestEveryGenomeFailingStopsTheRun: the binary's run of a problem file
// whose command cannot start its framework stops once its first
// population has failed (it bred and trained every one of its 100
// genomes), exits 3 naming the cause, and says so again, exit 3, when the
// same command is given again; with steady-state breeding it waits for
// the trainings under way, saying so; --max-failures 0 searches to the
// end.
func TestEveryGenomeFailingStopsTheRun(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the gahpo binary: -short")
	}
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no sh on PATH")
	}
	dir := t.TempDir()
	problem := filepath.Join(dir, "problem.yaml")
	if err := os.WriteFile(problem, []byte(brokenProblem), 0o600); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(dir, "h.db")
	args := []string{"run", "--problem-file", problem, "--population", "4", "--generations", "25", "--workers", "2", "--db", db, "--no-progress"}
	start := time.Now()
	out, errOut, err := gahpo(t, args...)
	t.Logf("stopped in %v", time.Since(start).Round(time.Millisecond))
	cause := "stopped for failures (--max-failures): its first 4 genomes trained all failed, none succeeded; the reason (4): ModuleNotFoundError: No module named 'torch' (gahpo query genome 1 shows it whole)"
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 3 || !strings.Contains(errOut, "failed: "+cause) {
		t.Fatalf("gahpo run: %v; want exit status 3 saying %q\nstdout:\n%s\nstderr:\n%s", err, cause, out, errOut)
	}
	for _, want := range []string{": failed (broken, population 4, 25 generations", "\nbreeding stopped: its first 4 genomes trained all failed, none succeeded", "\nerror: " + cause + "\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("summary:\n%s\nwant it to say %q", out, want)
		}
	}
	run, genomes := storedRun(t, db)
	if run.Status != root.RunFailed || run.StoppedBy != root.StopFailures || len(genomes) != 4 {
		t.Errorf("run %s, stopped by %q, %d genomes bred; want failed, stopped by failures, the population of 4 bred", run.Status, run.StoppedBy, len(genomes))
	}

	// Again: it says why the run is over, and starts nothing.
	_, errOut, err = gahpo(t, append(args, "--max-failures", "50")...)
	if !errors.As(err, &ee) || ee.ExitCode() != 3 || !strings.Contains(errOut, cause) || !strings.Contains(errOut, "a run stopped for failures is over") {
		t.Errorf("gahpo run again: %v; want exit status 3 saying the run stopped for failures, and why\n%s", err, errOut)
	}
	if _, genomes := storedRun(t, db); len(genomes) != 4 {
		t.Errorf("%d genomes after the run was given again, want the 4 it had", len(genomes))
	}

	// Steady state: the genomes under way when it stops are waited for,
	// and the log says why at once.
	_, errOut, err = gahpo(t, "run", "--problem-file", problem, "--population", "4", "--generations", "25", "--workers", "2", "--db", db, "--no-progress",
		"--new", "--breeding", "steady-state")
	if !errors.As(err, &ee) || ee.ExitCode() != 3 || !strings.Contains(errOut, "nothing more is bred: the run ends failed once the trainings under way are back") {
		t.Errorf("gahpo run --breeding steady-state: %v; want exit status 3, the stop logged while trainings were under way\n%s", err, errOut)
	}
	if run, genomes := storedRun(t, db); run.Status != root.RunFailed || len(genomes) > 4+2 {
		t.Errorf("steady state: run %s, %d genomes bred; want failed, at most the population and the 2 more under way (--in-flight 3)", run.Status, len(genomes))
	}

	// --max-failures 0: every generation is bred and trained.
	if out, errOut, err := gahpo(t, "run", "--problem-file", problem, "--population", "4", "--generations", "3", "--workers", "2", "--db", db, "--no-progress",
		"--new", "--max-failures", "0"); err != nil {
		t.Fatalf("gahpo run --max-failures 0: %v\n%s\n%s", err, out, errOut)
	}
	if run, genomes := storedRun(t, db); run.Status != root.RunDone || run.StoppedBy != root.StopGenerations || len(genomes) != 12 {
		t.Errorf("--max-failures 0: run %s, stopped by %q, %d genomes; want done, stopped by the generations, 12", run.Status, run.StoppedBy, len(genomes))
	}
}

// storedRun reads the latest run of history db and its genomes.
func storedRun(t *testing.T, db string) (root.Run, []root.GenomeRecord) {
	t.Helper()
	st, err := store.Open(db, store.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	run, err := st.Run("")
	if err != nil {
		t.Fatal(err)
	}
	genomes, err := st.Genomes(run.ID, -1)
	if err != nil {
		t.Fatal(err)
	}
	return run, genomes
}

// resumeFailsProblem is a problem file whose command (resumeFailsTrainer)
// trains from scratch, its first rung, but fails whenever it is given a
// checkpoint to resume from, as a trainer that saves a state it cannot
// load does.
const resumeFailsProblem = "name: noresume\nspace:\n  - {name: x, type: float, min: 0, max: 1}\n" +
	"objective: {metric: val_loss, goal: minimize}\nbudget: {min: 1, max: 4}\n" +
	"train:\n  command: [sh, train.sh]\n  dir: .\n"

const resumeFailsTrainer = `if [ -e "$GAHPO_CHECKPOINT_DIR/state" ]; then
  echo "Traceback (most recent call last):" >&2
  echo "RuntimeError: Error(s) in loading state_dict" >&2
  exit 1
fi
e=1
while [ "$e" -le "$GAHPO_EPOCHS" ]; do
  echo "{\"epoch\": $e, \"val_loss\": 0.$e$$}"
  e=$((e + 1))
done
echo "$GAHPO_EPOCHS" > "$GAHPO_CHECKPOINT_DIR/state"
if [ -n "$GAHPO_WEIGHTS_FILE" ]; then echo w > "$GAHPO_WEIGHTS_FILE"; fi
`

// TestFailingResumptionsStopTheRun: under --fidelity halving or pbt, a
// trainer that succeeds on every first rung but fails each time it resumes
// from a checkpoint stops the run by default once --population
// resumptions have all failed, exit 3 naming the cause, instead of
// promoting (halving: every genome of every generation, at last one by one
// from scratch) and failing to the end, done, exit 0.
func TestFailingResumptionsStopTheRun(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the gahpo binary: -short")
	}
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no sh on PATH")
	}
	for _, tt := range []struct {
		name   string
		args   []string
		budget int // genomes of the run, had it not stopped (0: pbt breeds none but the exploits)
	}{
		{"halving", []string{"--fidelity", "halving", "--eta", "2", "--generations", "10"}, 40},
		// Without this stop, pbt ended as soon, but done, exit 0: every
		// genome stopped below the top rung.
		{"pbt", []string{"--fidelity", "pbt"}, 0},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			problem := filepath.Join(dir, "problem.yaml")
			if err := os.WriteFile(problem, []byte(resumeFailsProblem), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "train.sh"), []byte(resumeFailsTrainer), 0o600); err != nil {
				t.Fatal(err)
			}
			db := filepath.Join(dir, "h.db")
			start := time.Now()
			args := append([]string{"run", "--problem-file", problem, "--min-epochs", "1", "--max-epochs", "4", "--population", "4",
				"--workers", "2", "--db", db, "--no-progress"}, tt.args...)
			out, errOut, err := gahpo(t, args...)
			t.Logf("ended in %v", time.Since(start).Round(time.Millisecond))
			var ee *exec.ExitError
			cause := "stopped for failures (--max-failures): its first "
			if !errors.As(err, &ee) || ee.ExitCode() != 3 || !strings.Contains(errOut, cause) {
				t.Fatalf("gahpo run: %v; want exit status 3 saying %q\nstdout:\n%s\nstderr:\n%s", err, cause, out, errOut)
			}
			run, genomes := storedRun(t, db)
			for _, want := range []string{" trainings resumed from a checkpoint all failed, none succeeded; the reason (", "): RuntimeError: Error(s) in loading state_dict (gahpo query genome "} {
				if !strings.Contains(run.Error, want) {
					t.Errorf("error %q, want it to say %q", run.Error, want)
				}
			}
			resumedFailed := 0
			for _, g := range genomes {
				if g.Status == root.GenomeFailed && len(g.RungFitness) > max(1, g.Inherited) {
					resumedFailed++
				}
			}
			if run.Status != root.RunFailed || run.StoppedBy != root.StopFailures || resumedFailed < 4 || tt.budget > 0 && len(genomes) >= tt.budget {
				t.Errorf("run %s, stopped by %q, %d genomes bred, %d failed resuming; want failed, stopped by failures after 4 failed resumptions, before the %d genomes of the budget",
					run.Status, run.StoppedBy, len(genomes), resumedFailed, tt.budget)
			}
			t.Logf("%d genomes bred, %d failed resuming: %s", len(genomes), resumedFailed, run.Error)
		})
	}
}
