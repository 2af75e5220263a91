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
	"strings"
	"testing"
	"time"

	"github.com/gahpo/gahpo"
	"github.com/gahpo/gahpo/bus"
	"github.com/gahpo/gahpo/ga"
	"github.com/gahpo/gahpo/internal/testnats"
	"github.com/gahpo/gahpo/models/problems"
	"github.com/gahpo/gahpo/store"
)

// TestMainInProcess drives Main.Run as the command line would, in this
// process: help, version, and the flag errors every command reports before
// it opens a file or a connection.
func TestMainInProcess(t *testing.T) {
	for _, env := range []string{"GAHPO_NATS", "GAHPO_NATS_TOKEN", "GAHPO_NATS_TOKEN_FILE", "GAHPO_NATS_PASSWORD", "GAHPO_NATS_PASSWORD_FILE",
		"GAHPO_NATS_ROUTE_PASSWORD", "GAHPO_NATS_ROUTE_PASSWORD_FILE"} {
		t.Setenv(env, "")
	}
	emptyDB := filepath.Join(t.TempDir(), "empty.db")
	st, err := store.Open(emptyDB, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	emptyFile := filepath.Join(t.TempDir(), "empty")
	if err := os.WriteFile(emptyFile, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	busy, err := net.Listen("tcp", "127.0.0.1:0") // an address in use: another server's
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	inUse := busy.Addr().String()
	tests := []struct {
		name       string
		args       []string
		wantErr    string // "" for success; flag.ErrHelp matches "help requested"
		wantStdout string
		wantStderr string
		quiet      bool // nothing on stderr: the error alone says it, once
	}{
		{name: "no command", args: nil, wantErr: errUsage.Error(), wantStderr: "Commands:"},
		{name: "help", args: []string{"help"}, wantStderr: "coordinator"},
		{name: "help of a command", args: []string{"help", "run"}, wantErr: flag.ErrHelp.Error(), wantStderr: "-preset"},
		{name: "version", args: []string{"version"}, wantStdout: "gahpo " + version},
		{name: "unknown command", args: []string{"train"}, wantErr: `unknown command "train"`},
		{name: "unknown flag", args: []string{"run", "--bogus"}, wantErr: "run: flag provided but not defined: -bogus (gahpo help run lists its flags)", quiet: true},
		{name: "bad flag value", args: []string{"run", "--population", "many"}, wantErr: `invalid value "many"`, quiet: true},
		{name: "missing file of known genomes", args: []string{"run", "--enqueue", "@" + filepath.Join(t.TempDir(), "missing")}, wantErr: "read known genomes", quiet: true},
		{name: "unknown preset", args: []string{"run", "--preset", "huge"}, wantErr: `unknown --preset "huge"`},
		{name: "bad log level", args: []string{"run", "--log-level", "loud"}, wantErr: `bad --log-level "loud"`},
		{name: "unknown problem", args: []string{"run", "--problem", "chess"}, wantErr: "chess"},
		{name: "bad listen address", args: []string{"run", "--problem", "regression", "--listen", "nowhere"}, wantErr: `bad --listen "nowhere"`},
		{name: "coordinator without NATS", args: []string{"coordinator"}, wantErr: "--nats URL is required"},
		{name: "status without NATS", args: []string{"status"}, wantErr: `status: --nats URL is required: the NATS server of the running coordinator (gahpo run prints its own, "embedded NATS on nats://...")`},
		{name: "status of a history file", args: []string{"status", "--db", "gahpo.db"}, wantErr: "status: asks a running coordinator over NATS (--nats URL); a history file's runs are in gahpo query runs --db gahpo.db"},
		{name: "status of a history file whose name a shell splits", args: []string{"status", "--db", "my runs.db"},
			wantErr: "a history file's runs are in gahpo query runs --db 'my runs.db', a run's best genomes in gahpo query best --db 'my runs.db', the whole of it in gahpo report --db 'my runs.db' --out DIR"},
		{name: "run with a stray argument after an empty --flag=", args: []string{"run", "--problem", "regression", "--fidelity=", "halving"},
			wantErr: `run: unexpected argument "halving": --fidelity= gives its flag an empty value; to give it this one, write --fidelity=halving`},
		{name: "run with a stray argument", args: []string{"run", "extra", "--problem", "regression"}, wantErr: `run: unexpected argument "extra"`},
		{name: "coordinator with a stray argument", args: []string{"coordinator", "--nats", "nats://127.0.0.1:1", "now"}, wantErr: `coordinator: unexpected argument "now"`},
		{name: "worker with a stray argument", args: []string{"worker", "--nats", "nats://127.0.0.1:1", "gpu"}, wantErr: `worker: unexpected argument "gpu"`},
		{name: "status with a stray argument after an empty --flag=", args: []string{"status", "-run=", "abc"}, wantErr: `write -run=abc`},
		{name: "purge with a stray argument", args: []string{"purge", "--nats", "nats://127.0.0.1:1", "--run", "x", "y"}, wantErr: `purge: unexpected argument "y"`},
		{name: "query without what", args: []string{"query", "--db", emptyDB}, wantErr: "say what to query"},
		{name: "query of an unknown thing", args: []string{"query", "everything", "--db", emptyDB}, wantErr: `unknown query "everything"`},
		{name: "query generation without number", args: []string{"query", "generation", "--db", emptyDB}, wantErr: "needs a number"},
		{name: "query generation bad number", args: []string{"query", "generation", "two", "--db", emptyDB}, wantErr: `bad number "two"`},
		{name: "query runs of an empty history", args: []string{"query", "runs", "--db", emptyDB}},
		{name: "query runs of an empty history as JSON: a list", args: []string{"query", "runs", "--json", "--db", emptyDB}, wantStdout: "[]"},
		{name: "query best of an empty history", args: []string{"query", "best", "--db", emptyDB}, wantErr: "not found"},
		{name: "NATS beyond loopback without authentication", args: []string{"nats", "--listen", "0.0.0.0:0", "--store", filepath.Join(t.TempDir(), "js")},
			wantErr: "reaches beyond loopback and no client would need to authenticate"},
		{name: "NATS on every interface without authentication", args: []string{"nats", "--listen", ":0", "--store", filepath.Join(t.TempDir(), "js")},
			wantErr: "beyond loopback"},
		{name: "NATS beyond loopback with a user but no password", args: []string{"nats", "--listen", "0.0.0.0:0", "--user", "u", "--store", filepath.Join(t.TempDir(), "js")},
			wantErr: "--user u has no password: set GAHPO_NATS_PASSWORD_FILE=FILE"},
		{name: "NATS health with a stray argument", args: []string{"nats", "health", "extra"}, wantErr: `nats: health: unexpected argument "extra"`},
		{name: "NATS with a user but no password", args: []string{"nats", "--user", "u", "--store", filepath.Join(t.TempDir(), "js")},
			wantErr: "--user u has no password"},
		{name: "NATS with a password file but no user", args: []string{"nats", "--password-file", emptyFile, "--store", filepath.Join(t.TempDir(), "js")},
			wantErr: "--password and --password-file go with --user"},
		{name: "NATS routes beyond loopback without a password", args: []string{"nats", "--cluster", "0.0.0.0:0", "--server-name", "n1", "--routes", "nats://127.0.0.1:1", "--store", filepath.Join(t.TempDir(), "js")},
			wantErr: "--cluster 0.0.0.0:0 reaches beyond loopback and the routes have no password"},
		{name: "NATS routes on every interface without a password", args: []string{"nats", "--cluster", ":0", "--server-name", "n1", "--routes", "nats://127.0.0.1:1", "--store", filepath.Join(t.TempDir(), "js")},
			wantErr: "set GAHPO_NATS_ROUTE_PASSWORD_FILE=FILE"},
		{name: "NATS routes with an empty password file", args: []string{"nats", "--cluster", "0.0.0.0:0", "--route-password-file", emptyFile, "--server-name", "n1", "--routes", "nats://127.0.0.1:1", "--store", filepath.Join(t.TempDir(), "js")},
			wantErr: "route password file " + emptyFile + " is empty"},
		{name: "NATS users file with a token file", args: []string{"nats", "--users", emptyFile, "--token-file", emptyFile, "--store", filepath.Join(t.TempDir(), "js")},
			wantErr: "--users excludes --token and --token-file"},
		{name: "NATS route password without a cluster", args: []string{"nats", "--route-password-file", emptyFile, "--store", filepath.Join(t.TempDir(), "js")},
			wantErr: "--route-password-file without --cluster"},
		{name: "NATS on an address in use", args: []string{"nats", "--listen", inUse, "--store", filepath.Join(t.TempDir(), "js")},
			wantErr: "nats: --listen " + inUse + ": address already in use"},
		{name: "NATS monitoring on an address in use", args: []string{"nats", "--listen", "127.0.0.1:0", "--monitor", inUse, "--store", filepath.Join(t.TempDir(), "js")},
			wantErr: "nats: --monitor " + inUse + ": address already in use"},
		{name: "NATS routes on an address in use", args: []string{"nats", "--listen", "127.0.0.1:0", "--cluster", inUse, "--server-name", "n1", "--routes", "nats://127.0.0.1:1", "--store", filepath.Join(t.TempDir(), "js")},
			wantErr: "nats: --cluster " + inUse + ": address already in use"},
		{name: "run on an address in use", args: []string{"run", "--problem", "regression", "--db", filepath.Join(t.TempDir(), "h.db"), "--listen", inUse},
			wantErr: "run: --listen " + inUse + ": address already in use"},
		{name: "NATS help names each secret's variables", args: []string{"nats", "-h"}, wantErr: flag.ErrHelp.Error(),
			wantStderr: "file holding the password of --user; env GAHPO_NATS_PASSWORD_FILE, or the password in GAHPO_NATS_PASSWORD (not both)"},
		{name: "a secret as an argument warns", args: []string{"query", "runs", "--db", emptyDB, "--nats-token", "s3cret"},
			wantStderr: "warning: --nats-token puts a secret where every user of this machine can read it (ps); use GAHPO_NATS_TOKEN_FILE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			m := &Main{Stdout: &out, Stderr: &errOut}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			err := m.Run(ctx, tt.args)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("Run(%q) = %v, want success\nstderr: %s", tt.args, err, errOut.String())
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("Run(%q) = %v, want an error containing %q", tt.args, err, tt.wantErr)
			}
			if !strings.Contains(out.String(), tt.wantStdout) {
				t.Errorf("Run(%q): stdout %q, want it to contain %q", tt.args, out.String(), tt.wantStdout)
			}
			if tt.quiet && errOut.Len() > 0 {
				t.Errorf("Run(%q): stderr %q, want nothing (the error is printed once, by main)", tt.args, errOut.String())
			}
			if !strings.Contains(errOut.String(), tt.wantStderr) {
				t.Errorf("Run(%q): stderr %q, want it to contain %q", tt.args, errOut.String(), tt.wantStderr)
			}
		})
	}
	// -h prints the command's usage once (commands with a usage of their
	// own, and one with the flag package's).
	for _, cmd := range []string{"run", "report", "query", "nats", "export", "worker"} {
		var errOut bytes.Buffer
		err := (&Main{Stdout: &bytes.Buffer{}, Stderr: &errOut}).Run(context.Background(), []string{cmd, "-h"})
		if n := strings.Count(errOut.String(), "Usage"); !errors.Is(err, flag.ErrHelp) || n != 1 {
			t.Errorf("gahpo %s -h: %v, %d usages printed; want flag.ErrHelp and one", cmd, err, n)
		}
	}
	if err := (&Main{Stdout: &bytes.Buffer{}, Stderr: &bytes.Buffer{}}).Run(context.Background(), nil); !errors.Is(err, errUsage) {
		t.Errorf("Run without a command = %v, want errUsage (exit status 2)", err)
	}
}

