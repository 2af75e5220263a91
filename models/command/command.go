package command

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gahpo/gahpo"
	"github.com/gahpo/gahpo/internal/cause"
	"github.com/gahpo/gahpo/models"
	"github.com/gahpo/gahpo/problemfile"
)

// Output limits.
const (
	// MaxLogLines is how many of the last lines of standard output that
	// are not metrics an Outcome keeps.
	MaxLogLines = 50
	// MaxLineBytes is the longest line kept in Outcome.Log or a failure.
	MaxLineBytes = 200
	// MaxStderrLines is how many of the last lines of standard error a
	// failure's reason quotes.
	MaxStderrLines = 10
	// MaxMetricsLine is the longest line read as metrics; a longer line is
	// taken for other output.
	MaxMetricsLine = 64 << 10
	// MaxCurve bounds the epochs kept in one job's Outcome.Curve: past it,
	// each report takes the last one's place (so that the curve ends at
	// the epoch trained to), and reaches OnEpoch at most once a second.
	MaxCurve = 10000
	// DefaultGrace is the time between SIGTERM and SIGKILL.
	DefaultGrace = 5 * time.Second
)

// Errors returned (wrapped) by Train.
var (
	// ErrWrongProblem is returned for a task of another problem, or of a
	// problem file with another digest: the worker was not given the
	// coordinator's file, and another worker may have it.
	ErrWrongProblem = errors.New("command: task for a problem file this worker does not hold")
	// ErrFailed wraps models.ErrUntrainable: the command failed on the
	// genome (crash, no objective, NaN, timeout).
	ErrFailed = fmt.Errorf("command: %w", models.ErrUntrainable)
)

// Trainer runs a problem file's training command for each job. It is safe
// for concurrent use; each job runs its own process.
type Trainer struct {
	// Problem is the problem file the trainer runs.
	Problem *problemfile.Problem
	// Grace is how long a command has to end after SIGTERM before its
	// process group is killed (zero: DefaultGrace).
	Grace time.Duration
}

// New returns a trainer for p with the default grace period.
func New(p *problemfile.Problem) *Trainer { return &Trainer{Problem: p} }

// Train runs the command for job and returns its outcome. On the genome's
// failure the outcome so far (Curve, Log, Diverged, an infinite Fitness)
// comes with an error wrapping models.ErrUntrainable; a cancelled ctx
// returns its error once the process group is gone.
func (t *Trainer) Train(ctx context.Context, job models.Job) (models.Outcome, error) {
	p := t.Problem
	task := job.Task
	if task.Problem != p.Name || (task.ProblemDigest != "" && task.ProblemDigest != p.Digest) {
		return models.Outcome{}, fmt.Errorf("%w: task for %q (digest %.12s), this worker has %q (digest %.12s)",
			ErrWrongProblem, task.Problem, task.ProblemDigest, p.Name, p.Digest)
	}
	genes, err := p.Space.FromMap(task.Params)
	if err != nil {
		return models.Outcome{}, fmt.Errorf("%w: invalid genome: %w", ErrFailed, err)
	}
	if err := ctx.Err(); err != nil {
		return models.Outcome{}, fmt.Errorf("command: %w", err)
	}
	tmp, err := os.MkdirTemp("", "gahpo-job-")
	if err != nil {
		return models.Outcome{}, fmt.Errorf("command: %w", err)
	}
	defer os.RemoveAll(tmp)
	in, err := t.writeInputs(tmp, genes, job)
	if err != nil {
		return models.Outcome{}, err
	}
	args := t.args(genes)
	if err := findProgram(args[0], p.Dir); err != nil {
		// The file's command cannot run here: the worker's trouble (a
		// missing interpreter), not the genome's.
		return models.Outcome{}, models.CannotRunHere(fmt.Errorf("command: %s: %w", p.Path, err))
	}
	r := &run{problem: p, task: task, onEpoch: job.OnEpoch, last: time.Now(), objective: math.NaN(), stop: make(chan struct{})}
	r.log = tail{n: MaxLogLines, size: MaxLineBytes}
	r.stderr = tail{n: MaxStderrLines, size: MaxLineBytes}
	stdout := &lineWriter{max: MaxMetricsLine, line: r.stdoutLine}
	stderr := &lineWriter{max: MaxLineBytes, line: r.stderrLine}
	cmd, guard := t.command(job, args, in)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := cmd.Start(); err != nil {
		// Not executable, a bad interpreter line: the same on every
		// attempt on this worker.
		return models.Outcome{}, models.CannotRunHere(fmt.Errorf("command: %s: start %q: %w", p.Path, args[0], err))
	}
	kill := t.grace() // SIGTERM to SIGKILL
	if guard {
		// The guard's own ending takes up to twice the grace (the command,
		// then the processes it left behind): killing it sooner would
		// leave those to init.
		kill = 2*t.grace() + time.Second
	}
	why, waitErr := t.supervise(ctx, cmd, r.stop, kill, trainingTimeout(p, task))
	stdout.flush()
	stderr.flush()
	if why == "cancelled" {
		return r.outcome(), fmt.Errorf("command: %w", ctx.Err())
	}
	out, err := r.finish(why, waitErr)
	if err == nil && task.CheckpointTo != "" {
		if entries, rerr := os.ReadDir(in.checkpoint); rerr == nil && len(entries) == 0 {
			// The genome may go on to a later rung from this directory:
			// left empty, it trains from its first epoch again there.
			out.Log = append(out.Log, gahpo.NoCheckpointNote+"the command left GAHPO_CHECKPOINT_DIR empty, so a later rung trains this genome again from its first epoch")
		}
	}
	if err == nil && in.weights != "" {
		// A model that cannot be kept costs the model, not the training's
		// figures: the log says why.
		var werr error
		if out.Weights, werr = readWeights(in.weights); werr != nil {
			out.Log = append(out.Log, gahpo.NoModelNote+werr.Error())
		}
	}
	return out, err
}

