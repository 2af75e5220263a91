package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gahpo/gahpo"
	"github.com/gahpo/gahpo/store"
)

// TestProblemFileHalvingEndToEnd runs the toy problem file (a Python
// trainer, standard library only) with successive halving on the embedded
// default, then queries the history: choices come back as their values,
// and a promoted genome's trainer found its checkpoint directory again (it
// resumed where its last rung ended, so its curve has every epoch once).
func TestProblemFileHalvingEndToEnd(t *testing.T) {
	m, db, st, run := runToy(t, "--fidelity", "halving", "--breeding", "steady-state", "--population", "6", "--generations", "2")
	out := m.Stdout.(*bytes.Buffer)
	out.Reset()
	if err := m.Run(context.Background(), []string{"query", "best", "--per-generation", "--json", "--db", db}); err != nil {
		t.Fatal(err)
	}
	var best []gahpo.BestEntry
	if err := json.Unmarshal(out.Bytes(), &best); err != nil || len(best) == 0 {
		t.Fatalf("query best --json: %v\n%s", err, out.String())
	}
	for _, b := range best {
		if v := b.Choices["optimizer"]; !slices.Contains([]string{"sgd", "momentum", "adam"}, v) {
			t.Errorf("generation %d's best: optimizer %q, want its value", b.Generation, v)
		}
	}
	gs, err := st.Genomes(run.ID, -1)
	if err != nil {
		t.Fatal(err)
	}
	promoted := 0
	for _, g := range gs {
		if g.Rung == 0 || g.Status != gahpo.GenomeDone {
			continue
		}
		promoted++
		for i, e := range g.Curve {
			if e.Epoch != i+1 {
				t.Fatalf("genome %d: curve point %d is epoch %d (the checkpoint did not come back)", g.ID, i, e.Epoch)
			}
		}
		if !slices.ContainsFunc(g.Log, func(l string) bool { return strings.HasPrefix(l, "resuming at epoch") }) {
			t.Errorf("genome %d at rung %d: its trainer never resumed from a checkpoint; log %q", g.ID, g.Rung, g.Log)
		}
	}
	if promoted == 0 {
		t.Fatal("no genome was promoted")
	}
	if f, err := st.Final(run.ID); err != nil || len(f.Curve) != 9 {
		t.Fatalf("final training: %d epochs, %v; want the top rung's 9", len(f.Curve), err)
	}
	checkToyModel(t, st, run)
}

// checkToyModel checks that the history keeps the model the toy's final
// training wrote to GAHPO_WEIGHTS_FILE: its weight is the one its last
// epoch reported.
func checkToyModel(t *testing.T, st *store.Store, run gahpo.Run) {
	t.Helper()
	f, err := st.Final(run.ID)
	if err != nil {
		t.Fatal(err)
	}
	b, err := st.Weights(run.ID)
	if err != nil {
		t.Fatalf("no model kept: %v", err)
	}
	var model struct {
		W         float64 `json:"w"`
		Optimizer string  `json:"optimizer"`
	}
	if err := json.Unmarshal(b, &model); err != nil {
		t.Fatalf("the model kept is not the toy's: %v: %q", err, b)
	}
	last := f.Curve[len(f.Curve)-1].Metrics["w"]
	if model.W != float64(last) || model.Optimizer != f.Choices["optimizer"] || f.WeightsSize != len(b) {
		t.Errorf("model %+v (%d bytes, final says %d), want w %v of the last epoch, optimizer %q", model, len(b), f.WeightsSize, last, f.Choices["optimizer"])
	}
}

// TestProblemFileOneEpoch runs the toy problem file (budget 1 to 9
// epochs) with the default one-epoch fidelity: each genome's fitness is one
// epoch, the budget's lowest (its trainer once trained the highest, 9, for
// each), and the final training is the budget's highest, not a CNN preset's
// one epoch.
func TestProblemFileOneEpoch(t *testing.T) {
	m, db, st, run := runToy(t, "--population", "4", "--generations", "1")
	if want := "its model: gahpo export --db " + db + " --weights FILE"; !strings.Contains(m.Stdout.(*bytes.Buffer).String(), want) {
		t.Errorf("the summary does not say %q:\n%s", want, m.Stdout)
	}
	gs, err := st.Genomes(run.ID, -1)
	if err != nil || len(gs) == 0 {
		t.Fatalf("%d genomes, %v", len(gs), err)
	}
	for _, g := range gs {
		if g.Status == gahpo.GenomeDone && (len(g.Curve) != 1 || g.Epochs != 1) {
			t.Errorf("genome %d: %d curve points, %d epochs recorded; want the one epoch of the budget's lowest", g.ID, len(g.Curve), g.Epochs)
		}
	}
	if c := run.Config; c.FinalEpochs != 9 || c.FitnessEpochs != 1 {
		t.Errorf("final epochs %d, fitness epochs %d; want the budget's highest, 9, and lowest, 1", c.FinalEpochs, c.FitnessEpochs)
	}
	if f, err := st.Final(run.ID); err != nil || len(f.Curve) != 9 {
		t.Fatalf("final training: %d epochs, %v; want the budget's 9", len(f.Curve), err)
	}
	checkToyModel(t, st, run)
}