// TestPresets parses the search flags of a command line and checks the run
// configuration: each preset's defaults per problem, and flags that
// override them.
func TestPresets(t *testing.T) {
	def := ga.DefaultConfig()
	type want struct {
		population, generations, elites, tournament int
		trainSubset, finalEpochs, workers           int
	}
	tests := []struct {
		name string
		args []string
		want want
	}{
		{"quick cnn (the defaults)", nil, want{8, 4, min(def.Elites, 7), min(def.TournamentSize, 8), 6000, 1, 2}},
		{"quick regression", []string{"--problem", "regression"}, want{20, 8, min(def.Elites, 19), min(def.TournamentSize, 20), 0, 1, 2}},
		{"paper cnn", []string{"--preset", "paper"}, want{30, 28, min(def.Elites, 29), min(def.TournamentSize, 30), 0, 14, 2}},
		{"paper regression", []string{"--preset", "paper", "--problem", "regression"}, want{30, 28, min(def.Elites, 29), min(def.TournamentSize, 30), 0, 14, 2}},
		{"flags override the preset", []string{"--preset", "paper", "--population", "6", "--generations", "2", "--train-subset", "100", "--final-epochs", "0"},
			want{6, 2, min(def.Elites, 5), min(def.TournamentSize, 6), 100, 0, 2}},
		{"small population caps elites and tournament", []string{"--population", "2"}, want{2, 4, min(def.Elites, 1), min(def.TournamentSize, 2), 6000, 1, 2}},
		{"explicit elites and tournament", []string{"--population", "10", "--elites", "3", "--tournament", "4"}, want{10, 4, 3, 4, 6000, 1, 2}},
		{"flags after a positional argument", []string{"extra", "--generations", "5"}, want{8, 5, min(def.Elites, 7), min(def.TournamentSize, 8), 6000, 1, 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := flag.NewFlagSet("test", flag.ContinueOnError)
			var sf searchFlags
			sf.register(fs)
			if _, err := parse(fs, tt.args); err != nil {
				t.Fatalf("parse %q: %v", tt.args, err)
			}
			rc, p, err := sf.config()
			if err != nil {
				t.Fatalf("config of %q: %v", tt.args, err)
			}
			got := want{rc.GA.Population, rc.GA.Generations, rc.GA.Elites, rc.GA.TournamentSize, rc.TrainSubset, rc.FinalEpochs, p.workers}
			if got != tt.want {
				t.Errorf("%q:\n got %+v\nwant %+v", tt.args, got, tt.want)
			}
			if rc.MaxAttempts != 3 || rc.AckWait != bus.DefaultAckWait || rc.GA.Seed != 1 {
				t.Errorf("%q: max attempts %d, ack wait %v, seed %d; want the flags' defaults 3, %v, 1", tt.args, rc.MaxAttempts, rc.AckWait, rc.GA.Seed, bus.DefaultAckWait)
			}
			if wantProblem := problems.CNN; !strings.Contains(strings.Join(tt.args, " "), "regression") && rc.Problem != wantProblem {
				t.Errorf("%q: problem %q, want %q", tt.args, rc.Problem, wantProblem)
			}
		})
	}
}