// MaxWeightsBytes caps the model file a command leaves at
// GAHPO_WEIGHTS_FILE: the worker holds it in memory to upload it.
const MaxWeightsBytes = 1 << 30

// readWeights reads the model file a command wrote at GAHPO_WEIGHTS_FILE:
// none (nil, nil) when it wrote none, which keeps no model.
func readWeights(file string) ([]byte, error) {
	f, err := os.Open(file)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("the model file GAHPO_WEIGHTS_FILE: %w", err)
	}
	if fi, err := f.Stat(); err == nil && fi.IsDir() {
		f.Close()
		return nil, errors.New("GAHPO_WEIGHTS_FILE names a file, and the command made a directory there (a model saved as a folder: write one file, an archive of the folder)")
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxWeightsBytes+1))
	if err != nil {
		return nil, fmt.Errorf("the model file GAHPO_WEIGHTS_FILE: %w", err)
	}
	if len(b) > MaxWeightsBytes {
		return nil, fmt.Errorf("the model file GAHPO_WEIGHTS_FILE holds more than %d MiB, the most a worker sends", MaxWeightsBytes>>20)
	}
	return b, nil
}

// inputs are the files a job's command is given.
type inputs struct {
	params     string // GAHPO_PARAMS: the genome's values
	fromParams string // GAHPO_FROM_PARAMS, after PBT's exploit; "" otherwise
	checkpoint string // GAHPO_CHECKPOINT_DIR
	weights    string // GAHPO_WEIGHTS_FILE, when the coordinator keeps the model; "" otherwise
}

// writeInputs writes the genome's values (and, when the checkpoint was
// trained by another genome, that genome's) into dir, and finds the
// checkpoint folder: the job's, or a new empty one in dir.
func (t *Trainer) writeInputs(dir string, genes []float64, job models.Job) (inputs, error) {
	space := t.Problem.Space
	write := func(name string, genes []float64) (string, error) {
		b, err := json.Marshal(space.Values(genes))
		if err != nil {
			return "", fmt.Errorf("command: %w", err)
		}
		file := filepath.Join(dir, name)
		if err := os.WriteFile(file, b, 0o600); err != nil {
			return "", fmt.Errorf("command: %w", err)
		}
		return file, nil
	}
	var in inputs
	var err error
	if in.params, err = write("params.json", genes); err != nil {
		return in, err
	}
	if job.Task.FromParams != nil {
		// Population based training: the checkpoint was trained by
		// another genome, whose hyperparameters the command may want (to
		// scale a schedule's state).
		from, err := space.FromMap(job.Task.FromParams)
		if err != nil {
			return in, fmt.Errorf("%w: invalid genome the checkpoint comes from: %w", ErrFailed, err)
		}
		if in.fromParams, err = write("from_params.json", from); err != nil {
			return in, err
		}
	}
	if job.Task.WeightsTo != "" {
		// A final or top-rung training: the coordinator keeps the model
		// the command leaves here, in its own format.
		in.weights = filepath.Join(dir, "weights")
	}
	in.checkpoint = job.CheckpointDir
	if in.checkpoint == "" {
		in.checkpoint = filepath.Join(dir, "checkpoint")
		if err := os.Mkdir(in.checkpoint, 0o700); err != nil {
			return in, fmt.Errorf("command: %w", err)
		}
	}
	return in, nil
}

