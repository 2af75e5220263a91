package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gahpo/gahpo"
	"github.com/gahpo/gahpo/internal/testnats"
	"github.com/gahpo/gahpo/store"
)

// runMain runs the command line in this process, turning a panic into a
// test failure, and returns the error and what it wrote.
func runMain(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out, errb bytes.Buffer
	m := &Main{Stdout: &out, Stderr: &errb}
	func() {
		defer func() {
			if r := recover(); r != nil {
				t.Errorf("gahpo %s panicked: %v", strings.Join(args, " "), r)
				err = errors.New("panic")
			}
		}()
		err = m.Run(ctx, args)
	}()
	return out.String(), errb.String(), err
}

// TestOutOfRangeFlags: every numeric flag out of its range is refused at
// once, naming the flag and its range, instead of silently using a preset
// or running out of memory.
func TestOutOfRangeFlags(t *testing.T) {
	tests := []struct {
		args []string
		want string // in the error
	}{
		{[]string{"run", "--population", "0"}, "--population 0 is out of range: genomes per generation must be in [2, 10000]"},
		{[]string{"run", "--population", "-1"}, "--population -1 is out of range"},
		{[]string{"run", "--population", "1"}, "--population 1 is out of range"},
		{[]string{"run", "--population", "1000000000"}, "--population 1000000000 is out of range"},
		{[]string{"run", "--generations", "0"}, "--generations 0 is out of range: generations must be in [1, 10000]"},
		{[]string{"run", "--population", "5000", "--generations", "5000"}, "at most 1000000 fit in memory"},
		{[]string{"run", "--workers", "0"}, "--workers 0 is out of range: local workers must be in [1, 1024]"},
		{[]string{"run", "--workers", "-3"}, "--workers -3 is out of range"},
		{[]string{"run", "--elites", "-1"}, "--elites -1 is out of range"},
		{[]string{"run", "--tournament", "0"}, "--tournament 0 is out of range"},
		{[]string{"run", "--crossover-rate", "1.5"}, "--crossover-rate 1.5 is out of range: crossover probability must be in [0, 1]"},
		{[]string{"run", "--crossover-rate", "NaN"}, "--crossover-rate NaN is out of range"},
		{[]string{"run", "--max-attempts", "0"}, "--max-attempts 0 is out of range: deliveries of a genome must be in [1, 100]"},
		{[]string{"run", "--max-failures", "-1"}, "--max-failures -1 is out of range: failed genomes that stop the run (0: never) must be in [1, 100000000] or 0"},
		{[]string{"run", "--ack-wait", "10ms"}, "--ack-wait 10ms is out of range: task lease must be in [1s, 24h0m0s]"},
		{[]string{"run", "--train-subset", "-5"}, "--train-subset -5 is out of range"},
		{[]string{"run", "--final-subset", "70000"}, "--final-subset 70000 is out of range"},
		{[]string{"run", "--final-epochs", "-2"}, "--final-epochs -2 is out of range"},
		{[]string{"coordinator", "--nats", "nats://127.0.0.1:1", "--population", "0"}, "--population 0 is out of range"},
		{[]string{"worker", "--nats", "nats://127.0.0.1:1", "--concurrency", "0"}, "--concurrency 0 is out of range: genomes trained at once must be in [1, 256]"},
		{[]string{"status", "--nats", "nats://127.0.0.1:1", "--watch", "1ns"}, "--watch 1ns is out of range"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			dir := t.TempDir()
			args := append(tt.args, "--db", filepath.Join(dir, "h.db"))
			if tt.args[0] == "worker" || tt.args[0] == "status" {
				args = tt.args
			}
			_, _, err := runMain(t, args...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v; want one containing %q", err, tt.want)
			}
			if _, serr := os.Stat(filepath.Join(dir, "h.db")); serr == nil {
				t.Error("a history file was created before the flags were checked")
			}
		})
	}
}

