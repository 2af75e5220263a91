package worker

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime/debug"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/gahpo/gahpo"
	"github.com/gahpo/gahpo/models"
)

// train runs the task's job in an empty checkpoint directory (the slot's),
// restored from the task's checkpoint when it has one, fills res, and
// keeps the weights and the directory in the object store when the task
// asks for them. The directory is emptied afterwards. A panic in the training is
// its failure, not the worker's crash.
func (w *Worker) train(ctx context.Context, task gahpo.Task, dataDir string, s slot, started gahpo.Started, res *gahpo.Result) (err error) {
	defer func() {
		if p := recover(); p != nil {
			w.log.Error("training panicked", "panic", p, "stack", string(debug.Stack()))
			err = fmt.Errorf("%w: %v", errPanicked, p)
		}
	}()
	dir, err := w.jobDirFor(s.job)
	if err != nil {
		return err
	}
	defer w.releaseJobDir(s.job)
	if ref := task.Checkpoint; ref != nil {
		if err := w.conn.GetDir(ctx, *ref, dir); err != nil {
			return fmt.Errorf("worker: restore checkpoint %s/%s: %w", ref.Bucket, ref.Name, err)
		}
	}
	job := models.Job{Task: task, DataDir: dataDir, CheckpointDir: dir, Device: s.device,
		OnEpoch: func(rep gahpo.EpochReport) { w.onEpoch(task, started, rep) }}
	start := time.Now()
	var out models.Outcome
	if len(task.Schedule) > 0 {
		out, err = w.replay(ctx, job)
		res.ScheduleSteps = len(task.Schedule) // the coordinator refuses a scheduled replicate's result without it
	} else {
		out, err = w.trainer.Train(ctx, job)
	}
	res.Duration = time.Since(start)
	if why := w.cacheChanged(dir, dataDir); why != nil {
		// What it measured, or why it failed, may be the change's doing.
		if err != nil {
			return fmt.Errorf("%w (%w); the training said: %w", errCacheChanged, why, err)
		}
		return fmt.Errorf("%w (%w)", errCacheChanged, why)
	}
	if err != nil {
		if errors.Is(err, models.ErrUntrainable) {
			fill(res, task, out) // what a failed training reported reaches the record
		}
		return err
	}
	fill(res, task, out)
	if res.Failure != "" {
		return nil
	}
	return w.keep(ctx, task, out, dir, res)
}

// errCacheChanged marks a training during which the worker's cache
// changed under it: its checkpoint directory or a file of its data set
// deleted or rewritten (a cache cleaned mid-training). Its failure, or
// what it measured, is the worker's, not the genome's: the task is handed
// back uncounted, and the next task fetches the data set again.
var errCacheChanged = errors.New("worker: the worker's cache changed during the training")

// cacheChanged tells, by an error saying what, whether the job's checkpoint
// directory or the data set fetched into dataDir went or changed.
func (w *Worker) cacheChanged(jobDir, dataDir string) error {
	if fi, err := os.Stat(jobDir); err != nil {
		return err
	} else if !fi.IsDir() {
		return fmt.Errorf("%s is no directory", jobDir)
	}
	w.mu.Lock()
	var set dataSet
	for _, s := range w.fetched {
		if s.dir == dataDir {
			set = s
		}
	}
	w.mu.Unlock()
	return set.intact() // read and hashed outside the lock (no files: nil)
}

// replay trains a population based training's schedule (Task.Schedule)
// from scratch in the job's directory: each step is a training of its own
// from the state the step before left there, with the step's params, as the
// genome went on from the genome it exploited (FromParams: the trainer
// scales a schedule's learning rate by the new params' over the old). The
// outcome is the last step's (or the first that diverged or failed), with
// the curve and log of every step before it.
func (w *Worker) replay(ctx context.Context, job models.Job) (models.Outcome, error) {
	task := job.Task
	var curve []gahpo.EpochReport
	var log []string
	seed := func(st gahpo.ScheduleStep) uint64 { return cmp.Or(st.Seed, task.Seed) }
	for i, st := range task.Schedule {
		t := task
		t.Schedule, t.Params, t.FromEpochs, t.Seed = nil, st.Params, st.Epoch-1, seed(st)
		if i > 0 {
			prev := task.Schedule[i-1]
			t.FromParams, t.FromSeed, t.FromGenome = prev.Params, seed(prev), task.GenomeID
		}
		last := i+1 == len(task.Schedule)
		if !last {
			t.Epochs, t.WeightsTo = task.Schedule[i+1].Epoch-1, "" // weights are the last step's
		}
		step := job
		step.Task = t
		out, err := w.trainer.Train(ctx, step)
		curve, log = append(curve, out.Curve...), append(log, out.Log...)
		out.Curve, out.Log = curve, log
		if err != nil {
			return out, fmt.Errorf("worker: schedule step %d (from epoch %d): %w", i+1, st.Epoch, err)
		}
		if last || out.Diverged != "" {
			return out, nil
		}
	}
	return models.Outcome{}, fmt.Errorf("worker: an empty schedule") // not reached: train replays a schedule of one step at least
}