// TestBudgetFlags: --time-budget and --budget-epochs reach the run's
// configuration where something breeds genome by genome, and are refused
// where a generational one-epoch engine would ignore them.
func TestBudgetFlags(t *testing.T) {
	tests := []struct {
		args    []string
		time    time.Duration
		epochs  int
		wantErr string
	}{
		{[]string{"--preset", "best", "--time-budget", "2h"}, 2 * time.Hour, 0, ""},
		{[]string{"--preset", "best", "--budget-epochs", "200"}, 0, 200, ""},
		{[]string{"--breeding", "steady-state", "--time-budget", "90m"}, 90 * time.Minute, 0, ""},
		{[]string{"--preset", "paper", "--time-budget", "1h"}, 0, 0, "needs halving fidelity or steady-state or random breeding"},
		{[]string{"--preset", "paper", "--budget-epochs", "10"}, 0, 0, "needs halving fidelity or steady-state or random breeding"},
	}
	for _, tt := range tests {
		if rc, ok := configCase(t, tt.args, tt.wantErr); ok && (rc.TimeBudget != tt.time || rc.BudgetEpochs != tt.epochs) {
			t.Errorf("%q: time budget %v, epochs %d; want %v, %d", tt.args, rc.TimeBudget, rc.BudgetEpochs, tt.time, tt.epochs)
		}
	}
}