// runToy runs the toy problem file (a Python trainer, standard library
// only) on the embedded default with args, in a history of its own, and
// opens the history read-only; it skips with -short or without python3.
func runToy(t *testing.T, args ...string) (*Main, string, *store.Store, gahpo.Run) {
	t.Helper()
	if testing.Short() {
		t.Skip("a search with a Python trainer: -short")
	}
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("no python3 on PATH")
	}
	db := filepath.Join(t.TempDir(), "toy.db")
	var out, errOut bytes.Buffer
	m := &Main{Stdout: &out, Stderr: &errOut}
	args = append([]string{"run", "--problem-file", "../../examples/toy/problem.yaml", "--db", db, "--no-progress", "--log-level", "error"}, args...)
	if err := m.Run(context.Background(), args); err != nil {
		t.Fatalf("gahpo %s: %v\n%s", strings.Join(args, " "), err, errOut.String())
	}
	st, err := store.Open(db, store.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	runs, err := st.Runs()
	if err != nil || len(runs) != 1 {
		t.Fatalf("%d runs, %v", len(runs), err)
	}
	return m, db, st, runs[0]
}

// runShProblem runs `gahpo run` on a problem file whose command is sh -c
// script (written into dir, beside what the test put there), with the
// flags args and one attempt a genome, quietly, at most a minute; it
// returns the command, its stdout so far and the history file. A run
// that fails fails the test (runShProblemFails expects one).
func runShProblem(t *testing.T, dir, problem string, args ...string) (*Main, *bytes.Buffer, string) {
	t.Helper()
	m, out, db, err := runShProblemErr(t, dir, problem, args...)
	if err != nil {
		t.Fatalf("gahpo run: %v\n%s", err, m.Stderr)
	}
	return m, out, db
}

// runShProblemFails is runShProblem for a run that fails: gahpo run's
// error must say so, in the words want, after the summary.
func runShProblemFails(t *testing.T, dir, problem, want string, args ...string) (*Main, *bytes.Buffer, string) {
	t.Helper()
	m, out, db, err := runShProblemErr(t, dir, problem, args...)
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("gahpo run: %v; want the error of a failed run, saying %q\n%s", err, want, m.Stderr)
	}
	return m, out, db
}

func runShProblemErr(t *testing.T, dir, problem string, args ...string) (*Main, *bytes.Buffer, string, error) {
	t.Helper()
	if testing.Short() {
		t.Skip("a search with a command trainer: -short")
	}
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no sh on PATH")
	}
	if err := os.WriteFile(filepath.Join(dir, "problem.yaml"), []byte(problem), 0o600); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(dir, "h.db")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var out, errOut bytes.Buffer
	m := &Main{Stdout: &out, Stderr: &errOut}
	args = append([]string{"run", "--problem-file", filepath.Join(dir, "problem.yaml"), "--db", db,
		"--max-attempts", "1", "--no-progress", "--log-level", "error"}, args...)
	err := m.Run(ctx, args)
	return m, &out, db, err
}

// TestEveryGenomeFailedSaysWhy: a problem file whose command fails for
// every genome (here a module not installed) ends a run with no result,
// when it does not stop for failures (--max-failures 0; failstop_test.go
// tests the stop); the summary says so with the reason from the command's
// standard error, and query final says why there is no final training.
func TestEveryGenomeFailedSaysWhy(t *testing.T) {
	script := "echo Traceback >&2; echo \\\"ModuleNotFoundError: No module named 'torch'\\\" >&2; exit 1"
	problem := "name: broken\nspace:\n  - {name: x, type: float, min: 0, max: 1}\n" +
		"objective: {metric: val_loss, goal: minimize}\nbudget: {min: 1, max: 1}\n" +
		"train:\n  command: [sh, -c, \"" + script + "\"]\n"
	m, out, db := runShProblem(t, t.TempDir(), problem, "--population", "3", "--generations", "1", "--workers", "1", "--max-failures", "0")
	want := "failed: every one of the 3 genomes trained, so the run has no result; the reason (3): ModuleNotFoundError: No module named 'torch' (gahpo query genome 1 shows it whole)"
	if !strings.Contains(out.String(), want) {
		t.Errorf("summary:\n%s\nwant the line %q", out.String(), want)
	}
	if !strings.Contains(out.String(), "\nobjective: val_loss, minimised: a fitness is its value\n") {
		t.Errorf("summary:\n%s\nwant it to name the objective", out.String())
	}
	for _, q := range [][]string{{"query", "final"}, {"query", "best", "--per-generation=false"}} {
		err := m.Run(context.Background(), append(q, "--db", db))
		if err == nil || !strings.Contains(err.Error(), "every genome it trained failed") {
			t.Errorf("%s: %v; want it to say every genome failed", strings.Join(q, " "), err)
		}
	}
}