// command builds the process of a job: the file's command with the
// genome's values in args, in the file's folder, with its environment, in
// a process group of its own (under a guard that ends the group with its
// parent, where the system has one: guard tells).
func (t *Trainer) command(job models.Job, args []string, in inputs) (cmd *exec.Cmd, guard bool) {
	cmd = exec.Command(args[0], args[1:]...)
	env := t.env(job, in.params, in.checkpoint)
	if in.fromParams != "" {
		env = append(env, "GAHPO_FROM_PARAMS="+in.fromParams)
	}
	if in.weights != "" {
		env = append(env, "GAHPO_WEIGHTS_FILE="+in.weights)
	}
	if prog, gargs, genv, ok := guarded(args, t.grace()); ok {
		cmd = exec.Command(prog, gargs...)
		env = append(env, genv...)
		guard = true
	}
	cmd.Dir = t.Problem.Dir
	cmd.Env = env
	setGroup(cmd, guard)
	// A grandchild that keeps the pipes open after the command exits is
	// killed with the group below; Wait gives it this long first.
	cmd.WaitDelay = time.Second
	return cmd, guard
}

// supervise waits for the started cmd, ending its process group (SIGTERM,
// then SIGKILL after kill) when ctx is cancelled, limit passes (none when
// 0) or diverged is closed. It returns why the group was signalled
// ("cancelled", "timeout", "diverged" or "") and Wait's error; the group
// is gone when it returns.
func (t *Trainer) supervise(ctx context.Context, cmd *exec.Cmd, diverged <-chan struct{}, kill, limit time.Duration) (string, error) {
	pid := cmd.Process.Pid
	stopped := make(chan string, 1) // why the group was signalled
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var timeout <-chan time.Time
		if d := limit; d > 0 {
			tm := time.NewTimer(d)
			defer tm.Stop()
			timeout = tm.C
		}
		var why string
		select {
		case <-done:
			return
		case <-ctx.Done():
			why = "cancelled"
		case <-timeout:
			why = "timeout"
		case <-diverged:
			why = "diverged"
		}
		stopped <- why
		_ = signalGroup(pid, false)
		grace := time.NewTimer(kill)
		defer grace.Stop()
		select {
		case <-done:
		case <-grace.C:
			_ = signalGroup(pid, true)
		}
	}()
	waitErr := cmd.Wait()
	close(done)
	wg.Wait()
	_ = signalGroup(pid, true) // whatever the command left behind
	why := ""
	select {
	case why = <-stopped:
	default:
	}
	return why, waitErr
}

// Runnable tells whether this machine can start p's command: its
// train.dir is a directory and its program (train.command[0]) an
// executable file, on PATH or relative to train.dir. A worker checks it
// at start, so that a machine whose copy of the file cannot train refuses
// to start rather than fail genomes that other workers would train. The
// error is one line naming the file and the field. A program with a
// placeholder is checked at each task only.
func Runnable(p *problemfile.Problem) error {
	name := p.Train.Command[0]
	if strings.Contains(name, "{") {
		name = ""
	}
	if err := findProgram(name, p.Dir); err != nil {
		return fmt.Errorf("command: %s: %w", p.Path, err)
	}
	return nil
}