// TestConfirmFlags: --confirm-seeds and --confirm-top reach a halving or
// population based run's configuration and are refused without either.
func TestConfirmFlags(t *testing.T) {
	tests := []struct {
		args       []string
		seeds, top int
		wantErr    string
	}{
		{[]string{"--preset", "best"}, 0, 0, ""},
		{[]string{"--preset", "best", "--confirm-seeds", "3"}, 3, 3, ""},
		{[]string{"--preset", "best", "--confirm-seeds", "2", "--confirm-top", "5"}, 2, 5, ""},
		{[]string{"--preset", "best", "--confirm-seeds", "1"}, 0, 0, ""},
		{[]string{"--preset", "paper", "--confirm-seeds", "3"}, 0, 0, "needs --fidelity halving or pbt"},
		{[]string{"--preset", "pbt", "--confirm-seeds", "3"}, 3, 3, ""},
		{[]string{"--preset", "pbt", "--confirm-seeds", "2", "--confirm-top", "8"}, 2, 8, ""},
		{[]string{"--preset", "best", "--confirm-top", "5"}, 0, 0, "needs --confirm-seeds above 1"},
	}
	for _, tt := range tests {
		if rc, ok := configCase(t, tt.args, tt.wantErr); ok && (rc.ConfirmSeeds != tt.seeds || rc.ConfirmTop != tt.top) {
			t.Errorf("%q: confirm seeds %d, top %d; want %d, %d", tt.args, rc.ConfirmSeeds, rc.ConfirmTop, tt.seeds, tt.top)
		}
	}
}