// regressionRun runs a tiny regression search into db and returns its run.
func regressionRun(t *testing.T, db string) gahpo.Run {
	t.Helper()
	_, errOut, err := runMain(t, "run", "--problem", "regression", "--db", db, "--population", "4", "--generations", "1", "--final-epochs", "0", "--workers", "1", "--seed", "3", "--no-progress")
	if err != nil {
		t.Fatalf("gahpo run: %v\n%s", err, errOut)
	}
	st, err := store.Open(db, store.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	run, err := st.Run("")
	if err != nil {
		t.Fatal(err)
	}
	return run
}

// setStatus rewrites the stored run's status (a run left running by a
// crash).
func setStatus(t *testing.T, db string, run gahpo.Run, status gahpo.RunStatus) {
	t.Helper()
	st, err := store.Open(db, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	run.Status = status
	if err := st.Commit(run.ID, store.Change{Run: &run}); err != nil {
		t.Fatal(err)
	}
}

func runCount(t *testing.T, db string) int {
	t.Helper()
	st, err := store.Open(db, store.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	runs, err := st.Runs()
	if err != nil {
		t.Fatal(err)
	}
	return len(runs)
}

// TestResumeRefusesOtherFlags: a finished history is not rerun, and a run
// left running is not resumed with flags that say another search.
func TestResumeRefusesOtherFlags(t *testing.T) {
	db := filepath.Join(t.TempDir(), "h.db")
	run := regressionRun(t, db)
	base := []string{"run", "--problem", "regression", "--db", db, "--population", "4", "--generations", "1", "--final-epochs", "0", "--workers", "1", "--seed", "3", "--no-progress"}

	// The same command again: the run is done, and nothing is to do (the
	// command exits 0), saying how another search starts. Changed search
	// flags (a service's, edited for the next search) start none either,
	// and the message says so.
	const how = "; to start another search in this history, run gahpo run --new with its flags once, by hand " +
		"(never in a service that restarts: --new starts a search at every start), or give it another --db"
	for _, tt := range []struct {
		args []string
		want string
	}{
		{base, "run " + run.ID + " finished at "},
		{append(slices.Clone(base), "--seed", "4", "--population", "6"),
			"; nothing to do; the flags given differ from the run's, --population 6 (the run's: 4), --seed 4 (the run's: 3), but changed flags start no new run"},
	} {
		_, _, err := runMain(t, tt.args...)
		if !errors.As(err, new(finishedError)) || !strings.Contains(err.Error(), tt.want) || !strings.HasSuffix(err.Error(), how) {
			t.Errorf("rerun of a finished history with %q:\nerr = %v\nwant a finishedError with %q, ending %q", tt.args[len(base)-1:], err, tt.want, how)
		}
		if n := runCount(t, db); n != 1 {
			t.Errorf("%d runs in the history after the refused rerun; want 1", n)
		}
	}

	// A run left running (a crash), resumed with other flags: by gahpo
	// run, whose --workers may change, or by the coordinator command,
	// which has no --workers.
	setStatus(t, db, run, gahpo.RunRunning)
	coordinator := []string{"coordinator", "--nats", "nats://127.0.0.1:1", "--problem", "regression", "--db", db, "--population", "4", "--generations", "1",
		"--final-epochs", "0", "--seed", "3", "--no-progress"}
	const runMay, coordinatorMay = "only --ack-wait, --max-failures and --workers may change", "only --ack-wait and --max-failures may change"
	for _, tt := range []struct {
		base          []string
		args          []string
		want, mayWant string
	}{
		{base, []string{"--population", "6"}, "--population 6 (the run's: 4)", runMay},
		{base, []string{"--problem", "cnn"}, "--problem cnn (the run's: regression)", runMay},
		{slices.Delete(slices.Clone(base), 1, 3), []string{"--problem-file", "../../examples/toy/problem.yaml"},
			"--problem-file of problem toy (the run's: regression)", runMay},
		{base, []string{"--seed", "4", "--max-attempts", "5"}, "--seed 4 (the run's: 3)", runMay},
		{base, []string{"--preset", "paper"}, "--preset paper (the run's: quick)", runMay},
		{base, []string{"--fidelity", "halving"}, "--fidelity halving (the run's: one-epoch)", runMay},
		{base, []string{"--enqueue", "lr=0.01,batch_size=10,epochs=100"}, "--enqueue lr=0.01,batch_size=10,epochs=100 (the run's: none)", runMay},
		{coordinator, []string{"--population", "6"}, "--population 6 (the run's: 4)", coordinatorMay},
	} {
		args := append(append([]string{}, tt.base...), tt.args...)
		_, _, err := runMain(t, args...)
		if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "run "+run.ID) || !strings.Contains(err.Error(), tt.mayWant) {
			t.Errorf("resume with %v: err = %v; want a refusal naming %q and saying %q", args[:1], err, tt.want, tt.mayWant)
		}
		// A newcomer trying another problem in the same folder: the
		// refusal names the way that leaves the unfinished run alone.
		if err != nil && !strings.HasSuffix(err.Error(), "or another --db one in a history of its own") {
			t.Errorf("resume with %v: err = %v; want it to say another --db starts a search apart", args[:1], err)
		}
	}
	if n := runCount(t, db); n != 1 {
		t.Errorf("%d runs after the refused resumes; want 1", n)
	}

	// A run of a problem this command does not know (a problem file's,
	// resumed without it): refused before anything starts, saying so.
	b, err := os.ReadFile(db)
	if err != nil {
		t.Fatal(err)
	}
	moved := filepath.Join(t.TempDir(), "moved.db") // no NATS store beside it yet
	if err := os.WriteFile(moved, b, 0o600); err != nil {
		t.Fatal(err)
	}
	other := run
	other.Config.Problem = "my-model"
	setStatus(t, moved, other, gahpo.RunRunning)
	_, _, err = runMain(t, "run", "--db", moved, "--no-progress")
	if err == nil || !strings.Contains(err.Error(), `is of problem "my-model"`) || !strings.Contains(err.Error(), "--problem-file") {
		t.Errorf("resume of another problem's run: %v", err)
	}
	if _, err := os.Stat(moved + ".nats"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a refused resume started the embedded NATS server (%s.nats: %v)", moved, err)
	}
}

// TestResumeTakesAnotherMaxFailures: a run left running resumes with
// another --max-failures (as with another --ack-wait), stored and said;
// one already stopped for failures is told it stays stopped, and keeps
// the --max-failures it stopped by.
func TestResumeTakesAnotherMaxFailures(t *testing.T) {
	db := filepath.Join(t.TempDir(), "h.db")
	run := regressionRun(t, db)
	setStatus(t, db, run, gahpo.RunRunning)
	for _, tt := range []struct {
		args      []string
		stoppedBy string
		want      *int
		says      string
	}{
		{nil, "", nil, ""},
		{[]string{"--max-failures", "7"}, "", ptr(7), "gahpo: run " + run.ID + " resumes with --max-failures 7 (was default (the population))\n"},
		{[]string{"--max-failures", "7"}, "", ptr(7), ""},
		{[]string{"--max-failures", "0"}, "", ptr(0), "gahpo: run " + run.ID + " resumes with --max-failures 0 (was 7)\n"},
		// Stopped for failures: the rule it stopped by is kept, which
		// its error and its stop's text name ("9 genomes failed" was
		// said of a run stopped at its population's failures).
		{[]string{"--max-failures", "9"}, gahpo.StopFailures, ptr(0), "stopped for failures already (--max-failures 0): it ends failed once its trainings under way are back"},
	} {
		st, err := store.Open(db, store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if tt.stoppedBy != "" {
			r, _ := st.Run(run.ID)
			r.StoppedBy = tt.stoppedBy
			if err := st.Commit(run.ID, store.Change{Run: &r}); err != nil {
				t.Fatal(err)
			}
		}
		fs := flag.NewFlagSet("gahpo run", flag.ContinueOnError)
		var sf searchFlags
		sf.register(fs)
		fs.Int("workers", 0, "")
		if err := fs.Parse(append([]string{"--problem", "regression", "--population", "4", "--generations", "1", "--final-epochs", "0", "--seed", "3"}, tt.args...)); err != nil {
			t.Fatal(err)
		}
		rc, _, err := sf.config()
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		target, err := sf.checkResume(st, rc, &out)
		stored, _ := st.Run(run.ID)
		st.Close()
		switch {
		case err != nil:
			t.Errorf("resume with %q: %v", tt.args, err)
		case !reflect.DeepEqual(target.Config.MaxFailures, tt.want) || !reflect.DeepEqual(stored.Config.MaxFailures, tt.want):
			t.Errorf("resume with %q: max failures %v, stored %v; want %v", tt.args, target.Config.MaxFailures, stored.Config.MaxFailures, tt.want)
		case tt.says == "" && out.Len() > 0, !strings.Contains(out.String(), tt.says):
			t.Errorf("resume with %q said %q, want %q", tt.args, out.String(), tt.says)
		}
	}
}

func ptr(n int) *int { return &n }

// TestCorruptHistoryEveryCommand: each command that reads a damaged history
// says which file and what to do, does not panic, and leaves it as it was.
func TestCorruptHistoryEveryCommand(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.db")
	regressionRun(t, good)
	data, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	damage := map[string][]byte{
		"truncated": data[:len(data)/2],
		"zeroed":    append(bytes.Clone(data[:2*4096]), make([]byte, len(data)-2*4096)...),
	}
	commands := [][]string{
		{"query", "runs"}, {"query", "best"}, {"query", "generation", "1"}, {"query", "genome", "1"}, {"query", "final"},
		{"run", "--problem", "regression", "--workers", "1", "--no-progress"},
		{"export", "--format", "csv"}, {"report", "--out", filepath.Join(dir, "report")},
	}
	for name, bad := range damage {
		for _, c := range commands {
			t.Run(name+"/"+strings.Join(c, " "), func(t *testing.T) {
				db := filepath.Join(t.TempDir(), "h.db")
				if err := os.WriteFile(db, bad, 0o600); err != nil {
					t.Fatal(err)
				}
				_, _, err := runMain(t, append(c, "--db", db)...)
				if err == nil || !strings.Contains(err.Error(), db) || !strings.Contains(err.Error(), "restore it from a backup") {
					t.Errorf("err = %v; want one naming %s and what to do", err, db)
				}
				after, _ := os.ReadFile(db)
				if !bytes.Equal(after, bad) {
					t.Error("the damaged file was modified")
				}
				if _, err := os.Stat(db + ".nats"); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("the embedded NATS server started before the history was read (%v)", err)
				}
			})
		}
	}
}

// TestHistoryThatIsADirectory: a --db naming a directory is said to be
// one, not a damaged history to restore from a backup.
func TestHistoryThatIsADirectory(t *testing.T) {
	db := t.TempDir()
	for _, c := range [][]string{{"query", "runs"}, {"export", "--format", "csv"}, {"run", "--problem", "regression", "--workers", "1", "--no-progress"}} {
		t.Run(strings.Join(c, " "), func(t *testing.T) {
			_, _, err := runMain(t, append(c, "--db", db)...)
			if err == nil || !strings.Contains(err.Error(), db+": a directory, not a history file") || strings.Contains(err.Error(), "backup") {
				t.Errorf("err = %v; want one saying %s is a directory", err, db)
			}
		})
	}
}

// TestEveryNumericFlagHasARange: a numeric flag added to any command
// without a range in limits fails here.
func TestEveryNumericFlagHasARange(t *testing.T) {
	numeric := regexp.MustCompile(`(?m)^\s+-([a-z0-9-]+) (int|uint|float|duration)\b`)
	m := &Main{Stdout: io.Discard}
	found := 0
	for _, c := range m.commands() {
		var help bytes.Buffer
		m.Stderr = &help
		_ = m.Run(context.Background(), []string{c.name, "-h"})
		for _, sub := range numeric.FindAllStringSubmatch(help.String(), -1) {
			found++
			if _, ok := limits[sub[1]]; !ok {
				t.Errorf("gahpo %s --%s (%s) has no range in limits", c.name, sub[1], sub[2])
			}
		}
	}
	if found < 20 {
		t.Errorf("found only %d numeric flags in the commands' help: the pattern no longer matches it", found)
	}
}

// TestEmptyHistoryFile: an empty file given to a command that reads the
// history says that it is empty, not a gahpo history, and stays empty.
func TestEmptyHistoryFile(t *testing.T) {
	for _, c := range [][]string{
		{"query", "runs"}, {"query", "best"}, {"query", "final"},
		{"report", "--out", t.TempDir()}, {"export", "--format", "csv"},
	} {
		t.Run(strings.Join(c, " "), func(t *testing.T) {
			db := filepath.Join(t.TempDir(), "empty.db")
			if err := os.WriteFile(db, nil, 0o600); err != nil {
				t.Fatal(err)
			}
			_, _, err := runMain(t, append(c, "--db", db)...)
			if err == nil || !strings.Contains(err.Error(), "empty file: "+db+" is not a gahpo history") {
				t.Errorf("err = %v; want one saying %s is empty, not a gahpo history", err, db)
			}
			if fi, err := os.Stat(db); err != nil || fi.Size() != 0 {
				t.Errorf("the empty file was modified: %v, %v", fi, err)
			}
		})
	}
}

// TestLockedHistory: a command that reads a history a coordinator holds
// tells the user to do what it does live, with --nats.
func TestLockedHistory(t *testing.T) {
	db := filepath.Join(t.TempDir(), "h.db")
	st, err := store.Open(db, store.Options{}) // held as a coordinator holds it
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"query", "runs"}, "query it live with --nats"},
		{[]string{"report", "--out", t.TempDir()}, "report it live with --nats"},
		{[]string{"export", "--format", "csv"}, "export it live with --nats"},
	} {
		_, _, err := runMain(t, append(tt.args, "--db", db)...)
		if err == nil || !errors.Is(err, store.ErrLocked) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v of a held history: %v; want %q", tt.args, err, tt.want)
		}
	}
}

