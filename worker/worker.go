package worker

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gahpo/gahpo"
	"github.com/gahpo/gahpo/bus"
	"github.com/gahpo/gahpo/models"
)

// Trainer runs the trainings: one job, from the state in the job's
// checkpoint directory up to the task's epochs. models/problems implements
// it; Legacy adapts a trainer of the older two-method form. Errors marked
// models.ErrUntrainable fail the genome at once; others are retried.
type Trainer interface {
	Train(ctx context.Context, job models.Job) (models.Outcome, error)
}

// TrainerFunc adapts a function to Trainer.
type TrainerFunc func(ctx context.Context, job models.Job) (models.Outcome, error)

// Train calls f.
func (f TrainerFunc) Train(ctx context.Context, job models.Job) (models.Outcome, error) {
	return f(ctx, job)
}

// Checker validates a task's genome before training; an error fails the
// genome at once.
type Checker func(gahpo.Task) error

// Config configures a worker. The zero value of each field means the
// documented default.
type Config struct {
	// Name identifies the worker in results (default host-pid).
	Name string
	// Concurrency is the number of tasks trained at once (default 1;
	// len(Devices) when Devices is set).
	Concurrency int
	// Devices, when set, are accelerator ids (--gpus 0,1): one slot per
	// device, each job on its own (models.Job.Device, Result.Device).
	Devices []string
	// DataDir, when set, holds the data files; otherwise they are fetched
	// from the object store into CacheDir.
	DataDir string
	// CacheDir keeps fetched data sets and, under jobs/, the jobs'
	// checkpoint directories (default the user cache dir/gahpo).
	CacheDir string
	// Poll is how long one pull waits for a task (default 5s).
	Poll time.Duration
	// Accept tells whether this worker may train a task at all (default:
	// every task). A task it refuses (a problem this worker was not
	// given, or another version of it: Task.ProblemDigest) goes back to
	// the queue for the other workers, never counted as an attempt nor
	// failed; the refusal is logged once per problem.
	Accept func(gahpo.Task) error
	// RefuseDelay is how long a slot waits before its next pull after it
	// refused a task, doubling with each refusal in a row up to 8 times
	// (default 1s).
	RefuseDelay time.Duration
	// Check validates genomes (default: none).
	Check Checker
	// RetryDelay is how long a task whose training failed for a reason of
	// the worker's own (not models.ErrUntrainable) waits before it is
	// delivered again (default 5s).
	RetryDelay time.Duration
	// DataRetryDelay is how long a task whose data set could not be
	// fetched waits before it is delivered again, which counts as an
	// attempt (default 10s).
	DataRetryDelay time.Duration
	// Logger (default slog.Default()).
	Logger *slog.Logger
}

// Worker trains tasks from the cluster.
type Worker struct {
	cfg     Config
	conn    *bus.Conn
	trainer Trainer
	log     *slog.Logger

	// lease is the task queue's lease (its AckWait) as last read from
	// the server: a task's renewals start from it (see heartbeat).
	lease atomic.Int64

	mu      sync.Mutex
	fetched map[string]dataSet // data set key → its files in the cache
	// fetching holds, by data set key, the lock (a channel of one) of
	// its fetch: the slots that need a set at once fetch it once.
	fetching map[string]chan struct{}
	refused  map[string]bool // problems whose refusal was logged
	done     int
}