// TestBudgetGene: a multi-fidelity run of the regression leaves its epochs
// gene to the rungs (not bred, not in --enqueue's genomes); a one-epoch run
// and the CNN, which has no such gene, keep the whole space.
func TestBudgetGene(t *testing.T) {
	tests := []struct {
		args    []string
		gene    string
		initial int // genes of the known genome
		wantErr string
	}{
		{args: []string{"--problem", "regression", "--fidelity", "halving", "--enqueue", "lr=0.01,batch_size=16"}, gene: "epochs", initial: 2},
		{args: []string{"--problem", "regression", "--fidelity", "pbt", "--enqueue", "lr=0.01,batch_size=16"}, gene: "epochs", initial: 2},
		{args: []string{"--problem", "regression", "--enqueue", "lr=0.01,batch_size=16,epochs=120"}, initial: 3},
		// Configured as a run stored before the budget gene was (which the
		// same command resumes); a new run is refused (TestLegacyEnqueue).
		{args: []string{"--problem", "regression", "--fidelity", "halving", "--enqueue", "lr=0.01,batch_size=16,epochs=120"}, initial: 3},
		{args: []string{"--problem", "regression", "--enqueue", "lr=0.01,batch_size=16"}, wantErr: `parameter "epochs" missing`},
		{args: []string{"--preset", "best", "--enqueue", "batch_size=64,lr=1,gamma=0.7,weight_decay=1e-7"}, initial: 4},
	}
	for _, tt := range tests {
		if rc, ok := configCase(t, tt.args, tt.wantErr); ok && (rc.BudgetGene != tt.gene || len(rc.GA.Initial) == 0 || len(rc.GA.Initial[len(rc.GA.Initial)-1]) != tt.initial) {
			t.Errorf("%q: budget gene %q, known genomes %v; want %q and the last of %d genes", tt.args, rc.BudgetGene, rc.GA.Initial, tt.gene, tt.initial)
		}
	}
}