// onEpoch publishes an epoch's report (best effort), so that status can
// draw the learning curves of running genomes. A final training's event
// also carries the epoch in its older form.
func (w *Worker) onEpoch(task gahpo.Task, started gahpo.Started, rep gahpo.EpochReport) {
	args := []any{"run", task.RunID, "genome", task.GenomeID, "epoch", rep.Epoch}
	for name, v := range rep.Metrics {
		args = append(args, name, float64(v))
	}
	w.log.Info("epoch", args...)
	e := started
	e.Report = &rep
	if task.Kind == gahpo.KindFinal {
		em := rep.Fixed()
		e.Epoch = &em
	}
	_ = w.conn.PublishEvent(e)
}

// fill copies a trainer's outcome into the result.
func fill(res *gahpo.Result, task gahpo.Task, out models.Outcome) {
	res.Fitness = gahpo.Float(out.Fitness)
	res.Accuracy = out.Accuracy
	res.ImagesPerSec = out.ImagesPerSec
	res.TestAccuracy = out.TestAccuracy
	res.Curve = out.Curve
	res.Log = capLog(out.Log)
	if out.Diverged != "" {
		res.Failure = "diverged: " + out.Diverged
	}
	switch {
	case len(out.Curve) > 0:
		res.EpochsDone = out.Curve[len(out.Curve)-1].Epoch
	case res.Failure != "":
		res.EpochsDone = task.FromEpochs
	case task.Epochs > 0:
		res.EpochsDone = task.Epochs
	default:
		res.EpochsDone = 1 // the one-epoch fitness
	}
	if task.Kind == gahpo.KindFinal {
		for _, rep := range out.Curve {
			res.Epochs = append(res.Epochs, rep.Fixed())
		}
	}
}

// keep puts the trained weights and the checkpoint directory in the
// object store, as the task asks, under names of this training's own: a
// task trained twice (a lease lost while its first worker still finished)
// never overwrites what the coordinator recorded of the first, nor an
// object a promoted task is reading.
func (w *Worker) keep(ctx context.Context, task gahpo.Task, out models.Outcome, dir string, res *gahpo.Result) error {
	nonce := rand.Text()[:8]
	if len(out.Weights) > 0 && task.WeightsTo != "" {
		obj := task.RunID + "-" + strconv.Itoa(task.GenomeID) + "-weights-" + nonce
		if task.Kind == gahpo.KindFinal {
			obj = task.RunID + "-final-" + strconv.Itoa(task.GenomeID) + "-" + nonce
		}
		var ref gahpo.DataRef
		err := w.storing(ctx, task, "weights", func() (err error) {
			ref, err = w.conn.PutBytes(ctx, task.WeightsTo, obj, out.Weights)
			return err
		})
		if err != nil {
			return fmt.Errorf("worker: store weights: %w", err)
		}
		res.WeightsBucket, res.WeightsObject, res.WeightsDigest = task.WeightsTo, obj, ref.Digest
	}
	if task.CheckpointTo != "" {
		name := CheckpointName(task.RunID, task.GenomeID, res.EpochsDone, nonce)
		var ref gahpo.ObjectRef
		err := w.storing(ctx, task, "checkpoint", func() (err error) {
			ref, err = w.conn.PutDir(ctx, task.CheckpointTo, name, dir)
			return err
		})
		if err != nil {
			return fmt.Errorf("worker: keep checkpoint: %w", err)
		}
		if ref.Size <= 1024 {
			w.log.Warn("the trainer left an empty checkpoint directory: a promotion will train from scratch", "run", task.RunID, "genome", task.GenomeID)
		}
		res.Checkpoint = &ref
	}
	return nil
}