// New returns a worker on conn; Run starts it.
func New(conn *bus.Conn, trainer Trainer, cfg Config) *Worker {
	if cfg.Name == "" {
		host, _ := os.Hostname()
		cfg.Name = host + "-" + strconv.Itoa(os.Getpid())
	}
	if len(cfg.Devices) > 0 {
		cfg.Concurrency = len(cfg.Devices)
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 1
	}
	if cfg.RefuseDelay <= 0 {
		cfg.RefuseDelay = time.Second
	}
	if cfg.Poll <= 0 {
		cfg.Poll = 5 * time.Second
	}
	if cfg.RetryDelay <= 0 {
		cfg.RetryDelay = 5 * time.Second
	}
	if cfg.DataRetryDelay <= 0 {
		cfg.DataRetryDelay = 10 * time.Second
	}
	if cfg.CacheDir == "" {
		dir, err := os.UserCacheDir()
		if err != nil {
			dir = os.TempDir()
		}
		cfg.CacheDir = filepath.Join(dir, "gahpo")
	}
	// A training command runs in its problem file's folder: the paths it
	// is given must not depend on the worker's.
	cfg.CacheDir = absPath(cfg.CacheDir)
	if cfg.DataDir != "" {
		cfg.DataDir = absPath(cfg.DataDir)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	return &Worker{cfg: cfg, conn: conn, trainer: trainer, log: log.With("subsystem", "worker", "worker", cfg.Name), fetched: map[string]dataSet{}, fetching: map[string]chan struct{}{}, refused: map[string]bool{}}
}

// dataNames lists the names of a data set's files.
func dataNames(refs []gahpo.DataRef) string {
	names := make([]string, len(refs))
	for i, r := range refs {
		names[i] = filepath.Base(r.Name)
	}
	return strings.Join(names, ", ")
}

// absPath is path made absolute, or path when the working directory
// cannot be read.
func absPath(path string) string {
	if abs, err := filepath.Abs(path); err == nil {
		return abs
	}
	return path
}

// Done returns the number of tasks this worker finished.
func (w *Worker) Done() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.done
}