// findProgram checks that dir is a directory and name (if not "") an
// executable file, on PATH or relative to dir; the error names the field
// of the problem file at fault, for the caller to prefix.
func findProgram(name, dir string) error {
	if fi, err := os.Stat(dir); err != nil {
		return fmt.Errorf("train.dir: %w", err)
	} else if !fi.IsDir() {
		return fmt.Errorf("train.dir: %s is not a directory", dir)
	}
	if name == "" {
		return nil
	}
	path := name
	if strings.ContainsRune(name, filepath.Separator) && !filepath.IsAbs(name) {
		path = filepath.Join(dir, name)
	}
	// A name without a separator is looked up on PATH; a path is
	// checked as it is: it exists, is a file, and may be executed.
	if _, err := exec.LookPath(path); err != nil {
		var ee *exec.Error
		if errors.As(err, &ee) {
			err = ee.Err // the name is said already
		}
		return fmt.Errorf("train.command[0] %q: %w", name, err)
	}
	return nil
}

func (t *Trainer) grace() time.Duration {
	if t.Grace > 0 {
		return t.Grace
	}
	return DefaultGrace
}

// args returns the command with each {name} replaced by the genome's value.
func (t *Trainer) args(genes []float64) []string {
	space := t.Problem.Space
	repl := make([]string, 0, 2*len(space.Params))
	for i, p := range space.Params {
		repl = append(repl, "{"+p.Name+"}", p.Label(genes[i]))
	}
	r := strings.NewReplacer(repl...)
	args := make([]string, len(t.Problem.Train.Command))
	for i, a := range t.Problem.Train.Command {
		args[i] = r.Replace(a)
	}
	return args
}

// trainedEpochs is how many epochs a training of task trains: to
// GAHPO_EPOCHS from the epochs its checkpoint holds; 0 when unknown (no
// budget: the command decides).
func trainedEpochs(task gahpo.Task, b *problemfile.Budget) int {
	if e := taskEpochs(task, b); e > 0 {
		return max(e-task.FromEpochs, 1)
	}
	return 0
}

// trainingTimeout is how long a training of task may take: train.timeout,
// or train.timeout_per_epoch for each epoch it trains, the shorter; 0:
// no limit.
func trainingTimeout(p *problemfile.Problem, task gahpo.Task) time.Duration {
	d := p.Timeout
	if n := trainedEpochs(task, p.Budget); p.TimeoutPerEpoch > 0 && n > 0 {
		if e := p.TimeoutPerEpoch * time.Duration(n); d == 0 || e < d {
			d = e
		}
	}
	return d
}

// timeoutReason says why a training of task was stopped after limit,
// and, when train.timeout stopped a training of several epochs, what to
// change: it bounds every training, a final's of budget.max epochs too.
func timeoutReason(p *problemfile.Problem, task gahpo.Task, limit time.Duration) string {
	n := trainedEpochs(task, p.Budget)
	switch {
	case n == 0:
		return fmt.Sprintf("timeout after %s", limit)
	case p.TimeoutPerEpoch > 0 && limit == p.TimeoutPerEpoch*time.Duration(n):
		return fmt.Sprintf("timeout after %s, training %s (train.timeout_per_epoch %s each)", limit, pluralEpochs(n), p.TimeoutPerEpoch)
	case n == 1:
		return fmt.Sprintf("timeout after %s, training 1 epoch (train.timeout)", limit)
	}
	return fmt.Sprintf("timeout after %s, training %s: train.timeout bounds every training, a final's of budget.max epochs too (raise it, or bound each epoch with train.timeout_per_epoch)", limit, pluralEpochs(n))
}

func pluralEpochs(n int) string {
	if n == 1 {
		return "1 epoch"
	}
	return fmt.Sprintf("%d epochs", n)
}

// taskEpochs is GAHPO_EPOCHS for a task: its epochs when it names them (a
// rung, a one-epoch fitness at the budget's min, a final training); else,
// when the file declares a budget, its max (a run stored before the
// coordinator named a fitness's epochs trained every genome so, and goes
// on alike); else 0, unset: the command decides.
func taskEpochs(task gahpo.Task, b *problemfile.Budget) int {
	switch {
	case task.Epochs > 0:
		return task.Epochs
	case b == nil:
		return 0
	default:
		return b.Max
	}
}