// configCase parses args as runConfigOf does and reports whether the
// configuration is there to check: a wanted error (wantErr, a part of its
// text) or an unwanted one fails the test case.
func configCase(t *testing.T, args []string, wantErr string) (gahpo.RunConfig, bool) {
	t.Helper()
	rc, err := runConfigOf(t, args)
	switch {
	case wantErr != "":
		if err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Errorf("%q: error %v, want one saying %q", args, err, wantErr)
		}
		return rc, false
	case err != nil:
		t.Errorf("%q: %v", args, err)
		return rc, false
	}
	return rc, true
}

// TestLegacyEnqueue: --enqueue naming the gene a halving run's rungs
// decide is refused for a new run, and resumes the run that the same
// command started before the budget gene (whose genomes have it).
func TestLegacyEnqueue(t *testing.T) {
	args := []string{"--problem", "regression", "--fidelity", "halving", "--enqueue", "lr=0.01,batch_size=16,epochs=120"}
	rc, sf, err := searchConfigOf(t, args)
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(filepath.Join(t.TempDir(), "h.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	const refusal = `epochs is left out with --fidelity halving: the rungs decide it (--min-epochs 10 to --max-epochs 300)`
	if _, err := sf.checkResume(st, rc, io.Discard); err == nil || !strings.Contains(err.Error(), refusal) {
		t.Errorf("a new run: %v, want %q", err, refusal)
	}
	old := gahpo.Run{ID: "20261201-000000-aaaaaa", Config: rc, Params: []string{"lr", "batch_size", "epochs"}, Status: gahpo.RunRunning, Started: time.Now()}
	if err := st.CreateRun(old, nil, nil); err != nil {
		t.Fatal(err)
	}
	if got, err := sf.checkResume(st, rc, io.Discard); err != nil || got.ID != old.ID {
		t.Errorf("the run it started before the budget gene: %+v, %v; want it resumed", got, err)
	}
	newer := old
	newer.ID, newer.Config.BudgetGene = "20261203-000000-bbbbbb", "epochs"
	if err := st.CreateRun(newer, nil, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := sf.checkResume(st, rc, io.Discard); err == nil {
		t.Error("a run that leaves the gene out resumed with --enqueue naming it")
	}
}

// TestBudgetlessProblemFile: a problem file without a budget of epochs
// may run halving or pbt when --min-epochs and --max-epochs give one; a
// multi-fidelity run records no final epochs of its own (its top rung is
// its final training).
func TestBudgetlessProblemFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "nob.yaml")
	text := "name: nobudget-cli-test\nspace:\n  - {name: x, type: float, min: -1, max: 1}\nobjective: {metric: loss}\ntrain: {command: [./t]}\n"
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		args     []string
		min, max int
		wantErr  string
	}{
		{args: []string{"--fidelity", "halving", "--min-epochs", "1", "--max-epochs", "4"}, min: 1, max: 4},
		{args: []string{"--fidelity", "pbt", "--population", "4", "--min-epochs", "2", "--max-epochs", "6"}, min: 2, max: 6},
		{args: []string{"--fidelity", "halving", "--max-epochs", "4"}, wantErr: "give one in its file (budget: {min: 1, max: 14}) or both --min-epochs and --max-epochs"},
	}
	for _, tt := range tests {
		args := append([]string{"--problem-file", path}, tt.args...)
		if rc, ok := configCase(t, args, tt.wantErr); ok && (rc.MinEpochs != tt.min || rc.MaxEpochs != tt.max || rc.FinalEpochs != 0) {
			t.Errorf("%q: epochs %d to %d, final epochs %d; want %d to %d, 0", args, rc.MinEpochs, rc.MaxEpochs, rc.FinalEpochs, tt.min, tt.max)
		}
	}
}

// runConfigOf parses run's search flags args into a validated run
// configuration.
func runConfigOf(t *testing.T, args []string) (gahpo.RunConfig, error) {
	t.Helper()
	rc, _, err := searchConfigOf(t, args)
	if err == nil {
		err = rc.Validate()
	}
	return rc, err
}