// TestRunWithNewRefused: --run (resume this run) with --new (start
// another) is refused for saying both, before anything starts.
func TestRunWithNewRefused(t *testing.T) {
	for _, cmd := range []string{"run", "coordinator"} {
		t.Run(cmd, func(t *testing.T) {
			db := filepath.Join(t.TempDir(), "h.db")
			args := []string{cmd, "--problem", "regression", "--db", db, "--run", "20261204-000000-abcdef", "--new"}
			if cmd == "coordinator" {
				args = append(args, "--nats", "nats://127.0.0.1:1")
			}
			_, _, err := runMain(t, args...)
			if err == nil || !strings.Contains(err.Error(), "--run 20261204-000000-abcdef resumes a run and --new starts another") {
				t.Errorf("%s --run ID --new: %v; want it refused for saying both", cmd, err)
			}
		})
	}
}

// TestMissingDataRefusedBeforeTheRun: data files that cannot be read (a
// --data folder without them, a problem file's data entry gone) are said,
// naming what to fix, before a run is made of them: none is left behind
// in the history.
func TestMissingDataRefusedBeforeTheRun(t *testing.T) {
	dir := t.TempDir()
	problem := "name: with-data\nspace:\n  - {name: x, type: float, min: 0, max: 1}\n" +
		"objective: {metric: val_loss}\ntrain:\n  command: [sh, -c, 'echo {\\\"val_loss\\\": 1}']\ndata: [gone.csv]\n"
	if err := os.WriteFile(filepath.Join(dir, "problem.yaml"), []byte(problem), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"--data without the files", []string{"--data", dir}, "--data " + dir + ": its data file train-images-idx3-ubyte.gz: not there: give the folder that holds train-images-idx3-ubyte.gz,"},
		{"a problem file's data gone", []string{"--problem-file", filepath.Join(dir, "problem.yaml")},
			"problem file " + filepath.Join(dir, "problem.yaml") + ": data: its data file " + filepath.Join(dir, "gone.csv") + " cannot be read"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := filepath.Join(t.TempDir(), "h.db")
			_, _, err := runMain(t, append([]string{"run", "--db", db, "--workers", "1", "--no-progress", "--population", "2", "--generations", "1"}, tt.args...)...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v; want %q", err, tt.want)
			}
			if strings.HasPrefix(tt.name, "a problem file") {
				// Refused before anything is made: no history, no NATS store.
				for _, f := range []string{db, db + ".nats"} {
					if _, err := os.Stat(f); !errors.Is(err, os.ErrNotExist) {
						t.Errorf("%s left behind (%v)", f, err)
					}
				}
			}
			st, err := store.Open(db, store.Options{ReadOnly: true})
			if err != nil {
				if errors.Is(err, os.ErrNotExist) || errors.Is(err, store.ErrEmpty) {
					return
				}
				t.Fatal(err)
			}
			defer st.Close()
			if runs, err := st.Runs(); err != nil || len(runs) != 0 {
				t.Errorf("the history holds %d runs (%v); want none", len(runs), err)
			}
		})
	}
}