// storing runs put, which stores what a training made (its weights, its
// checkpoint), again while the NATS server is out of reach
// (bus.Conn.Unavailable: a restart, an outage), with a backoff of up to
// 30 s, for at most 10 minutes, as publishResult does: a finished training
// is not thrown away, and its genome trained again at another attempt, for
// a blip of the server. Other errors, and the end of ctx, return at once.
func (w *Worker) storing(ctx context.Context, task gahpo.Task, what string, put func() error) error {
	delay, deadline := time.Second, time.Now().Add(10*time.Minute)
	for {
		err := put()
		if err == nil || ctx.Err() != nil || !w.conn.Unavailable(err) || time.Now().After(deadline) {
			return err
		}
		w.log.Warn("cannot store what the training made: the NATS server is out of reach; retrying",
			"run", task.RunID, "genome", task.GenomeID, "what", what, "err", err, "in", delay)
		sleep(ctx, delay)
		delay = min(2*delay, 30*time.Second)
	}
}

// CheckpointName is the object a genome's checkpoint directory is kept
// under after epochs epochs by the training that nonce names:
// <run>-<genome>-e<epochs>-<nonce>. Every name of a run's objects starts
// with <run>-, so the coordinator sweeps them when the run ends.
func CheckpointName(run string, genome, epochs int, nonce string) string {
	return run + "-" + strconv.Itoa(genome) + "-e" + strconv.Itoa(epochs) + "-" + nonce
}

// Limits of the log lines a result carries.
const (
	maxLogLines = 100
	maxLogLine  = 500 // bytes
)

// capLog keeps the last maxLogLines lines, each cut to maxLogLine bytes.
func capLog(lines []string) []string {
	if len(lines) == 0 {
		return nil
	}
	lines = lines[max(0, len(lines)-maxLogLines):]
	out := make([]string, len(lines))
	for i, l := range lines {
		if len(l) > maxLogLine {
			l = l[:cutAt(l, maxLogLine)] + "…"
		}
		out[i] = l
	}
	return out
}

// cutAt is where to cut s to at most n bytes: n, or the start of a
// character that n would split. Bytes that are not UTF-8 are left as they
// are (an earlier capLog cut the line back to just before the first of
// them).
func cutAt(s string, n int) int {
	for i := 1; i < utf8.UTFMax && i <= n; i++ {
		if utf8.RuneStart(s[n-i]) {
			if _, size := utf8.DecodeRuneInString(s[n-i:]); size > i {
				return n - i
			}
			break
		}
	}
	return n
}

// fitMessage trims a result that would not fit in a message: the log to
// its last 10 lines, then the curve's probes, then the rest of the log,
// then the curve's oldest epochs. A result that cannot be published would
// be trained again and again.
func fitMessage(res *gahpo.Result, log *slog.Logger) {
	const limit = gahpo.MaxMessageSize - 512
	trimmed := false
	for {
		b, err := json.Marshal(res)
		if err != nil || len(b) <= limit {
			break
		}
		trimmed = true
		switch {
		case len(res.Log) > 10:
			res.Log = res.Log[len(res.Log)-10:]
		case hasProbes(res.Curve):
			curve := make([]gahpo.EpochReport, len(res.Curve))
			for i, rep := range res.Curve {
				rep.Probe = nil
				curve[i] = rep
			}
			res.Curve = curve
		case len(res.Log) > 0:
			res.Log = nil
		case len(res.Curve) > 0:
			res.Curve = res.Curve[len(res.Curve)/2+len(res.Curve)%2:]
		default:
			log.Error("result too large for a message", "bytes", len(b), "limit", limit)
			return
		}
	}
	if trimmed {
		log.Warn("result trimmed to fit a message (log lines, curve probes or early epochs dropped)", "log_lines", len(res.Log), "curve", len(res.Curve))
	}
}

func hasProbes(curve []gahpo.EpochReport) bool {
	for _, rep := range curve {
		if len(rep.Probe) > 0 {
			return true
		}
	}
	return false
}