// Run trains tasks until ctx is cancelled. A task being trained when ctx
// ends is handed back to the queue at once.
func (w *Worker) Run(ctx context.Context) error {
	if d := w.cfg.DataDir; d != "" {
		fi, err := os.Stat(d)
		if err == nil && !fi.IsDir() {
			err = errors.New("a file")
		}
		if err != nil {
			return fmt.Errorf("worker: the data directory %s is not a directory (%v): give the folder of the data files, or none to fetch them from the cluster", d, err)
		}
	}
	q, err := w.waitQueue(ctx)
	if err != nil {
		return err
	}
	w.cleanJobDirs()
	w.lease.Store(int64(q.AckWait(ctx)))
	w.log.Info("worker ready", "slots", w.cfg.Concurrency, "devices", w.cfg.Devices, "lease", time.Duration(w.lease.Load()))
	var wg sync.WaitGroup
	errs := make([]error, w.cfg.Concurrency)
	for i := range w.cfg.Concurrency {
		s := slot{name: w.cfg.Name}
		if w.cfg.Concurrency > 1 {
			s.name += "/" + strconv.Itoa(i)
		}
		if len(w.cfg.Devices) > 0 {
			s.device = w.cfg.Devices[i]
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = w.loop(ctx, q, s)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (w *Worker) waitQueue(ctx context.Context) (*bus.TaskQueue, error) {
	delay := 200 * time.Millisecond
	logged := false
	for {
		q, err := w.conn.Tasks(ctx)
		if err == nil {
			return q, nil
		}
		if errors.Is(err, bus.ErrClosed) {
			return nil, err
		}
		if ctx.Err() != nil {
			return nil, ctx.Err() // stopped while asking: nothing to warn about
		}
		switch {
		case errors.Is(err, bus.ErrInboxRefused):
			// A setting, not an outage: said as the cause at every try (a
			// fixed server takes the worker once it reconnects).
			w.log.Error("task queue unavailable: the NATS server sends this worker no replies", "err", err)
		case !errors.Is(err, bus.ErrNoConsumer):
			w.log.Warn("task queue unavailable", "err", err)
		case !logged:
			w.log.Info("waiting for a coordinator to create the task queue")
			logged = true
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(delay):
		}
		delay = min(2*delay, 5*time.Second)
	}
}

// slot is one task at a time of a worker: its name in results and the
// device it trains on.
type slot struct {
	name, device string
	job          *jobDir // its jobs' checkpoint directory
}

// loop trains tasks until ctx ends, or the connection is closed for good
// (bus.ErrClosed, returned).
func (w *Worker) loop(ctx context.Context, q *bus.TaskQueue, s slot) error {
	s.job = &jobDir{}
	defer w.removeJobDir(s.job)
	refusals := 0          // in a row
	var pull *bus.TaskSlot // the slot's own subscription, kept from task to task
	defer func() {
		if pull != nil {
			pull.Close()
		}
	}()
	for ctx.Err() == nil {
		var d *bus.Delivery
		var err error
		if pull == nil {
			pull, err = q.Slot()
		}
		if err == nil {
			d, err = pull.Next(ctx, w.cfg.Poll)
		}
		if errors.Is(err, bus.ErrClosed) && ctx.Err() == nil {
			return err
		}
		if err != nil {
			if ctx.Err() != nil {
				continue
			}
			if pull != nil {
				pull.Close() // opened again at the next pull
				pull = nil
			}
			if _, qerr := w.conn.Tasks(ctx); errors.Is(qerr, bus.ErrNoConsumer) {
				// Not an outage: the server is back without the queue
				// (its store lost). Wait for a coordinator to make it
				// again, said once, rather than warn at every pull.
				w.log.Warn("the task queue is gone from the NATS server (was its store lost?)", "err", err)
				if _, err := w.waitQueue(ctx); errors.Is(err, bus.ErrClosed) {
					return err
				}
				continue
			}
			w.log.Warn("pull failed", "err", err)
			sleep(ctx, time.Second)
			continue
		}
		if d == nil {
			continue
		}
		if !w.handle(ctx, d, s, q) {
			refusals = 0
			continue
		}
		// Leave the task to the workers that have its problem.
		sleep(ctx, w.cfg.RefuseDelay<<min(refusals, 3))
		refusals++
	}
	return nil
}

// publishResult publishes a result, retrying with backoff while the
// lease is kept (a full JetStream store, a server away): a trained result
// is not thrown away to be trained again. Each failure is logged and told
// to the coordinator as a best-effort event (core NATS, which a JetStream
// that cannot store still carries), so that it reaches the user. It gives
// up when ctx ends, the connection is closed for good, or after 10 minutes.
// d is the delivery of the task that res answers.
func (w *Worker) publishResult(ctx context.Context, d *bus.Delivery, res gahpo.Result, log *slog.Logger) error {
	delay, deadline := time.Second, time.Now().Add(10*time.Minute)
	for {
		pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		err := w.conn.PublishResult(pctx, res, d.Seq)
		cancel()
		if err == nil || errors.Is(err, bus.ErrClosed) || ctx.Err() != nil || time.Now().After(deadline) {
			return err
		}
		log.Warn("cannot publish result; retrying", "err", err, "in", delay)
		_ = w.conn.PublishEvent(gahpo.Started{V: gahpo.MessageVersion, RunID: res.RunID, GenomeID: res.GenomeID, Worker: res.Worker,
			Attempt: res.Attempt, Replicate: res.Replicate, At: time.Now(), Problem: "cannot publish its result: " + err.Error(), Token: res.Token})
		sleep(ctx, delay)
		delay = min(2*delay, 30*time.Second)
	}
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// handle runs one delivery to its end: a result published and the task
// acknowledged, or the task handed back. It reports whether the task was
// refused (Config.Accept, or a training this worker cannot run:
// models.ErrCannotRunHere).
func (w *Worker) handle(ctx context.Context, d *bus.Delivery, s slot, q *bus.TaskQueue) (refused bool) {
	var task gahpo.Task
	if err := gahpo.Decode(d.Data, &task); err != nil {
		w.log.Error("rejecting malformed task", "subject", d.Subject, "err", err)
		_ = d.Term("malformed task: " + err.Error())
		return false
	}
	if w.cfg.Accept != nil {
		if err := w.cfg.Accept(task); err != nil {
			w.refuse(ctx, d, task, err)
			return true
		}
	}
	log := w.log.With("run", task.RunID, "genome", task.GenomeID, "kind", task.Kind, "attempt", d.Attempt)
	if s.device != "" {
		log = log.With("device", s.device)
	}
	res := gahpo.Result{V: gahpo.MessageVersion, Kind: task.Kind, RunID: task.RunID, GenomeID: task.GenomeID, Worker: s.name, Attempt: d.Attempt,
		Rung: task.Rung, Device: s.device, Replicate: task.Replicate, Token: task.Token}

	// Keep the lease while working.
	stopBeat := w.heartbeat(q, d)
	defer stopBeat()

	var invalid error
	if w.cfg.Check != nil {
		invalid = w.cfg.Check(task)
	}
	switch {
	case task.MaxAttempts > 0 && d.Attempt > task.MaxAttempts:
		deliveries := "deliveries"
		if task.MaxAttempts == 1 {
			deliveries = "delivery"
		}
		res.Failure = fmt.Sprintf("gave up after %d %s: every worker that took it died or lost it", task.MaxAttempts, deliveries)
		log.Warn("genome failed too often", "max_attempts", task.MaxAttempts)
	case invalid != nil:
		res.Failure = invalid.Error()
		log.Warn("rejecting genome", "err", res.Failure)
	default:
		dir, err := w.dataDir(ctx, task)
		if err != nil {
			switch afterData(err, ctx.Err() != nil, d.Attempt, task.MaxAttempts) {
			case refuse:
				// This worker's setup: workers with the data train it.
				w.refuse(ctx, d, task, err)
				return true
			case handBack:
				w.putBack(ctx, d, task, 0)
				return false
			case fail:
				// Its last attempt: the cause is the genome's failure, not
				// "every worker that took it died or lost it" at the next.
				var gone *dataGoneError
				errors.As(err, &gone) // afterData fails nothing else
				res.Failure = gone.Error()
				log.Error("data set missing from the object store at the task's last attempt: the genome fails", "err", gone.err, "max_attempts", task.MaxAttempts)
			default:
				log.Error("data set unavailable, handing the task back", "err", err)
				_ = d.Nak(w.cfg.DataRetryDelay)
				return false
			}
			break
		}
		started := gahpo.Started{V: gahpo.MessageVersion, RunID: task.RunID, GenomeID: task.GenomeID, Replicate: task.Replicate, Worker: s.name, Attempt: d.Attempt, At: time.Now(), Token: task.Token}
		// Told once the training has run for announceAfter (one that ends
		// sooner is shown by its result alone), and again every
		// reannounceEvery while it trains. The announcements are over (sent
		// or never to be) before the training's result or hand-back is
		// published, and before the worker stops.
		stopAnnounce := announce(announceAfter, reannounceEvery, func() { _ = w.conn.PublishEvent(started) })
		defer stopAnnounce()
		log.Info("training", "epochs", task.Epochs, "from_epochs", task.FromEpochs, "rung", task.Rung, "checkpoint", task.Checkpoint != nil)
		err = w.train(ctx, task, dir, s, started, &res)
		stopAnnounce()
		if err != nil {
			switch afterTraining(err, ctx.Err() != nil, d.Attempt, task.MaxAttempts) {
			case handBack:
				log.Info("stopping: handing the task back")
				w.putBack(ctx, d, task, 0)
				return false
			case refuse:
				w.refuse(ctx, d, task, err)
				return true
			case handBackLater:
				log.Warn("training failed as this worker's cache changed under it; handing the task back uncounted", "err", err)
				w.putBack(ctx, d, task, w.cfg.RetryDelay)
				return false
			case retry:
				log.Warn("training failed on this worker; handing the task back for another attempt", "err", err, "max_attempts", task.MaxAttempts)
				_ = d.Nak(w.cfg.RetryDelay)
				return false
			default:
				res.Failure = err.Error()
			}
		}
	}
	if res.Failure != "" {
		res.Fitness = gahpo.Float(math.Inf(1))
	}
	fitMessage(&res, log)
	// Publish, then ack: a crash in between only repeats the result,
	// which the coordinator ignores (by the task's token and rung).
	if err := w.publishResult(ctx, d, res, log); err != nil {
		if ctx.Err() != nil {
			log.Info("stopping before the result was published: handing the task back", "err", err)
			w.putBack(ctx, d, task, 0)
			return false
		}
		log.Error("cannot publish result; the task will be redelivered", "err", err)
		_ = d.Nak(time.Second)
		return false
	}
	// The ack is not waited for, as a lost one costs no more than one
	// whose confirmation is lost: the task comes back after its lease,
	// and its result again, which the coordinator ignores. Waiting for it
	// cost a round trip a genome.
	if err := d.AckNoWait(); err != nil {
		log.Warn("ack failed; the task may be redelivered and its result ignored", "err", err)
	}
	w.mu.Lock()
	w.done++
	w.mu.Unlock()
	log.Info("result published", "fitness", float64(res.Fitness), "epochs_done", res.EpochsDone, "duration", res.Duration.Round(time.Millisecond), "checkpoint", res.Checkpoint != nil, "failure", res.Failure)
	return false
}

// errPanicked wraps the panic of a training: like models.ErrUntrainable,
// it fails the genome at once (a panic is most likely the genome's, and
// retrying it would take a worker down again).
var errPanicked = errors.New("training panicked")

// retryable tells whether a training error is worth another attempt: it
// is neither the task's own fault nor a panic.
// A checkpoint archive that is refused (bus.ErrBadArchive) would be
// refused by every worker.
func retryable(err error) bool {
	return !errors.Is(err, models.ErrUntrainable) && !errors.Is(err, errPanicked) && !errors.Is(err, bus.ErrBadArchive)
}

// announceAfter is how long a training runs before its worker tells the
// coordinator it took the genome (the event a status shows as a training
// under way, with the time it started). A shorter training is not told:
// its result follows at once, and the event was a message a genome to the
// server and the coordinator on the path of the shortest tasks.
const announceAfter = 100 * time.Millisecond

// reannounceEvery is how often a training under way is told again: a
// coordinator that began to listen after the first event (gahpo run
// resumed, whose workers take the tasks left queued before its coordinator
// subscribes; a coordinator restarted in a cluster) showed no training
// under way ("0 running") until the results came back.
const reannounceEvery = 3 * time.Second

// announce calls send after first, then every every, in a goroutine of
// its own, until the returned stop is called. Once stop has returned, send
// has either returned or will never be called again: a send under way is
// waited for (a timer's Stop alone does not wait, and the event went out
// after the result it preceded, or after the worker had stopped). stop may
// be called more than once.
func announce(first, every time.Duration, send func()) (stop func()) {
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTimer(first)
		defer t.Stop()
		for {
			select {
			case <-quit:
				return
			case <-t.C:
			}
			select { // stop called while the timer fired: send nothing
			case <-quit:
				return
			default:
			}
			send()
			t.Reset(every)
		}
	}()
	return sync.OnceFunc(func() {
		close(quit)
		<-done
	})
}

// leaseCheck is how long a task is held before its worker reads the
// queue's lease anew. A task answered sooner costs no request of its own
// (a lease read per task was a fourth round trip to the server, and a
// tenth of the CPU of a short task's path); a longer one learns a lease a
// resumed run's coordinator changed (--ack-wait, shortened only while no
// task is held, never below 1 s) well before it runs out.
const leaseCheck = 250 * time.Millisecond

// heartbeat keeps d's lease while its task is worked on: a renewal every
// third of the lease last known (Worker.lease), which is read anew from the
// server after leaseCheck; a lease that changed is renewed by at once.
func (w *Worker) heartbeat(q *bus.TaskQueue, d *bus.Delivery) (stop func()) {
	lease := time.Duration(w.lease.Load())
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		renew := func() {
			if err := d.InProgress(); err != nil {
				w.log.Warn("lease renewal failed", "err", err)
			}
		}
		every := renewEvery(lease)
		t := time.NewTicker(every)
		defer t.Stop()
		check := time.NewTimer(min(every, leaseCheck))
		defer check.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-check.C:
				now := q.AckWait(ctx)
				if ctx.Err() != nil || now == lease {
					continue
				}
				lease = now
				w.lease.Store(int64(now))
				every = renewEvery(now)
				t.Reset(every)
				renew()
			case <-t.C:
				renew()
			}
		}
	}()
	return func() { cancel(); wg.Wait() }
}