// TestPBTWithoutAResultSaysWhy: a population based training whose every
// last-step training fails ends without a result (the genomes it stopped
// do not train again), and says so: its stopped genomes did not fail.
// (--max-failures 0: by default, every resumption failing stops it for
// failures first, TestFailingResumptionsStopTheRun.)
func TestPBTWithoutAResultSaysWhy(t *testing.T) {
	script := `if [ \"$GAHPO_EPOCHS\" = 2 ]; then echo 'RuntimeError: diverged' >&2; exit 1; fi; ` +
		`echo 1 > \"$GAHPO_CHECKPOINT_DIR/state\"; echo '{\"epoch\": 1, \"val_loss\": 0.5}'`
	problem := "name: latefail\nspace:\n  - {name: x, type: float, min: 0, max: 1}\n" +
		"objective: {metric: val_loss, goal: minimize}\nbudget: {min: 1, max: 2}\n" +
		"train:\n  command: [sh, -c, \"" + script + "\"]\n"
	m, out, db := runShProblem(t, t.TempDir(), problem, "--fidelity", "pbt", "--population", "4", "--workers", "2", "--max-failures", "0")
	if !strings.Contains(out.String(), "checkpoints kept between rungs took at most ") {
		t.Errorf("summary:\n%s\nwant the checkpoints' peak, as a halving run's gives it", out.String())
	}
	want := regexp.MustCompile(`failed: \d of \d trained genomes, and none completed the last rung \(2 epochs\), so the run has no result; the reason \(\d\): RuntimeError: diverged`)
	if !want.MatchString(out.String()) {
		t.Errorf("summary:\n%s\nwant a line matching %q", out.String(), want)
	}
	for _, q := range [][]string{{"query", "final"}, {"query", "best", "--per-generation=false"}} {
		err := m.Run(context.Background(), append(q, "--db", db))
		if err == nil || !strings.Contains(err.Error(), "no genome completed its training to the last rung (2 epochs)") {
			t.Errorf("%s: %v; want it to say no genome completed the last rung", strings.Join(q, " "), err)
		}
	}
}

// TestRunProblemFileWithData: gahpo run's local workers get a problem
// file's data: files as remote workers do, from the object store; they
// looked for them among the MNIST files, handed every task back, and the
// run never ended.
func TestRunProblemFileWithData(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "loss.txt"), []byte("0.25\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	script := `read v < \"$GAHPO_DATA_DIR/loss.txt\" && echo \"{\\\"epoch\\\": 1, \\\"val_loss\\\": $v}\"`
	problem := "name: withdata\nspace:\n  - {name: x, type: float, min: 0, max: 1}\n" +
		"objective: {metric: val_loss, goal: minimize}\nbudget: {min: 1, max: 1}\ndata: [loss.txt]\n" +
		"train:\n  command: [sh, -c, \"" + script + "\"]\n"
	m, out, db := runShProblem(t, dir, problem, "--population", "2", "--generations", "1", "--workers", "2")
	ctx := context.Background()
	out.Reset()
	if err := m.Run(ctx, []string{"query", "best", "--per-generation=false", "--db", db, "--json"}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), `"fitness": 0.25`) {
		t.Errorf("best genome:\n%s\nwant the fitness read from the data file, 0.25", out.String())
	}
}

