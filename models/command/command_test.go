package command_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gahpo/gahpo"
	"github.com/gahpo/gahpo/models"
	"github.com/gahpo/gahpo/models/command"
	"github.com/gahpo/gahpo/problemfile"
)

func needPython(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 is not installed: the command trainer's tests run Python trainers")
	}
}

// testProblem writes a problem file running testdata/trainer.py in the
// mode given by the choice parameter "mode".
func testProblem(t *testing.T, timeout string, extra string) *problemfile.Problem {
	t.Helper()
	script, err := filepath.Abs("testdata/trainer.py")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	text := fmt.Sprintf(`name: test-trainer
space:
  - {name: x, type: float, min: -1, max: 1}
  - {name: n, type: int, min: 1, max: 9}
  - {name: mode, type: choice, values: [ok, crash, none, garbage, nan, hang, stubborn, flood, sleep, long, huge, string, "null"]}
objective: {metric: loss}
train:
  command: [python3, %q, "{mode}", "--x={x}", "n{n}"]
  timeout: %s
  env: {EXTRA: "from the file", PYTHONUNBUFFERED: "1"}
%s`, script, timeout, extra)
	return writeProblem(t, dir, text)
}

// writeProblem writes text as dir/problem.yaml and loads it.
func writeProblem(t *testing.T, dir, text string) *problemfile.Problem {
	t.Helper()
	path := filepath.Join(dir, "problem.yaml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := problemfile.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

var modes = map[string]float64{"ok": 0, "crash": 1, "none": 2, "garbage": 3, "nan": 4, "hang": 5, "stubborn": 6, "flood": 7, "sleep": 8, "long": 9, "huge": 10, "string": 11, "null": 12}

func job(p *problemfile.Problem, mode string, ckpt string) models.Job {
	return models.Job{
		Task: gahpo.Task{V: gahpo.MessageVersion, Kind: gahpo.KindFitness, RunID: "r", GenomeID: 1, Problem: p.Name,
			ProblemDigest: p.Digest, Params: map[string]float64{"x": 0.5, "n": 3, "mode": modes[mode]}, Seed: 42, Epochs: 3},
		CheckpointDir: ckpt,
	}
}

// TestTrainOK runs a well-behaved trainer: the genome reaches it through
// the params file and the arguments, gahpo's variables and the file's env
// are set, every metrics line is an epoch report, other lines are kept.
func TestTrainOK(t *testing.T) {
	needPython(t)
	p := testProblem(t, "5m", "")
	j := job(p, "ok", t.TempDir())
	j.DataDir = "/data/here"
	j.Device = "3"
	var mu sync.Mutex
	var seen []int
	j.OnEpoch = func(r gahpo.EpochReport) { mu.Lock(); seen = append(seen, r.Epoch); mu.Unlock() }
	out, err := command.New(p).Train(context.Background(), j)
	if err != nil {
		t.Fatal(err)
	}
	if want := 0.25 + 1.0/3; math.Abs(out.Fitness-want) > 1e-12 {
		t.Errorf("fitness %v, want %v", out.Fitness, want)
	}
	if math.Abs(out.Accuracy-0.8) > 1e-12 || out.Diverged != "" {
		t.Errorf("accuracy %v diverged %q", out.Accuracy, out.Diverged)
	}
	if len(out.Curve) != 3 || out.Curve[2].Epoch != 3 || float64(out.Curve[0].Metrics["loss"]) != 1.25 {
		t.Errorf("curve %+v", out.Curve)
	}
	if fmt.Sprint(seen) != "[1 2 3]" {
		t.Errorf("OnEpoch saw epochs %v", seen)
	}
	want := []string{
		`params {"mode": "ok", "n": 3, "x": 0.5}`,
		"env epochs=3 seed=42 data=/data/here device=3 kind=fitness test=0 extra=from the file",
		"args ok --x=0.5 n3",
	}
	if strings.Join(out.Log, "\n") != strings.Join(want, "\n") {
		t.Errorf("log:\n%s\nwant:\n%s", strings.Join(out.Log, "\n"), strings.Join(want, "\n"))
	}
}

// TestTrainFailures runs trainers that fail on their genome: each is an
// ErrUntrainable whose message says why, with the end of standard error.
func TestTrainFailures(t *testing.T) {
	needPython(t)
	tests := []struct {
		name, mode string
		timeout    string
		want       []string // substrings of the error
		wantCurve  int      // -1: any
	}{
		{"crash", "crash", "5m", []string{"exit status 3", "ValueError: boom", "noise line 29"}, 1},
		{"no objective", "none", "5m", []string{`no objective: the command printed no JSON line with "loss"`}, 1},
		{"NaN stops the command at once", "nan", "5m", []string{"objective loss is NaN at epoch 2"}, 2},
		{"a metrics line too long", "long", "5m", []string{`no objective: the command printed no JSON line with "loss" (1 of its lines were longer than 64 KiB, the most read as metrics)`}, 0},
		{"a loss beyond float64", "huge", "5m", []string{"objective loss is +Inf at epoch 1"}, -1},
		{"a loss written as a string", "string", "5m", []string{`objective loss printed as "0.5" (report 2): a number is wanted`}, 1},
		{"a loss written as null, with another metric", "null", "5m", []string{`objective loss printed as null (report 2): a number is wanted (JavaScript's JSON.stringify writes NaN and Infinity as null)`}, 2},
		{"timeout", "hang", "1s", []string{"timeout after 1s"}, -1}, // killed before or after its first epoch
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel() // each its own process, most of them waiting
			p := testProblem(t, tt.timeout, "")
			ckpt := t.TempDir()
			out, err := (&command.Trainer{Problem: p, Grace: 500 * time.Millisecond}).Train(context.Background(), job(p, tt.mode, ckpt))
			if err == nil {
				t.Fatalf("no error; outcome %+v", out)
			}
			if !errors.Is(err, models.ErrUntrainable) {
				t.Errorf("error %v is not ErrUntrainable", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "noise line 19") {
				t.Errorf("error quotes more than the last lines of stderr: %q", err)
			}
			if !math.IsInf(out.Fitness, 1) || out.Diverged == "" || (tt.wantCurve >= 0 && len(out.Curve) != tt.wantCurve) {
				t.Errorf("outcome fitness %v diverged %q curve %d, want +Inf, a reason, %d epochs", out.Fitness, out.Diverged, len(out.Curve), tt.wantCurve)
			}
			checkGone(t, ckpt)
		})
	}
}

// TestGarbage checks that lines which are not metrics are kept in the log
// and do not stop the training.
func TestGarbage(t *testing.T) {
	needPython(t)
	p := testProblem(t, "5m", "")
	out, err := command.New(p).Train(context.Background(), job(p, "garbage", t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	if out.Fitness != 0.25 || len(out.Curve) != 1 || out.Curve[0].Epoch != 2 {
		t.Errorf("fitness %v curve %+v", out.Fitness, out.Curve)
	}
	if len(out.Log) != 6 || out.Log[0] != "not json at all" || out.Log[1] != `{"epoch": 1, loss}` {
		t.Errorf("log %q", out.Log)
	}
	for _, l := range out.Log {
		if len(l) > command.MaxLineBytes+len("…") {
			t.Errorf("log line of %d bytes", len(l))
		}
	}
}

// TestFlood checks that a command printing tens of megabytes, one line of
// 5 MB among them, costs bounded memory and keeps the last lines, cut.
func TestFlood(t *testing.T) {
	needPython(t)
	p := testProblem(t, "5m", "")
	var before runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	out, err := command.New(p).Train(context.Background(), job(p, "flood", t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	if out.Fitness != 0.75 || len(out.Curve) != 3001 {
		t.Errorf("fitness %v, %d reports", out.Fitness, len(out.Curve))
	}
	if len(out.Log) != command.MaxLogLines {
		t.Errorf("%d log lines, want %d", len(out.Log), command.MaxLogLines)
	}
	if last := out.Log[len(out.Log)-1]; !strings.HasPrefix(last, "zzz") || len(last) != command.MaxLineBytes+len("…") {
		t.Errorf("last log line %.20q… of %d bytes, want the 5 MB line cut", last, len(last))
	}
	// The peak heap while reading stays far below the 25 MB printed.
	if grew := int64(after.HeapInuse) - int64(before.HeapInuse); grew > 16<<20 {
		t.Errorf("heap grew by %d MB", grew>>20)
	}
}

// TestCancel cancels a training mid-way: the call returns the context's
// error (the task goes back, it is not the genome's failure) and no
// process of the group is left, even one that ignores SIGTERM.
func TestCancel(t *testing.T) {
	needPython(t)
	for _, mode := range []string{"hang", "stubborn"} {
		t.Run(mode, func(t *testing.T) {
			p := testProblem(t, "5m", "")
			ckpt := t.TempDir()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			j := job(p, mode, ckpt)
			j.OnEpoch = func(gahpo.EpochReport) {
				// Cancel once the trainer and its child are running.
				go func() {
					for i := 0; i < 3000; i++ {
						if _, err := os.Stat(filepath.Join(ckpt, "pids")); err == nil {
							cancel()
							return
						}
						time.Sleep(10 * time.Millisecond)
					}
				}()
			}
			start := time.Now()
			_, err := (&command.Trainer{Problem: p, Grace: 300 * time.Millisecond}).Train(ctx, j)
			if !errors.Is(err, context.Canceled) || errors.Is(err, models.ErrUntrainable) {
				t.Fatalf("error %v, want context.Canceled and not ErrUntrainable", err)
			}
			if d := time.Since(start); d > 5*time.Minute {
				t.Errorf("took %v", d)
			}
			checkGone(t, ckpt)
		})
	}
}

// TestWrongProblem checks that a task of another problem file is refused
// without running anything, and not as the genome's fault.
func TestWrongProblem(t *testing.T) {
	p := testProblem(t, "5m", "")
	tests := []struct {
		name string
		edit func(*gahpo.Task)
		want error
	}{
		{"other digest", func(t *gahpo.Task) { t.ProblemDigest = strings.Repeat("0", 64) }, command.ErrWrongProblem},
		{"other name", func(t *gahpo.Task) { t.Problem = "other" }, command.ErrWrongProblem},
		{"bad genome", func(t *gahpo.Task) { t.Params["mode"] = 11 }, models.ErrUntrainable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j := job(p, "ok", t.TempDir())
			tt.edit(&j.Task)
			_, err := command.New(p).Train(context.Background(), j)
			if !errors.Is(err, tt.want) {
				t.Errorf("error %v, want %v", err, tt.want)
			}
		})
	}
}

// checkGone waits until no process the trainer recorded in ckpt/pids is
// alive (a zombie waiting for its reaper counts as gone).
func checkGone(t *testing.T, ckpt string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(ckpt, "pids"))
	if err != nil {
		return // the trainer started no process worth checking
	}
	var pids []int
	for _, f := range strings.Fields(string(b)) {
		if n, _ := strconv.Atoi(f); n > 0 {
			pids = append(pids, n)
		}
	}
	if len(pids) == 0 {
		t.Fatalf("no pids in %q", b)
	}
	for i := 0; ; i++ {
		var alive []string
		for _, pid := range pids {
			if s := procState(pid); s != "" && s != "Z" {
				alive = append(alive, fmt.Sprintf("%d (%s)", pid, s))
			}
		}
		if len(alive) == 0 {
			return
		}
		if i == 500 {
			for _, pid := range pids {
				if p, err := os.FindProcess(pid); err == nil {
					_ = p.Kill() // leave nothing behind, even on failure
				}
			}
			t.Fatalf("processes still alive: %v", alive)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// procState returns a process's state letter from /proc, "" when it does
// not exist.
func procState(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ""
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 || i+3 > len(s) {
		return ""
	}
	return s[i+2 : i+3]
}

// TestMissingDir: a train.dir missing on this worker is the worker's
// trouble (another may have it), said as such, not the genome's failure and
// not an error about gahpo's own binary.
func TestMissingDir(t *testing.T) {
	p := testProblem(t, "5m", "")
	for name, dir := range map[string]string{"missing": filepath.Join(t.TempDir(), "gone"), "a file": p.Path} {
		t.Run(name, func(t *testing.T) {
			q := *p
			q.Dir = dir
			_, err := command.New(&q).Train(context.Background(), job(&q, "ok", t.TempDir()))
			if err == nil || !strings.Contains(err.Error(), "train.dir") || errors.Is(err, models.ErrUntrainable) {
				t.Errorf("train.dir %s: %v; want a worker's error naming train.dir", dir, err)
			}
		})
	}
}

// shProblem writes a problem file whose command is the sh script body,
// with one gene x and the file's env FROM_FILE.
func shProblem(t *testing.T, body string) *problemfile.Problem {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "train.sh"), []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	text := "name: sh\nspace:\n  - {name: x, type: float, min: -1, max: 1}\nobjective: {metric: loss}\n" +
		"train:\n  command: [./train.sh]\n  env: {FROM_FILE: kept}\n"
	return writeProblem(t, dir, text)
}

// TestWorkerSecretsStayWithTheWorker: a trainer that prints its
// environment (a crash dump, a logging hook) puts it in the genome's
// record, which the query user reads; the worker's NATS and dashboard
// secrets, and a GAHPO_ setting left in its shell, are not in it.
func TestWorkerSecretsStayWithTheWorker(t *testing.T) {
	t.Setenv("GAHPO_NATS_PASSWORD", "worker-password")
	t.Setenv("GAHPO_NATS_TOKEN", "nats-token")
	t.Setenv("GAHPO_HTTP_TOKEN", "http-token")
	t.Setenv("GAHPO_NATS_PASSWORD_FILE", "/run/secrets/worker-password")
	t.Setenv("CREDENTIALS_DIRECTORY", "/run/credentials/gahpo-worker@1.service")
	t.Setenv("GAHPO_TRAIN_SUBSET", "1000")
	t.Setenv("SOMETHING_ELSE", "passes")
	p := shProblem(t, "env | sort\necho '{\"epoch\": 1, \"loss\": 0.5}'\n")
	j := job(p, "ok", t.TempDir())
	j.Task.Params = map[string]float64{"x": 0.5}
	j.Task.Epochs = 1
	out, err := command.New(p).Train(context.Background(), j)
	if err != nil {
		t.Fatal(err)
	}
	log := strings.Join(out.Log, "\n")
	for _, secret := range []string{"worker-password", "nats-token", "http-token", "CREDENTIALS_DIRECTORY", "GAHPO_TRAIN_SUBSET"} {
		if strings.Contains(log, secret) {
			t.Errorf("the trainer's output holds %q:\n%s", secret, log)
		}
	}
	for _, want := range []string{"SOMETHING_ELSE=passes", "FROM_FILE=kept", "GAHPO_EPOCHS=1", "GAHPO_SEED=42"} {
		if !strings.Contains(log, want) {
			t.Errorf("the trainer's environment lacks %q:\n%s", want, log)
		}
	}
}

// TestManyEpochs: a trainer that reports more epochs than MaxCurve (cheap
// "epochs", or every batch): the curve stays within MaxCurve and ends at
// the last epoch reported (the epochs trained to, which the coordinator
// checks against the task's), and OnEpoch is not called for every one.
func TestManyEpochs(t *testing.T) {
	const n = command.MaxCurve + 5
	p := shProblem(t, "seq 1 \"$GAHPO_EPOCHS\" | awk '{print \"{\\\"epoch\\\": \" $1 \", \\\"loss\\\": \" 1/$1 \"}\"}'\n")
	j := job(p, "ok", t.TempDir())
	j.Task.Params = map[string]float64{"x": 0.5}
	j.Task.Epochs = n
	calls := 0
	j.OnEpoch = func(gahpo.EpochReport) { calls++ }
	out, err := command.New(p).Train(context.Background(), j)
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Curve) != command.MaxCurve || out.Curve[0].Epoch != 1 || out.Curve[len(out.Curve)-1].Epoch != n {
		t.Errorf("curve of %d reports, epochs %d to %d; want %d, 1 to %d", len(out.Curve), out.Curve[0].Epoch, out.Curve[len(out.Curve)-1].Epoch, command.MaxCurve, n)
	}
	if want := 1.0 / n; math.Abs(out.Fitness-want) > 1e-9 {
		t.Errorf("fitness %v, want the last epoch's %v", out.Fitness, want)
	}
	if calls < command.MaxCurve-1 || calls > command.MaxCurve+1 {
		t.Errorf("OnEpoch called %d times for %d reports; want about %d", calls, n, command.MaxCurve)
	}
}

// TestMaxEpochsEnv: a trainer process is told, in GAHPO_MAX_EPOCHS, the
// epochs of the genome's whole training (a cosine schedule's length): the
// top rung's at each rung of a halving or pbt run, a promoted genome going
// on from its checkpoint seeing what its first rung saw; the training's
// own epochs when nothing follows it (a one-epoch fitness, a final).
func TestMaxEpochsEnv(t *testing.T) {
	p := shProblem(t, `test -n "$GAHPO_MAX_EPOCHS" || { echo "GAHPO_MAX_EPOCHS unset" >&2; exit 1; }
echo "{\"epoch\": $GAHPO_EPOCHS, \"loss\": $GAHPO_MAX_EPOCHS}"
`)
	tests := []struct {
		name string
		task gahpo.Task
		want float64
	}{
		{"a genome's first rung", gahpo.Task{Kind: gahpo.KindFitness, Rung: 0, Epochs: 1, MaxEpochs: 9}, 9},
		{"promoted, going on from its checkpoint", gahpo.Task{Kind: gahpo.KindFitness, Rung: 1, Epochs: 3, FromEpochs: 1, MaxEpochs: 9}, 9},
		{"the top rung", gahpo.Task{Kind: gahpo.KindFitness, Rung: 2, Epochs: 9, FromEpochs: 3, MaxEpochs: 9}, 9},
		{"a one-epoch fitness", gahpo.Task{Kind: gahpo.KindFitness, Epochs: 2}, 2},
		{"a final training", gahpo.Task{Kind: gahpo.KindFinal, Epochs: 14}, 14},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			j := job(p, "ok", t.TempDir())
			task := tt.task
			task.V, task.RunID, task.GenomeID, task.Problem, task.ProblemDigest, task.Seed = gahpo.MessageVersion, "r", 1, p.Name, p.Digest, 42
			task.Params = map[string]float64{"x": 0.5}
			j.Task = task
			out, err := command.New(p).Train(context.Background(), j)
			if err != nil {
				t.Fatal(err)
			}
			if out.Fitness != tt.want {
				t.Errorf("the trainer saw GAHPO_MAX_EPOCHS=%v, want %v", out.Fitness, tt.want)
			}
		})
	}
}