// renewEvery is how often a task's lease is renewed: a third of it.
func renewEvery(lease time.Duration) time.Duration { return max(lease/3, 100*time.Millisecond) }

// dataDir returns the local directory holding the task's data set,
// fetching it from the object store the first time; with a data directory
// of the worker's own, it must hold the set's files (else the error wraps
// models.ErrCannotRunHere: workers that have them train the task).
func (w *Worker) dataDir(ctx context.Context, task gahpo.Task) (string, error) {
	if w.cfg.DataDir != "" {
		for _, ref := range task.Data {
			if _, err := os.Stat(filepath.Join(w.cfg.DataDir, filepath.Base(ref.Name))); err != nil {
				return "", fmt.Errorf("%w: the data file %s is not in this worker's data directory %s (the run's data set: %s)", models.ErrCannotRunHere, filepath.Base(ref.Name), w.cfg.DataDir, dataNames(task.Data))
			}
		}
		return w.cfg.DataDir, nil
	}
	if len(task.Data) == 0 {
		return "", nil
	}
	refs, err := w.digests(ctx, task.Data)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	for _, ref := range refs {
		h.Write([]byte(ref.Name + "\x00" + ref.Digest + "\x00"))
	}
	key := hex.EncodeToString(h.Sum(nil))[:16]
	w.mu.Lock()
	set, ok := w.fetched[key]
	w.mu.Unlock()
	if ok && set.intact() == nil {
		return set.dir, nil
	}
	// One slot at a time fetches a set: the others wait, then find it
	// fetched. Each fetched it too, and its rename of a file under the
	// trainings of the others made them hand their tasks back.
	unlock, err := w.lockDataSet(ctx, key)
	if err != nil {
		return "", err
	}
	defer unlock()
	w.mu.Lock()
	set, ok = w.fetched[key]
	w.mu.Unlock()
	told := false // why the set is fetched again
	if ok {
		err := set.intact()
		if err == nil {
			return set.dir, nil // fetched by another slot meanwhile
		}
		w.log.Warn("the cached data set changed since it was fetched; fetching it again", "dir", set.dir, "err", err)
		told = true
	}
	set = dataSet{dir: filepath.Join(w.cfg.CacheDir, "data-"+key)}
	for _, ref := range refs {
		// A file cached by an earlier worker on this cache is checked
		// whole before it is used; one that is damaged is fetched again.
		path := filepath.Join(set.dir, filepath.Base(ref.Name))
		f := fileStamp{path: path, digest: ref.Digest}
		if err := f.check(); err != nil {
			if !errors.Is(err, os.ErrNotExist) && !told {
				w.log.Warn("a cached data file is damaged; fetching it again", "err", err)
			}
			if f.path, err = w.fetch(ctx, ref, set.dir); err != nil {
				return "", dataGone(ref, err)
			}
		}
		fi, err := os.Stat(f.path)
		if err != nil {
			return "", fmt.Errorf("worker: data set: %w", err)
		}
		f.size = fi.Size()
		set.files = append(set.files, f)
	}
	w.log.Info("data set ready", "dir", set.dir, "files", len(task.Data))
	w.mu.Lock()
	w.fetched[key] = set
	w.mu.Unlock()
	return set.dir, nil
}