// TestModelNotKeptSaysWhy: a final training whose command writes a model
// gahpo cannot keep (here a folder, as a model saved with its own
// save_pretrained; or beyond 1 GiB) says why wherever a user looks for the
// model: the run's summary, query final, export --weights and the report's
// page said it wrote none, and only the log of a genome that is not the
// final training's said why.
func TestModelNotKeptSaysWhy(t *testing.T) {
	script := `mkdir -p \"$GAHPO_WEIGHTS_FILE\" 2>/dev/null; echo '{\"epoch\": 1, \"val_loss\": 0.5}'`
	const why = "no model kept: GAHPO_WEIGHTS_FILE names a file, and the command made a directory there"
	for _, fidelity := range []string{"one-epoch", "halving"} {
		t.Run(fidelity, func(t *testing.T) {
			dir := t.TempDir()
			problem := "name: folder-model-" + fidelity + "\nspace:\n  - {name: x, type: float, min: 0, max: 1}\n" +
				"objective: {metric: val_loss, goal: minimize}\nbudget: {min: 1, max: 1}\n" +
				"train:\n  command: [sh, -c, \"" + script + "\"]\n"
			m, out, db := runShProblem(t, dir, problem, "--fidelity", fidelity, "--population", "2", "--generations", "1", "--workers", "1")
			if !strings.Contains(out.String(), why) {
				t.Errorf("summary:\n%s\nwant it to say %q", out.String(), why)
			}
			out.Reset()
			if err := m.Run(context.Background(), []string{"query", "final", "--db", db}); err != nil || !strings.Contains(out.String(), why) {
				t.Errorf("query final: %v\n%s\nwant it to say %q", err, out.String(), why)
			}
			err := m.Run(context.Background(), []string{"export", "--db", db, "--weights", filepath.Join(dir, "model.bin")})
			if err == nil || !strings.Contains(err.Error(), "wrote a model that was not kept: GAHPO_WEIGHTS_FILE names a file") {
				t.Errorf("export --weights: %v; want it to say why no model was kept", err)
			}
			if err := m.Run(context.Background(), []string{"report", "--db", db, "--out", filepath.Join(dir, "report")}); err != nil {
				t.Fatal(err)
			}
			page, err := os.ReadFile(filepath.Join(dir, "report", "index.html"))
			if err != nil || !strings.Contains(string(page), why) || strings.Contains(string(page), "its training wrote none") {
				t.Errorf("the report's page (%v) does not say %q", err, why)
			}
		})
	}
}

// TestFailedFinalTrainingSummary: the summary of a run whose final
// training failed (here it reports epochs without newlines: one line that
// is not JSON) printed an empty table of the CNN's columns and "test loss
// +Inf"; it says the final training recorded no epoch, and gahpo run
// fails, saying why.
func TestFailedFinalTrainingSummary(t *testing.T) {
	script := `if [ \"$GAHPO_KIND\" = final ]; then printf '{\"epoch\": 1, \"val_loss\": 0.5}{\"epoch\": 2, \"val_loss\": 0.4}'; else echo '{\"epoch\": 1, \"val_loss\": 0.5}'; fi`
	problem := "name: final-fails\nspace:\n  - {name: x, type: float, min: 0, max: 1}\n" +
		"objective: {metric: val_loss, goal: minimize}\nbudget: {min: 1, max: 2}\n" +
		"train:\n  command: [sh, -c, \"" + script + "\"]\n"
	_, out, _ := runShProblemFails(t, t.TempDir(), problem, "failed: final training failed: ", "--population", "2", "--generations", "1", "--workers", "1")
	for _, bad := range []string{"EPOCH", "+Inf"} {
		if strings.Contains(out.String(), bad) {
			t.Errorf("summary:\n%s\nwant no %q in it: the final training recorded no epoch", out.String(), bad)
		}
	}
	if !strings.Contains(out.String(), "no epoch recorded") {
		t.Errorf("summary:\n%s\nwant it to say the final training recorded no epoch", out.String())
	}
}

// TestQueryGenomeShowsOutput: gahpo query genome, where the summary sends
// a user whose genomes failed ("shows it whole"), prints the last lines
// the trainer printed besides its metrics (here a report under a name the
// file does not declare, after chatter); they were only in --json.
func TestQueryGenomeShowsOutput(t *testing.T) {
	script := `for i in 1 2 3 4 5 6 7 8 9 10 11; do echo loading part $i; done; echo '{\"epoch\": 1, \"loss\": 0.5}'; echo \"{'epoch': 1, 'val_loss': 0.5}\"`
	problem := "name: chatty\nspace:\n  - {name: x, type: float, min: 0, max: 1}\n" +
		"objective: {metric: val_loss, goal: minimize}\nbudget: {min: 1, max: 1}\n" +
		"train:\n  command: [sh, -c, \"" + script + "\"]\n"
	m, out, db := runShProblemFails(t, t.TempDir(), problem, "failed", "--population", "2", "--generations", "1", "--workers", "1")
	out.Reset()
	if err := m.Run(context.Background(), []string{"query", "genome", "1", "--db", db}); err != nil {
		t.Fatal(err)
	}
	want := "output, the last 10 of 12 lines kept that were not metrics (--json prints them all):\n  loading part 3\n"
	if !strings.Contains(out.String(), want) || !strings.HasSuffix(out.String(), "  loading part 11\n  {'epoch': 1, 'val_loss': 0.5}\n") {
		t.Errorf("query genome:\n%s\nwant its output's last lines, from %q", out.String(), want)
	}
}