// env returns the command's environment: the worker's less its own
// settings (inherited), the file's, then gahpo's own variables.
func (t *Trainer) env(job models.Job, paramsFile, ckpt string) []string {
	p, task := t.Problem, job.Task
	env := inherited(os.Environ())
	for k, v := range p.Train.Env {
		env = append(env, k+"="+v)
	}
	if epochs := taskEpochs(task, p.Budget); epochs > 0 {
		env = append(env, "GAHPO_EPOCHS="+strconv.Itoa(epochs))
		// The length of the genome's whole training: a schedule's, the
		// same on each of its rungs.
		env = append(env, "GAHPO_MAX_EPOCHS="+strconv.Itoa(max(task.MaxEpochs, epochs)))
	}
	test := "0"
	if task.Test || task.Kind == gahpo.KindFinal {
		test = "1" // a final training is measured on the test set
	}
	env = append(env,
		"GAHPO_PARAMS="+paramsFile,
		"GAHPO_CHECKPOINT_DIR="+ckpt,
		"GAHPO_DATA_DIR="+job.DataDir,
		"GAHPO_SEED="+strconv.FormatUint(task.Seed, 10),
		"GAHPO_KIND="+task.Kind,
		"GAHPO_TEST="+test,
	)
	if task.TrainSubset > 0 {
		env = append(env, "GAHPO_TRAIN_SUBSET="+strconv.Itoa(task.TrainSubset))
	}
	if job.Device != "" {
		env = append(env, "CUDA_VISIBLE_DEVICES="+job.Device)
	}
	return env
}

// inherited returns the variables of the worker's environment that its
// commands get: all but gahpo's own (GAHPO_*: the NATS and dashboard
// passwords and tokens, the paths of their files, and settings such as
// GAHPO_TRAIN_SUBSET that a task sets only when it means them) and
// systemd's CREDENTIALS_DIRECTORY, where the worker's secrets are. A
// training's output is kept in the genome's record, which the query user
// and the dashboard read: a trainer that prints its environment must not
// publish the worker's password. What a trainer needs of its own it gets
// from train.env (where GAHPO_ names are refused) or the data set.
func inherited(environ []string) []string {
	out := make([]string, 0, len(environ))
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "GAHPO_") || name == "CREDENTIALS_DIRECTORY" {
			continue
		}
		out = append(out, kv)
	}
	return out
}

// run gathers one command's output.
type run struct {
	problem *problemfile.Problem
	task    gahpo.Task
	onEpoch func(gahpo.EpochReport)

	mu        sync.Mutex
	curve     []gahpo.EpochReport
	reports   int
	last      time.Time // when the last report came
	lastEvent time.Time // when the last report went to onEpoch
	log       tail
	stderr    tail
	objective float64 // last value, NaN until reported
	seen      bool
	long      int                // lines longer than MaxMetricsLine, not read as metrics
	final     map[string]float64 // last value of every metric
	diverged  string
	stop      chan struct{} // closed when the objective diverges

	// What a failure for want of the objective explains itself by.
	stdoutLines int    // lines printed on standard output
	notJSON     string // the first line that starts as a JSON object and is not one, said so
	mention     string // the first line, not a metrics line, that names the objective, as quoted
	mentionIn   field  // what that line, whole, is: JSON with the objective as a field, or without
	onStderr    string // the first line of standard error that would have been a report of the objective

	// Standard error's lines so far, and the last that may say why the
	// command failed (cause.Line) with its index: a long stack trace pushes it
	// out of the tail the failure quotes.
	stderrLines int
	cause       string
	causeAt     int
}

// stderrLine takes a line of standard error.
func (r *run) stderrLine(b []byte, truncated bool) {
	_, metrics, ok := parseMetrics(b)
	_, objective := metrics[r.problem.Objective.Metric]
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stderr.add(b, truncated)
	if ok && objective && r.onStderr == "" {
		r.onStderr = clip(b, quoteBytes, false)
	}
	if cause.Is(string(b)) {
		r.cause, r.causeAt = clip(b, MaxLineBytes, truncated), r.stderrLines
	}
	r.stderrLines++
}

// quoteBytes is the most of a line a failure quotes as an example.
const quoteBytes = 50