// dataGoneError is a data set's object that the object store does not
// have, or has with other bytes than the task's digest. Its task is handed
// back, counted, as for any fetch that failed: the server may be back
// without its store for a while, until the coordinator puts the data set
// there again (as it does when it starts, resumes or sets up a store that
// was lost). At the task's last attempt it is the genome's failure, which
// then says why rather than "gave up after N deliveries".
type dataGoneError struct {
	ref      gahpo.DataRef
	replaced bool // the object is there, with other bytes
	err      error
}

func (e *dataGoneError) Error() string {
	// One line, short enough (with MNIST's longest name) for the run's
	// failure cause to show it whole (search.FailureCause: 200 bytes): an
	// object named by its content shows 8 digits of its digest.
	obj, byName := e.ref.Bucket+"/"+e.ref.Name, !bus.IsDataObjectName(e.ref.Name)
	if !byName {
		obj = e.ref.Bucket + "/" + e.ref.Name[:len("sha256-")+8] + "…/" + filepath.Base(e.ref.Name)
	}
	switch {
	case e.replaced && byName:
		// An older coordinator's task names its data by file name alone,
		// which another run's file of that name replaces.
		return "worker: data set object " + obj + " holds other bytes than the run's (replaced by another run's file of that name?): " +
			"upgrade the run's coordinator"
	case e.replaced:
		return "worker: data set object " + obj + " holds other bytes than its digest: restart the run's coordinator, which puts it back"
	}
	return "worker: data set object " + obj + " is missing from the object store (deleted, or NATS lost its store): " +
		"restart the run's coordinator, which puts it back"
}