// TestRefusedStartLeavesTheHistory: a start refused for its dashboard's
// address (in use, or beyond loopback without a token) or for streams the
// NATS server cannot make (--replicas beyond its servers) leaves no run in
// the history: run again with the flag fixed, the command starts a new
// run, not the half-made one.
func TestRefusedStartLeavesTheHistory(t *testing.T) {
	t.Setenv(httpTokenEnv, "")
	srv := testnats.Start(t)
	inUse, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer inUse.Close()
	search := []string{"--problem", "regression", "--population", "4", "--generations", "1", "--final-epochs", "0", "--no-progress", "--log-level", "error"}
	coordinator := append([]string{"coordinator", "--nats", srv.URL()}, search...)
	run := append([]string{"run", "--workers", "1"}, search...)
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"coordinator --replicas beyond the servers", append(coordinator, "--replicas", "3"), "bus: stream GAHPO_TASKS with 3 replicas (a cluster of at least 3 JetStream servers)"},
		{"coordinator --http in use", append(coordinator, "--http", inUse.Addr().String()), "dashboard: listen tcp " + inUse.Addr().String()},
		{"coordinator --http without a token", append(coordinator, "--http", "0.0.0.0:0"), "beyond loopback, needs a token"},
		{"run --http in use", append(run, "--http", inUse.Addr().String()), "dashboard: listen tcp " + inUse.Addr().String()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			db := filepath.Join(t.TempDir(), "h.db")
			_, _, err := runMain(t, append(slices.Clone(tt.args), "--db", db)...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v; want %q", err, tt.want)
			}
			if n := runCount(t, db); n != 0 {
				t.Errorf("the refused start left %d runs in the history; want none", n)
			}
		})
	}
}