func (r *run) stdoutLine(b []byte, truncated bool) {
	epoch, metrics, ok := 0, map[string]float64(nil), false
	if !truncated {
		epoch, metrics, ok = parseMetrics(b)
	}
	var odd string // the objective, given as something other than a number
	if _, has := metrics[r.problem.Objective.Metric]; !has && !truncated {
		odd = oddValue(b, r.problem.Objective.Metric)
	}
	r.mu.Lock()
	r.stdoutLines++
	if truncated {
		r.long++
	}
	if odd != "" {
		// An objective that is not a number fails the genome, as a NaN
		// does: its last value would be one from an epoch before.
		if r.diverged == "" {
			r.diverged = fmt.Sprintf("objective %s printed as %s (report %d): a number is wanted", r.problem.Objective.Metric, odd, r.reports+1)
			if odd == "null" {
				r.diverged += " (JavaScript's JSON.stringify writes NaN and Infinity as null)"
			}
			close(r.stop)
		}
	}
	if !ok {
		r.log.add(b, truncated)
		r.noteOdd(b, truncated)
		r.mu.Unlock()
		return
	}
	r.reports++
	if epoch < 0 {
		epoch = r.task.FromEpochs + r.reports
	}
	now := time.Now()
	rep := gahpo.EpochReport{Epoch: epoch, Metrics: make(map[string]gahpo.Float, len(metrics)), Duration: now.Sub(r.last)}
	r.last = now
	if r.final == nil {
		r.final = map[string]float64{}
	}
	for k, v := range metrics {
		rep.Metrics[k] = gahpo.Float(v)
		r.final[k] = v
	}
	if v, ok := metrics[r.problem.Objective.Metric]; ok {
		r.objective, r.seen = v, true
		if _, reason := r.problem.Fitness(v); reason != "" && r.diverged == "" {
			r.diverged = fmt.Sprintf("%s at epoch %d", reason, epoch)
			close(r.stop)
		}
	}
	onEpoch := r.onEpoch
	if len(r.curve) < MaxCurve {
		r.curve = append(r.curve, rep)
	} else {
		r.curve[len(r.curve)-1] = rep
		if now.Sub(r.lastEvent) < time.Second {
			onEpoch = nil // a trainer reporting every batch: the live curve gets a report a second
		}
	}
	if onEpoch != nil {
		r.lastEvent = now
	}
	r.mu.Unlock()
	if onEpoch != nil {
		onEpoch(rep)
	}
}

// noteOdd remembers a line of standard output that is not a metrics line
// but may have been meant as one, for a failure for want of the objective
// to quote.
func (r *run) noteOdd(b []byte, truncated bool) {
	if truncated {
		return
	}
	t := bytes.TrimSpace(b)
	if r.notJSON == "" && len(t) > 0 && t[0] == '{' && !json.Valid(t) {
		r.notJSON = clip(t, quoteBytes, false)
		switch {
		case bytes.ContainsRune(t, '\''):
			r.notJSON += " is not JSON (in Python, print(json.dumps(metrics)), not print(metrics))"
		case bytes.Contains(t, []byte("}{")):
			r.notJSON += " is not JSON (end each report with a newline)"
		default:
			r.notJSON += " is not JSON"
		}
	}
	if r.mention == "" && bytes.Contains(t, []byte(r.problem.Objective.Metric)) {
		// What the line is, is read from it whole: only the quote is cut.
		r.mention, r.mentionIn = clip(t, quoteBytes, false), fieldIn(t, r.problem.Objective.Metric)
	}
}

// field is what a line is to a metric's name.
type field int

const (
	fieldNotJSON field = iota // not a JSON value
	fieldFound                // JSON with a field of that name (at any depth)
	fieldAbsent               // JSON without one: the name is part of others, or a value
)

// fieldIn tells whether line is JSON and, if so, whether it holds a field
// named name.
func fieldIn(line []byte, name string) field {
	var v any
	if json.Unmarshal(line, &v) != nil {
		return fieldNotJSON
	}
	var has func(v any) bool
	has = func(v any) bool {
		switch v := v.(type) {
		case map[string]any:
			if _, ok := v[name]; ok {
				return true
			}
			for _, e := range v {
				if has(e) {
					return true
				}
			}
		case []any:
			for _, e := range v {
				if has(e) {
					return true
				}
			}
		}
		return false
	}
	if has(v) {
		return fieldFound
	}
	return fieldAbsent
}