func (e *dataGoneError) Unwrap() error { return e.err }

// fetch downloads ref into dir (bus.Conn.Fetch). A reference by file name
// alone, with a digest (the task of an older coordinator, queued before a
// newer one resumed its run), whose object is missing or holds other
// bytes (another run's file of that name) is read under its content's name
// (bus.DataObjectName), where a newer coordinator keeps the same file.
func (w *Worker) fetch(ctx context.Context, ref gahpo.DataRef, dir string) (string, error) {
	path, err := w.conn.Fetch(ctx, ref, dir)
	if err == nil || ref.Digest == "" || bus.IsDataObjectName(ref.Name) || !bus.IsNotFound(err) && !errors.Is(err, bus.ErrDigest) {
		return path, err
	}
	alt := ref
	if alt.Name, _ = bus.DataObjectName(ref.Digest, ref.Name); alt.Name == "" {
		return "", err
	}
	if p, aerr := w.conn.Fetch(ctx, alt, dir); aerr == nil {
		w.log.Info("data file fetched under its content's name: the task's name for it was missing or replaced", "object", ref.Name, "as", alt.Name)
		return p, nil
	}
	return "", err
}

// dataGone wraps err, from fetching ref or reading its digest, as a
// dataGoneError when it says the object is not in the store or was
// replaced; other errors are returned as they are.
func dataGone(ref gahpo.DataRef, err error) error {
	switch {
	case bus.IsNotFound(err):
		return &dataGoneError{ref: ref, err: err}
	case errors.Is(err, bus.ErrDigest):
		return &dataGoneError{ref: ref, replaced: true, err: err}
	}
	return err
}