// TestErrorsNameTheirCommand: the errors users hit name the command they
// ran: export's run not found said "report:", and an empty --db ("--db=")
// was a file named "" that could not be opened.
func TestErrorsNameTheirCommand(t *testing.T) {
	dir := t.TempDir()
	db, empty := filepath.Join(dir, "h.db"), filepath.Join(dir, "empty.db")
	for _, path := range []string{db, empty} {
		st, err := store.Open(path, store.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if path == db {
			if err := st.CreateRun(gahpo.Run{ID: "r1", Status: gahpo.RunDone}, []byte("{}"), nil); err != nil {
				t.Fatal(err)
			}
		}
		st.Close()
	}
	out := filepath.Join(dir, "report")
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"export", "--db", db, "--run", "nosuch"}, "export: no run nosuch in " + db + "; its runs: r1"},
		{[]string{"export", "--db", db, "--run", "nosuch", "--format", "jsonl"}, "export: no run nosuch in " + db + "; its runs: r1"},
		{[]string{"export", "--db", empty}, "export: " + empty + " holds no run yet"},
		{[]string{"report", "--db", db, "--run", "nosuch", "--out", out}, "report: no run nosuch in " + db + "; its runs: r1"},
		{[]string{"export", "--db="}, "export: --db is empty: give the history file's path (by default gahpo.db)"},
		{[]string{"report", "--db=", "--out", out}, "report: --db is empty"},
		{[]string{"query", "runs", "--db="}, "query: --db is empty"},
		{[]string{"query", "runs", "--db=", db}, "query: unexpected argument \"" + db + "\": --db= gives its flag an empty value; to give it this one, write --db=" + db},
		{[]string{"export", "--db=", db}, "export: unexpected argument \"" + db + "\": --db= gives its flag an empty value"},
		{[]string{"run", "--db="}, "run: --db is empty"},
		{[]string{"coordinator", "--nats", "nats://127.0.0.1:1", "--db="}, "coordinator: --db is empty"},
		{[]string{"purge", "--nats", "nats://127.0.0.1:1", "--run", "r1", "--db="}, "purge: --db is empty"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			_, _, err := runMain(t, tt.args...)
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("err = %v; want one beginning %q", err, tt.want)
			}
		})
	}
}