// noObjective says why the command's output held no report of the
// objective, from what it printed instead: short enough for a run's
// summary to quote whole. r.mu is held.
func (r *run) noObjective() string {
	metric := r.problem.Objective.Metric
	msg := fmt.Sprintf("no objective: the command printed no JSON line with %q", metric)
	if r.long > 0 {
		msg += fmt.Sprintf(" (%d of its lines were longer than %d KiB, the most read as metrics)", r.long, MaxMetricsLine>>10)
	}
	switch {
	case len(r.final) > 0:
		names := slices.Sorted(maps.Keys(r.final))
		return msg + fmt.Sprintf(": its JSON lines report %s, and objective.metric in %s is %q (a metric's name must be the same in both)",
			strings.Join(names, ", "), r.problem.Path, metric)
	case r.onStderr != "":
		return msg + " on standard output, where reports are read, but on standard error: " + r.onStderr
	case r.notJSON != "":
		return msg + ": " + r.notJSON
	case r.mention != "" && r.mentionIn == fieldFound:
		return msg + ": " + r.mention + " holds it, but not as a number at its top level"
	case r.mention != "" && r.mentionIn == fieldAbsent:
		return msg + fmt.Sprintf(": %s has no field %q (objective.metric in %s)", r.mention, metric, r.problem.Path)
	case r.mention != "":
		line := r.mention
		if !strings.Contains(line, `"`) {
			line = strconv.Quote(line)
		}
		return msg + fmt.Sprintf(`: the line %s is no report; print the JSON object alone on its line, {"epoch": 1, %q: 0.25}`, line, metric)
	case r.stdoutLines == 0:
		return msg + fmt.Sprintf(`: it printed nothing on standard output, where a report such as {"epoch": 1, %q: 0.25} is read after each epoch`, metric)
	}
	return msg
}

// outcome returns what is known so far.
func (r *run) outcome() models.Outcome {
	r.mu.Lock()
	defer r.mu.Unlock()
	o := models.Outcome{Fitness: math.Inf(1), Curve: r.curve, Log: r.log.all(), Diverged: r.diverged}
	if r.seen && r.diverged == "" {
		o.Fitness, _ = r.problem.Fitness(r.objective)
	}
	o.Accuracy = first(r.final, "val_accuracy", "accuracy")
	o.TestLoss = first(r.final, "test_loss")
	o.TestAccuracy = first(r.final, "test_accuracy")
	return o
}

func first(m map[string]float64, names ...string) float64 {
	for _, n := range names {
		if v, ok := m[n]; ok && !math.IsNaN(v) && !math.IsInf(v, 0) {
			return v
		}
	}
	return 0
}

// finish judges the ended command: why is "" (it ended on its own),
// "timeout" or "diverged".
func (r *run) finish(why string, waitErr error) (models.Outcome, error) {
	o := r.outcome()
	r.mu.Lock()
	stderr := r.stderr.all()
	if r.cause != "" && r.causeAt < r.stderrLines-len(stderr) {
		// The line that says why, above a stack trace longer than the
		// tail: quoted first, so that the failure's cause is what the
		// program said (cause.Line).
		stderr = append([]string{r.cause, "…"}, stderr...)
	}
	noObjective := ""
	if !r.seen {
		noObjective = r.noObjective()
	}
	r.mu.Unlock()
	fail := func(reason string) (models.Outcome, error) {
		o.Fitness = math.Inf(1)
		if o.Diverged == "" {
			o.Diverged = reason
		}
		if len(stderr) > 0 {
			reason += "; standard error ends:\n" + strings.Join(stderr, "\n")
		}
		return o, fmt.Errorf("%w: %s", ErrFailed, reason)
	}
	switch {
	case why == "diverged":
		return fail(o.Diverged)
	case why == "timeout":
		return fail(timeoutReason(r.problem, r.task, trainingTimeout(r.problem, r.task)))
	case waitErr != nil && !errors.Is(waitErr, exec.ErrWaitDelay):
		return fail(fmt.Sprintf("the command failed: %v", waitErr))
	case !r.seen:
		return fail(noObjective)
	}
	return o, nil
}