// searchConfigOf parses a search command's flags and returns the run
// configuration they make, with the flags.
func searchConfigOf(t *testing.T, args []string) (gahpo.RunConfig, *searchFlags, error) {
	t.Helper()
	fs := flag.NewFlagSet("test", flag.ContinueOnError)
	sf := &searchFlags{}
	sf.register(fs)
	if _, err := parse(fs, args); err != nil {
		t.Fatalf("parse %q: %v", args, err)
	}
	rc, _, err := sf.config()
	return rc, sf, err
}

func TestPBTFlags(t *testing.T) {
	tests := []struct {
		args               []string
		pop, interval, top int
		wantErr            string
	}{
		{[]string{"--preset", "pbt"}, 16, 1, 14, ""},
		{[]string{"--preset", "pbt", "--population", "8", "--min-epochs", "2", "--max-epochs", "10"}, 8, 2, 10, ""},
		{[]string{"--fidelity", "pbt", "--population", "6"}, 6, 1, 14, ""},
		{[]string{"--preset", "pbt", "--breeding", "steady-state"}, 0, 0, 0, "breeds its population once"},
		{[]string{"--preset", "pbt", "--time-budget", "1h"}, 0, 0, 0, "no budget of epochs or time"},
		{[]string{"--preset", "pbt", "--population", "3"}, 0, 0, 0, "population of at least 4"},
		{[]string{"--fidelity", "pbs"}, 0, 0, 0, "one-epoch, halving or pbt"},
	}
	for _, tt := range tests {
		if rc, ok := configCase(t, tt.args, tt.wantErr); ok && (!rc.PBT() || rc.GA.Population != tt.pop || rc.MinEpochs != tt.interval || rc.MaxEpochs != tt.top) {
			t.Errorf("%q: fidelity %q, population %d, every %d epochs to %d; want pbt, %d, %d, %d", tt.args, rc.Fidelity, rc.GA.Population, rc.MinEpochs, rc.MaxEpochs, tt.pop, tt.interval, tt.top)
		}
	}
}

// TestConflictsFinalEpochsMultiFidelity: --final-epochs, which halving and
// pbt do not use (and no longer record), does not stop the same command
// from resuming a halving run stored with it; a one-epoch run's does.
func TestConflictsFinalEpochsMultiFidelity(t *testing.T) {
	halving := gahpo.RunConfig{Fidelity: gahpo.FidelityHalving}
	stored := halving
	stored.FinalEpochs = 20
	given := map[string]bool{"final-epochs": true}
	if c := conflicts(given, halving, stored, nil); len(c) != 0 {
		t.Errorf("halving: conflicts %q", c)
	}
	if c := conflicts(given, gahpo.RunConfig{FinalEpochs: 14}, gahpo.RunConfig{FinalEpochs: 20}, nil); len(c) != 1 {
		t.Errorf("one-epoch: conflicts %q, want --final-epochs", c)
	}
}