// TestUnreadableSecretFileRefused: a secret file named by the environment
// that cannot be read stops the command, naming the variable, instead of
// connecting without credentials (the server's "Authorization Violation"
// would not say why); a file given with the flag replaces it.
func TestUnreadableSecretFileRefused(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "no-token")
	for _, env := range []string{"GAHPO_NATS_TOKEN_FILE", "GAHPO_NATS_PASSWORD_FILE"} {
		t.Run(env, func(t *testing.T) {
			t.Setenv(env, missing)
			for _, args := range [][]string{
				{"worker", "--nats", "nats://127.0.0.1:1"},
				{"status", "--nats", "nats://127.0.0.1:1"},
				{"purge", "--nats", "nats://127.0.0.1:1", "--run", "r"},
			} {
				_, _, err := runMain(t, args...)
				if err == nil || !strings.Contains(err.Error(), env+" names a secret file that cannot be read") {
					t.Errorf("%s with %s unreadable: %v; want it refused, naming %s", args[0], env, err, env)
				}
			}
		})
	}
	// The flag's file replaces the environment's.
	t.Setenv("GAHPO_NATS_TOKEN_FILE", missing)
	token := filepath.Join(dir, "token")
	if err := os.WriteFile(token, []byte("t0ken\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, _, err := runMain(t, "status", "--nats", "nats://127.0.0.1:1", "--nats-token-file", token)
	if err != nil && strings.Contains(err.Error(), "cannot be read") {
		t.Errorf("status with --nats-token-file: %v; want the flag's file used", err)
	}
}

// TestHelpKeepsSecrets: the environment's NATS URL, password and token
// act as the flags' values but are no defaults that -h or a usage message
// print; help of help is the command list, not an endless recursion.
func TestHelpKeepsSecrets(t *testing.T) {
	t.Setenv("GAHPO_NATS", "nats://user:url-secret@127.0.0.1:1")
	t.Setenv("GAHPO_NATS_PASSWORD", "password-secret")
	t.Setenv("GAHPO_NATS_TOKEN", "token-secret")
	for _, args := range [][]string{{"query", "-h"}, {"status", "-h"}, {"worker", "-h"}, {"nats", "-h"}, {"run", "-h"}, {"purge", "-h"}, {"export", "-h"},
		{"query"}, {"report"}, {"help", "coordinator"}} {
		_, stderr, _ := runMain(t, args...)
		for _, secret := range []string{"url-secret", "password-secret", "token-secret"} {
			if strings.Contains(stderr, secret) {
				t.Errorf("gahpo %s printed %s:\n%s", strings.Join(args, " "), secret, stderr)
			}
		}
	}
	for _, args := range [][]string{{"help", "help"}, {"-h", "-h"}, {"help", "-h"}} {
		if _, _, err := runMain(t, args...); err != nil {
			t.Errorf("gahpo %s: %v", strings.Join(args, " "), err)
		}
	}
}

// TestSecretGivenTwiceRefused: a NATS secret given twice is refused by
// every command that reads it, naming the two sources, and never printing
// the secret: a variable and its _FILE twin both set (the server took the
// file and the clients the variable, and the clients heard "Authorization
// Violation"), and a flag and its file flag both given (the last one won,
// silently). A flag given replaces the environment.
func TestSecretGivenTwiceRefused(t *testing.T) {
	dir := t.TempDir()
	const inVar, inFile = "s3cret-of-the-variable", "s3cret-of-the-file"
	file := filepath.Join(dir, "secret")
	if err := os.WriteFile(file, []byte(inFile+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	users := filepath.Join(dir, "users.conf")
	if err := os.WriteFile(users, []byte("authorization { users = [ {user: worker, password: $GAHPO_WORKER_PASSWORD} ] }\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, env := range []string{"GAHPO_NATS", "GAHPO_NATS_USER", tokenEnv, tokenEnv + "_FILE", passwordEnv, passwordEnv + "_FILE",
		routePasswordEnv, routePasswordEnv + "_FILE", "GAHPO_WORKER_PASSWORD", "GAHPO_WORKER_PASSWORD_FILE"} {
		t.Setenv(env, "")
	}
	const url = "nats://127.0.0.1:1"
	clients := func() [][]string {
		return [][]string{
			{"worker", "--nats", url},
			{"status", "--nats", url},
			{"coordinator", "--nats", url, "--problem", "regression", "--db", filepath.Join(t.TempDir(), "h.db")},
			{"query", "runs", "--nats", url},
			{"report", "--nats", url, "--out", t.TempDir()},
			{"export", "--nats", url},
			{"purge", "--nats", url, "--run", "r"},
		}
	}
	// run runs a command line for at most d: one that wrongly starts a
	// server, or keeps trying to connect (a worker), returns when the
	// context ends.
	run := func(t *testing.T, d time.Duration, args []string) error {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), d)
		defer cancel()
		var out, errb bytes.Buffer
		err := (&Main{Stdout: &out, Stderr: &errb}).Run(ctx, args)
		if printed := out.String() + errb.String() + fmt.Sprint(err); strings.Contains(printed, inVar) || strings.Contains(printed, inFile) {
			t.Errorf("gahpo %s printed the secret:\n%s", strings.Join(args, " "), printed)
		}
		return err
	}
	type tc struct {
		name string
		env  []string // variable, value, ...
		args []string
		want string // in the error
	}
	var tests []tc
	for _, env := range []string{tokenEnv, passwordEnv} {
		both := []string{env, inVar, env + "_FILE", file}
		want := env + " and " + env + "_FILE are both set"
		for _, args := range clients() {
			tests = append(tests, tc{args[0] + " with " + env + " twice", both, args, args[0] + ": " + want}) // named by its command, as its other errors
		}
		server := []string{"nats", "--store", t.TempDir()}
		if env == passwordEnv {
			server = append(server, "--user", "u")
		} else {
			tests = append(tests, tc{"run with " + env + " twice", both, []string{"run", "--problem", "regression", "--db", filepath.Join(t.TempDir(), "h.db"), "--listen", "0.0.0.0:0"}, want})
		}
		tests = append(tests, tc{"nats with " + env + " twice", both, server, want})
	}
	tests = append(tests, tc{"nats --users with a referenced variable twice", []string{"GAHPO_WORKER_PASSWORD", inVar, "GAHPO_WORKER_PASSWORD_FILE", file},
		[]string{"nats", "--users", users, "--store", t.TempDir()}, "GAHPO_WORKER_PASSWORD and GAHPO_WORKER_PASSWORD_FILE are both set"})
	for _, secret := range []string{"token", "password"} {
		flag := "--nats-" + secret
		want := flag + " and " + flag + "-file both give the " + secret
		for _, args := range clients() {
			tests = append(tests,
				tc{args[0] + " " + flag + " and its file", nil, append(args, flag, inVar, flag+"-file", file), want},
				tc{args[0] + " " + flag + "-file and its value", nil, append(args, flag+"-file", file, flag, inVar), want})
		}
		server := []string{"nats", "--store", t.TempDir()}
		if secret == "password" {
			server = append(server, "--user", "u")
		}
		tests = append(tests,
			tc{"nats --" + secret + " and its file", nil, append(server, "--"+secret, inVar, "--"+secret+"-file", file), "--" + secret + " and --" + secret + "-file both give the " + secret},
			tc{"nats --" + secret + "-file and its value", nil, append(server, "--"+secret+"-file", file, "--"+secret, inVar), "--" + secret + " and --" + secret + "-file both give the " + secret})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for i := 0; i < len(tt.env); i += 2 {
				t.Setenv(tt.env[i], tt.env[i+1])
			}
			err := run(t, 5*time.Second, tt.args)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("gahpo %s: %v; want an error containing %q", strings.Join(tt.args, " "), err, tt.want)
			}
		})
	}
	// The command line replaces the environment, both variables set or not.
	t.Run("a flag replaces the environment", func(t *testing.T) {
		t.Setenv(tokenEnv, inVar)
		t.Setenv(tokenEnv+"_FILE", file)
		for _, args := range clients() {
			args = append(args, "--nats-token-file", file)
			if err := run(t, 300*time.Millisecond, args); err != nil && strings.Contains(err.Error(), "both") {
				t.Errorf("gahpo %s: %v; want the flag's file used", strings.Join(args, " "), err)
			}
		}
	})
}