// lockDataSet waits for the lock of the data set key's fetch, or for ctx
// to end (its error); unlock releases it.
func (w *Worker) lockDataSet(ctx context.Context, key string) (unlock func(), err error) {
	w.mu.Lock()
	l := w.fetching[key]
	if l == nil {
		l = make(chan struct{}, 1)
		w.fetching[key] = l
	}
	w.mu.Unlock()
	select {
	case l <- struct{}{}:
		return func() { <-l }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// digests returns refs with each missing digest (a task of an older
// coordinator) filled in from the object store's record of the object.
// Without one, each cached file was checked against an empty digest, found
// damaged before and after every training, and its task handed back to be
// fetched and trained again without end. The store's digest, asked before
// each task, keeps the cache in use and tells an object replaced under its
// name (fetched again, into a directory of its own).
func (w *Worker) digests(ctx context.Context, refs []gahpo.DataRef) ([]gahpo.DataRef, error) {
	var out []gahpo.DataRef
	for i, ref := range refs {
		if ref.Digest != "" {
			continue
		}
		if out == nil {
			out = slices.Clone(refs)
		}
		d, err := w.conn.ObjectDigest(ctx, ref.Bucket, ref.Name)
		if err != nil {
			return nil, fmt.Errorf("worker: data set: %w", dataGone(ref, err))
		}
		out[i].Digest = d
	}
	if out == nil {
		return refs, nil
	}
	return out, nil
}

// dataSet is a data set fetched into the cache: its directory, and each
// file's digest and size once its digest was checked.
type dataSet struct {
	dir   string
	files []fileStamp
}

// fileStamp is what a checked file of a data set was.
type fileStamp struct {
	path   string
	digest string // the data set's (gahpo.DataRef.Digest)
	size   int64
}

// intact tells, by an error saying why not, whether every file of the set
// still holds the bytes it was checked to hold, before each task and after
// each training: a cache deleted or cleaned between tasks, a file
// rewritten, or one whose bytes changed under the same size and time (bit
// rot, a restore that keeps times) is fetched again instead of failing the
// next genomes on a missing file or training them on other data. A file
// put back with the same bytes (another worker process's fetch into a
// shared cache) is intact: a training on it was not disturbed, though its
// time changed. Its SHA-256 is computed each time: 10-15 ms for MNIST's
// 11.6 MB on this project's 2 cores (BenchmarkDataSetIntact), against
// 20-30 s for an epoch on the 60,000 images (a few seconds on --preset
// quick's 6,000).
func (s dataSet) intact() error {
	for _, f := range s.files {
		fi, err := os.Stat(f.path)
		switch {
		case err != nil:
			return err
		case !fi.Mode().IsRegular():
			return fmt.Errorf("%s: no regular file (%s)", f.path, fi.Mode().Type())
		case fi.Size() != f.size:
			return fmt.Errorf("%s: %d bytes, checked at %d bytes", f.path, fi.Size(), f.size)
		}
		if err := f.check(); err != nil {
			return err
		}
	}
	return nil
}

// check tells, by an error saying why not, whether the file holds the
// data set's bytes: its SHA-256 is the set's digest. A missing file's error
// wraps os.ErrNotExist.
func (f fileStamp) check() error {
	d, err := bus.DigestFile(f.path)
	switch {
	case err != nil:
		return err
	case d != f.digest:
		return fmt.Errorf("%s: SHA-256 %s, the data set's is %s (its bytes changed: bit rot, or a rewrite)", f.path, d, f.digest)
	}
	return nil
}