// TestEnqueueSameGenomeOnce: a known genome given twice (by the preset and
// --enqueue, or twice by --enqueue, the same after rounding to the space's
// resolution) is enqueued once, and the run says so once; a run stored with
// both copies still resumes with the command that started it.
func TestEnqueueSameGenomeOnce(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		initial int    // known genomes enqueued
		warn    string // the warning, "" for none
		wantErr string
	}{
		{"the preset's PyTorch default", []string{"--preset", "best", "--enqueue", "batch_size=64,lr=1,gamma=0.7,weight_decay=1e-7"}, 1,
			`--enqueue "batch_size=64,lr=1,gamma=0.7,weight_decay=1e-7": the same genome as one enqueued before (by the preset or another --enqueue, after rounding to the space's resolution): enqueued once`, ""},
		{"pbt's too", []string{"--preset", "pbt", "--enqueue", "weight_decay=1e-7,gamma=0.7,lr=1,batch_size=64"}, 1, "enqueued once", ""},
		{"PyTorch's own weight decay 0 is outside the space", []string{"--preset", "best", "--enqueue", "batch_size=64,lr=1,gamma=0.7,weight_decay=0"}, 0, "",
			`"weight_decay": 0 outside [1e-07, 0.0001]`},
		{"the same after rounding", []string{"--problem", "regression", "--enqueue", "lr=0.01,batch_size=16,epochs=120", "--enqueue", "lr=0.0100000001,batch_size=16,epochs=120",
			"--enqueue", "lr=0.02,batch_size=16,epochs=120", "--enqueue", "lr=0.01,batch_size=16,epochs=120"}, 2,
			`--enqueue "lr=0.0100000001,batch_size=16,epochs=120", "lr=0.01,batch_size=16,epochs=120": the same genome`, ""},
		{"another genome", []string{"--preset", "best", "--enqueue", "batch_size=64,lr=1,gamma=0.75,weight_decay=1e-7"}, 2, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc, sf, err := searchConfigOf(t, tt.args)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one saying %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var w strings.Builder
			sf.warnIgnored(&w, rc)
			if len(rc.GA.Initial) != tt.initial || (tt.warn == "") != (w.Len() == 0) || !strings.Contains(w.String(), tt.warn) || strings.Count(w.String(), "enqueued once") > 1 {
				t.Fatalf("%d known genomes %v, warnings %q; want %d and %q", len(rc.GA.Initial), rc.GA.Initial, w.String(), tt.initial, tt.warn)
			}
		})
	}
	// A run stored with both copies (before they were enqueued once).
	rc, _, err := searchConfigOf(t, []string{"--preset", "best", "--enqueue", "batch_size=64,lr=1,gamma=0.7,weight_decay=1e-7"})
	if err != nil {
		t.Fatal(err)
	}
	stored := rc
	stored.GA.Initial = [][]float64{rc.GA.Initial[0], rc.GA.Initial[0]}
	if c := conflicts(map[string]bool{"enqueue": true}, rc, stored, nil); len(c) > 0 {
		t.Errorf("resuming a run stored with both copies: conflicts %q", c)
	}
	stored.GA.Initial = [][]float64{rc.GA.Initial[0], {32, 1, 0.7, 1e-7}}
	if c := conflicts(map[string]bool{"enqueue": true}, rc, stored, nil); len(c) != 1 {
		t.Errorf("resuming a run stored with another genome: conflicts %q", c)
	}
}

// TestLiveQueryWithoutCoordinator: asked live after its run ended (a
// finished coordinator answers no more: compose's query service, a
// newcomer's status), query, status and report say where the run is, its
// history file, not only that no coordinator answered.
func TestLiveQueryWithoutCoordinator(t *testing.T) {
	srv := testnats.Start(t)
	for _, args := range [][]string{
		{"query", "best", "--nats", srv.URL()},
		{"status", "--nats", srv.URL()},
		{"report", "--nats", srv.URL(), "--out", t.TempDir()},
	} {
		err := (&Main{Stdout: io.Discard, Stderr: io.Discard}).Run(context.Background(), args)
		if !errors.Is(err, bus.ErrNoService) || !strings.Contains(fmt.Sprint(err), "is in its history file: gahpo query and gahpo report read it with --db FILE") {
			t.Errorf("%s: %v; want no coordinator answered, and where the run is", args[0], err)
		}
	}
}

// TestEveryCommandsHelpSaysWhatItDoes: each command's -h starts with its
// usage line, as gahpo help COMMAND shows a newcomer, not only its flags
// ("Usage of gahpo run:" and the flags was all that run, coordinator,
// worker, status and purge said).
func TestEveryCommandsHelpSaysWhatItDoes(t *testing.T) {
	for _, c := range (&Main{}).commands() {
		if c.name == "version" {
			continue
		}
		var errOut bytes.Buffer
		err := (&Main{Stdout: io.Discard, Stderr: &errOut}).Run(context.Background(), []string{c.name, "-h"})
		if !errors.Is(err, flag.ErrHelp) {
			t.Errorf("%s -h: %v, want flag.ErrHelp", c.name, err)
		}
		if help := errOut.String(); !strings.HasPrefix(help, "Usage: gahpo "+c.name+" ") || !strings.Contains(help, "\n\n") {
			t.Errorf("%s -h does not start with its usage and what it does:\n%.300s", c.name, help)
		}
	}
}