// TestSecretApartNotPrinted: a secret flag given an empty value and the
// secret apart (--nats-token= s3cret, a stray space) is refused without the
// secret, which the error of a stray argument printed ("unexpected argument
// \"s3cret\" ... write --nats-token=s3cret").
func TestSecretApartNotPrinted(t *testing.T) {
	const secret = "s3cret-after-a-space"
	const url = "nats://127.0.0.1:1"
	var tests [][]string
	for _, flag := range []string{"--nats-token=", "--nats-password=", "-nats-token="} {
		for _, args := range [][]string{
			{"worker", "--nats", url}, {"status", "--nats", url}, {"coordinator", "--nats", url, "--problem", "regression"},
			{"query", "runs", "--nats", url}, {"report", "--nats", url, "--out", t.TempDir()}, {"export", "--nats", url},
			{"purge", "--nats", url, "--run", "r"},
		} {
			tests = append(tests, append(args, flag, secret))
		}
	}
	for _, flag := range []string{"--token=", "--password="} {
		tests = append(tests, []string{"nats", "--store", t.TempDir(), "--user", "u", flag, secret}, []string{"nats", flag, secret, "health"})
	}
	for _, args := range tests {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			var out, errb bytes.Buffer
			err := (&Main{Stdout: &out, Stderr: &errb}).Run(ctx, args)
			if err == nil || !strings.Contains(err.Error(), "not shown: it may be the secret") {
				t.Errorf("err = %v; want the argument refused, not shown", err)
			}
			if printed := out.String() + errb.String() + fmt.Sprint(err); strings.Contains(printed, secret) {
				t.Errorf("the secret is printed:\n%s", printed)
			}
		})
	}
}
