package worker_test

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gahpo/gahpo"
	"github.com/gahpo/gahpo/bus"
	"github.com/gahpo/gahpo/internal/testnats"
	"github.com/gahpo/gahpo/models"
	"github.com/gahpo/gahpo/models/problems"
	"github.com/gahpo/gahpo/natsserver"
	"github.com/gahpo/gahpo/worker"
)

// cluster is a NATS server with the streams set up, a coordinator's
// connection and the results of run r1.
type cluster struct {
	srv   *natsserver.Server
	conn  *bus.Conn
	relay *relay
}

func newCluster(t *testing.T, ctx context.Context) *cluster {
	t.Helper()
	srv := testnats.Start(t)
	conn := testnats.Connect(t, srv, "coord")
	if err := conn.EnsureStreams(ctx, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	feed, err := conn.Results(ctx, "r1", 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return &cluster{srv: srv, conn: conn, relay: startRelay(t, conn, feed)}
}

// start runs a worker until the returned function stops it and waits.
func (c *cluster) start(t *testing.T, ctx context.Context, tr worker.Trainer, cfg worker.Config) (*worker.Worker, func()) {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = quiet
	}
	if cfg.Poll == 0 {
		cfg.Poll = 200 * time.Millisecond
	}
	w := worker.New(testnats.Connect(t, c.srv, cfg.Name), tr, cfg)
	wctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = w.Run(wctx) }()
	var once sync.Once
	stop := func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(stop)
	return w, stop
}

func (c *cluster) publish(t *testing.T, ctx context.Context, task gahpo.Task) {
	t.Helper()
	task.V, task.RunID = gahpo.MessageVersion, "r1"
	if task.Kind == "" {
		task.Kind = gahpo.KindFitness
	}
	if task.Problem == "" {
		task.Problem = "p"
	}
	if task.Params == nil {
		task.Params = map[string]float64{"x": 1}
	}
	c.relay.publish(t, ctx, task)
}

func (c *cluster) next(t *testing.T, ctx context.Context) gahpo.Result {
	t.Helper()
	return c.relay.next(t, ctx)
}

// counter is a trainer that trains on from the epoch count in its
// checkpoint directory's "state" file up to the task's epochs, reporting
// each epoch; it fails (as the genome's fault) when the directory is not
// at the task's FromEpochs.
func counter(calls *atomic.Int32) worker.TrainerFunc {
	return func(ctx context.Context, job models.Job) (models.Outcome, error) {
		calls.Add(1)
		state := filepath.Join(job.CheckpointDir, "state")
		from := 0
		if b, err := os.ReadFile(state); err == nil {
			from, _ = strconv.Atoi(string(b))
		}
		if from != job.Task.FromEpochs {
			return models.Outcome{}, fmt.Errorf("%w: checkpoint at epoch %d, task from %d", models.ErrUntrainable, from, job.Task.FromEpochs)
		}
		var out models.Outcome
		for e := from + 1; e <= job.Task.Epochs; e++ {
			rep := gahpo.EpochReport{Epoch: e, Metrics: map[string]gahpo.Float{"val_loss": gahpo.Float(1 / float64(e))}}
			job.OnEpoch(rep)
			out.Curve = append(out.Curve, rep)
		}
		if err := os.MkdirAll(filepath.Join(job.CheckpointDir, "sub"), 0o755); err != nil {
			return out, err
		}
		if err := os.WriteFile(filepath.Join(job.CheckpointDir, "sub", "trained"), []byte(strconv.Itoa(job.Task.Epochs)), 0o600); err != nil {
			return out, err
		}
		out.Fitness = 1 / float64(job.Task.Epochs)
		out.Log = []string{"trained to " + strconv.Itoa(job.Task.Epochs)}
		return out, os.WriteFile(state, []byte(strconv.Itoa(job.Task.Epochs)), 0o600)
	}
}

func TestWorkerCheckpoints(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := newCluster(t, ctx)
	const bucket = "gahpo-checkpoints"

	// The checkpoint directories that killed workers left behind are
	// removed; a live process's are not.
	cache := t.TempDir()
	jobs := filepath.Join(cache, "jobs")
	gone := exec.Command("true")
	if err := gone.Run(); err != nil {
		t.Fatal(err)
	}
	stale := map[string]bool{ // name → removed
		fmt.Sprintf("job-%d-1", gone.Process.Pid): true,
		fmt.Sprintf("job-%d-2", os.Getpid()):      true,
		fmt.Sprintf("job-%d-3", os.Getppid()):     false,
	}
	for name := range stale {
		if err := os.MkdirAll(filepath.Join(jobs, name, "sub"), 0o700); err != nil {
			t.Fatal(err)
		}
	}

	var mu sync.Mutex
	events := map[int][]int{} // genome → epochs reported while running
	stopEvents, err := c.conn.SubscribeEvents("r1", func(data []byte) {
		var e gahpo.Started
		if gahpo.Decode(data, &e) == nil && e.Report != nil {
			mu.Lock()
			events[e.GenomeID] = append(events[e.GenomeID], e.Report.Epoch)
			mu.Unlock()
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer stopEvents()

	var calls atomic.Int32
	c.start(t, ctx, counter(&calls), worker.Config{Name: "w", CacheDir: cache, RetryDelay: 50 * time.Millisecond})

	// Rung 0: two epochs from scratch, kept.
	c.publish(t, ctx, gahpo.Task{GenomeID: 1, Epochs: 2, CheckpointTo: bucket})
	r1 := c.next(t, ctx)
	if r1.Failure != "" || r1.EpochsDone != 2 || r1.Rung != 0 || len(r1.Curve) != 2 || r1.Curve[1].Epoch != 2 || float64(r1.Fitness) != 0.5 ||
		!slices.Equal(r1.Log, []string{"trained to 2"}) || r1.Checkpoint == nil || !strings.HasPrefix(r1.Checkpoint.Name, "r1-1-e2-") || r1.Checkpoint.Bucket != bucket ||
		!strings.HasPrefix(r1.Checkpoint.Digest, "SHA-256=") || r1.Checkpoint.Size == 0 {
		t.Fatalf("rung 0 result %+v (checkpoint %+v)", r1, r1.Checkpoint)
	}
	for name, removed := range stale {
		if _, err := os.Stat(filepath.Join(jobs, name)); removed != errors.Is(err, os.ErrNotExist) {
			t.Errorf("stale %s: stat %v, want removed %v", name, err, removed)
		}
	}

	// Promoted: on from the checkpoint to six epochs, kept again. (The
	// promotion has its own genome id here: the task queue drops a task
	// published twice under one id.)
	c.publish(t, ctx, gahpo.Task{GenomeID: 2, Epochs: 6, FromEpochs: 2, Rung: 1, Checkpoint: r1.Checkpoint, CheckpointTo: bucket})
	r2 := c.next(t, ctx)
	if r2.Failure != "" || r2.EpochsDone != 6 || r2.Rung != 1 || len(r2.Curve) != 4 || r2.Curve[0].Epoch != 3 || r2.Checkpoint == nil || !strings.HasPrefix(r2.Checkpoint.Name, "r1-2-e6-") {
		t.Fatalf("rung 1 result %+v (checkpoint %+v)", r2, r2.Checkpoint)
	}
	got := t.TempDir()
	if err := c.conn.GetDir(ctx, *r2.Checkpoint, got); err != nil {
		t.Fatal(err)
	}

	// The same task trained again (a lease lost while its first worker
	// still finished; here under another token, so that the queue takes
	// it) keeps its checkpoint under a name of its own: what the first
	// result named is still there, as it was.
	c.publish(t, ctx, gahpo.Task{GenomeID: 1, Epochs: 2, CheckpointTo: bucket, Token: "again"})
	again := c.next(t, ctx)
	if again.Checkpoint == nil || again.Checkpoint.Name == r1.Checkpoint.Name || !strings.HasPrefix(again.Checkpoint.Name, "r1-1-e2-") {
		t.Fatalf("the second training of genome 1 kept %+v; the first %+v", again.Checkpoint, r1.Checkpoint)
	}
	if err := c.conn.GetDir(ctx, *r1.Checkpoint, t.TempDir()); err != nil {
		t.Errorf("the first training's checkpoint after the second: %v", err)
	}
	for file, want := range map[string]string{"state": "6", "sub/trained": "6"} {
		if b, err := os.ReadFile(filepath.Join(got, file)); err != nil || string(b) != want {
			t.Errorf("kept checkpoint %s = %q, %v; want %q", file, b, err, want)
		}
	}

	// A checkpoint whose archive would write outside its directory fails
	// the genome at once, without training; one that is gone is tried
	// again, then fails.
	var evil bytes.Buffer
	tw := tar.NewWriter(&evil)
	_ = tw.WriteHeader(&tar.Header{Name: "../../../escaped", Typeflag: tar.TypeReg, Size: 1, Mode: 0o600})
	_, _ = tw.Write([]byte("x"))
	_ = tw.Close()
	eref, err := c.conn.PutBytes(ctx, bucket, "evil", evil.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	missing := *r1.Checkpoint
	if err := c.conn.DeleteObject(ctx, missing.Bucket, missing.Name); err != nil {
		t.Fatal(err)
	}
	before := calls.Load()
	tests := []struct {
		genome  int
		ref     gahpo.ObjectRef
		failure string
		attempt int
	}{
		{3, gahpo.ObjectRef{Bucket: eref.Bucket, Name: eref.Name, Digest: eref.Digest}, "bad archive", 1},
		{4, missing, "restore checkpoint", 2},
	}
	for _, tt := range tests {
		c.publish(t, ctx, gahpo.Task{GenomeID: tt.genome, Epochs: 4, FromEpochs: 2, Rung: 1, Checkpoint: &tt.ref, CheckpointTo: bucket, MaxAttempts: 2})
		r := c.next(t, ctx)
		if r.GenomeID != tt.genome || !strings.Contains(r.Failure, tt.failure) || r.Attempt != tt.attempt || r.Checkpoint != nil {
			t.Errorf("genome %d: failure %q attempt %d checkpoint %v; want %q at attempt %d", r.GenomeID, r.Failure, r.Attempt, r.Checkpoint, tt.failure, tt.attempt)
		}
	}
	if n := calls.Load() - before; n != 0 {
		t.Errorf("trained %d times without a usable checkpoint", n)
	}
	if _, err := os.Stat(filepath.Join(cache, "escaped")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the evil archive escaped: %v", err)
	}

	// No job left anything behind: the live process's stale directory
	// stays, and the slot's own directory, kept for its next job, is empty.
	entries, err := os.ReadDir(jobs)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() == fmt.Sprintf("job-%d-3", os.Getppid()) {
			continue
		}
		if inside, err := os.ReadDir(filepath.Join(jobs, e.Name())); err != nil || len(inside) != 0 || !strings.HasPrefix(e.Name(), fmt.Sprintf("job-%d-", os.Getpid())) {
			t.Errorf("jobs dir holds %s with %v (%v); want only the live process's and the slot's, empty", e.Name(), inside, err)
		}
	}
	// The running genomes' epochs were published as they came (genome 1
	// trained twice).
	want := map[int][]int{1: {1, 2, 1, 2}, 2: {3, 4, 5, 6}}
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		ok := slices.Equal(events[1], want[1]) && slices.Equal(events[2], want[2])
		got := fmt.Sprint(events)
		mu.Unlock()
		if ok {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("epoch events %s, want %v", got, want)
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestWorkerRefusesLinkOutOfCheckpoint: a trainer that leaves a link out
// of its checkpoint directory fails its genome at once, saying why, at the
// rung that made it (before, every worker refused it at the next rung,
// after the epochs were spent). A link inside, absolute or not, is kept.
func TestWorkerRefusesLinkOutOfCheckpoint(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := newCluster(t, ctx)
	var calls atomic.Int32
	c.start(t, ctx, worker.TrainerFunc(func(ctx context.Context, job models.Job) (models.Outcome, error) {
		calls.Add(1)
		dir := job.CheckpointDir
		if err := os.WriteFile(filepath.Join(dir, "state"), []byte("1"), 0o600); err != nil {
			return models.Outcome{}, err
		}
		target := filepath.Join(dir, "state") // absolute, inside
		if job.Task.GenomeID == 2 {
			target = "/etc/hostname"
		}
		if err := os.Symlink(target, filepath.Join(dir, "latest")); err != nil {
			return models.Outcome{}, err
		}
		return models.Outcome{Fitness: 0.5, Curve: []gahpo.EpochReport{{Epoch: 1, Metrics: map[string]gahpo.Float{"val_loss": 0.5}}}}, nil
	}), worker.Config{Name: "w", CacheDir: t.TempDir(), RetryDelay: 50 * time.Millisecond})
	for _, tt := range []struct {
		genome  int
		failure string
	}{
		{1, ""},
		{2, `latest: symlink to "/etc/hostname" leads out of the directory`},
	} {
		c.publish(t, ctx, gahpo.Task{GenomeID: tt.genome, Epochs: 1, CheckpointTo: "gahpo-checkpoints", MaxAttempts: 3})
		r := c.next(t, ctx)
		if !strings.Contains(r.Failure, tt.failure) || (tt.failure == "") != (r.Failure == "") || r.Attempt != 1 || (r.Checkpoint == nil) == (tt.failure == "") {
			t.Errorf("genome %d: failure %q at attempt %d, checkpoint %v; want %q at once", tt.genome, r.Failure, r.Attempt, r.Checkpoint, tt.failure)
		}
	}
	if n := calls.Load(); n != 2 {
		t.Errorf("%d trainings for 2 tasks", n)
	}
}

// With two devices, two tasks train at once, each on its own device.
func TestWorkerDevices(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := newCluster(t, ctx)
	var (
		mu     sync.Mutex
		seen   = map[int]string{} // genome → device
		active atomic.Int32
		both   = make(chan struct{})
		once   sync.Once
	)
	tr := worker.TrainerFunc(func(ctx context.Context, job models.Job) (models.Outcome, error) {
		mu.Lock()
		seen[job.Task.GenomeID] = job.Device
		mu.Unlock()
		if active.Add(1) == 2 {
			once.Do(func() { close(both) })
		}
		defer active.Add(-1)
		select {
		case <-both:
			return models.Outcome{Fitness: 0.5}, nil
		case <-ctx.Done():
			return models.Outcome{}, ctx.Err()
		case <-time.After(time.Minute):
			return models.Outcome{}, fmt.Errorf("%w: the other task never trained at the same time", models.ErrUntrainable)
		}
	})
	c.start(t, ctx, tr, worker.Config{Name: "w", CacheDir: t.TempDir(), Devices: []string{"0", "1"}})
	for g := 1; g <= 2; g++ {
		c.publish(t, ctx, gahpo.Task{GenomeID: g, MaxAttempts: 1})
	}
	devices := map[string]bool{}
	for range 2 {
		r := c.next(t, ctx)
		if r.Failure != "" || r.Device == "" || r.Device != seen[r.GenomeID] {
			t.Errorf("genome %d: failure %q, device %q, trainer's device %q", r.GenomeID, r.Failure, r.Device, seen[r.GenomeID])
		}
		devices[r.Device] = true
	}
	if !devices["0"] || !devices["1"] {
		t.Errorf("devices used %v, want 0 and 1", devices)
	}
}

// A worker without a task's problem file hands its tasks back, uncounted,
// and logs it once; a worker that has the file trains them all at their
// first attempt.
func TestWorkerRefusesForeignProblem(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := newCluster(t, ctx)
	const digest = "SHA-256=abc"
	var refusals atomic.Int32
	var logs testnats.LogBuffer
	refuser, stopRefuser := c.start(t, ctx, worker.TrainerFunc(func(context.Context, models.Job) (models.Outcome, error) {
		return models.Outcome{}, errors.New("the refusing worker trained")
	}), worker.Config{Name: "without", CacheDir: t.TempDir(), RefuseDelay: 10 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(&logs, nil)),
		Accept: func(task gahpo.Task) error {
			refusals.Add(1)
			return fmt.Errorf("no problem file %q here", task.Problem)
		}})
	const tasks = 4
	for g := 1; g <= tasks; g++ {
		c.publish(t, ctx, gahpo.Task{GenomeID: g, Problem: "mine", ProblemDigest: digest, MaxAttempts: 1})
	}
	// Let it refuse more times than any task's attempts allow.
	deadline := time.Now().Add(time.Minute)
	for refusals.Load() < 2*tasks && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	var calls atomic.Int32
	c.start(t, ctx, counter(&calls), worker.Config{Name: "with", CacheDir: t.TempDir(),
		Accept: func(task gahpo.Task) error {
			if task.ProblemDigest != digest {
				return errors.New("another version of the problem")
			}
			return nil
		}})
	for range tasks {
		r := c.next(t, ctx)
		if r.Worker != "with" || r.Attempt != 1 || r.Failure != "" {
			t.Errorf("genome %d: worker %q attempt %d failure %q; want worker with, attempt 1, no failure", r.GenomeID, r.Worker, r.Attempt, r.Failure)
		}
	}
	stopRefuser()
	if n := refusals.Load(); n < 2*tasks {
		t.Errorf("%d refusals, want at least %d", n, 2*tasks)
	}
	if n := strings.Count(logs.String(), "refusing the tasks"); n != 1 {
		t.Errorf("refusal logged %d times, want once:\n%s", n, logs.String())
	}
	if refuser.Done() != 0 {
		t.Errorf("the refusing worker finished %d tasks", refuser.Done())
	}
}

// A worker stopped mid-training (SIGTERM cancels its context) ends the
// training, removes its checkpoint directory and hands the task back; the
// next worker trains it.
func TestWorkerStopHandsTaskBack(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := newCluster(t, ctx)
	// --max-attempts 1: a stopped worker's delivery must not count, or
	// the second worker to take the task would give the genome up.
	c.publish(t, ctx, gahpo.Task{GenomeID: 1, Epochs: 3, CheckpointTo: "gahpo-checkpoints", MaxAttempts: 1})
	for i := range 2 {
		started := make(chan struct{})
		var ended atomic.Bool
		cache := t.TempDir()
		_, stop := c.start(t, ctx, worker.TrainerFunc(func(ctx context.Context, job models.Job) (models.Outcome, error) {
			if err := os.WriteFile(filepath.Join(job.CheckpointDir, "partial"), []byte("x"), 0o600); err != nil {
				return models.Outcome{}, err
			}
			close(started)
			<-ctx.Done()
			ended.Store(true)
			return models.Outcome{}, ctx.Err()
		}), worker.Config{Name: "stopped-" + strconv.Itoa(i), CacheDir: cache})
		select {
		case <-started:
		case <-ctx.Done():
			t.Fatal("the task never started")
		}
		stop()
		if !ended.Load() {
			t.Error("the training was not ended")
		}
		if entries, err := os.ReadDir(filepath.Join(cache, "jobs")); err != nil || len(entries) != 0 {
			t.Errorf("checkpoint directories left: %v, %v", entries, err)
		}
	}
	var calls atomic.Int32
	c.start(t, ctx, counter(&calls), worker.Config{Name: "next", CacheDir: t.TempDir()})
	r := c.next(t, ctx)
	if r.Worker != "next" || r.Attempt != 1 || r.Failure != "" || r.EpochsDone != 3 {
		t.Errorf("result %+v; want worker next, attempt 1 (the stopped workers' deliveries not counted), 3 epochs", r)
	}
}

// A result too large for a message is trimmed, not retried forever: the
// log keeps its last lines, the curve loses its probes first.
func TestWorkerTrimsLargeResults(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := newCluster(t, ctx)
	tr := worker.TrainerFunc(func(_ context.Context, job models.Job) (models.Outcome, error) {
		out := models.Outcome{Fitness: 0.25}
		for i := range 5000 {
			out.Log = append(out.Log, fmt.Sprintf("line %d %s", i, strings.Repeat("é", 400)))
		}
		for e := 1; e <= 14; e++ {
			rep := gahpo.EpochReport{Epoch: e, Metrics: map[string]gahpo.Float{"val_loss": 1}}
			if job.Task.GenomeID == 2 {
				probe := make([]float32, 2000)
				for i := range probe {
					probe[i] = 0.123456 + float32(i)
				}
				rep.Probe = map[string][]float32{"conv1.weight": probe}
			}
			out.Curve = append(out.Curve, rep)
		}
		return out, nil
	})
	c.start(t, ctx, tr, worker.Config{Name: "w", CacheDir: t.TempDir()})
	for g := 1; g <= 2; g++ {
		c.publish(t, ctx, gahpo.Task{GenomeID: g, Epochs: 14, MaxAttempts: 1})
		r := c.next(t, ctx)
		if r.Failure != "" || r.Attempt != 1 || len(r.Curve) != 14 || r.EpochsDone != 14 {
			t.Fatalf("genome %d: failure %q attempt %d curve %d epochs done %d", g, r.Failure, r.Attempt, len(r.Curve), r.EpochsDone)
		}
		if n := len(r.Log); n == 0 || n > 100 || !strings.HasPrefix(r.Log[n-1], "line 4999 ") || !strings.HasSuffix(r.Log[n-1], "…") {
			t.Errorf("genome %d: %d log lines, last %.20q; want the last ones, cut", g, n, r.Log[n-1])
		}
		if r.Curve[0].Probe != nil {
			t.Errorf("genome %d: probes kept in a result over the limit", g)
		}
	}
}

// TestJobDirReused: a slot's jobs share one checkpoint directory while they
// leave it empty; a job that leaves files gets it removed, so the next job
// starts in a new, empty one; the directory is gone once the worker stops.
func TestJobDirReused(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := newCluster(t, ctx)
	cache := t.TempDir()
	var (
		mu   sync.Mutex
		dirs = map[int]string{} // genome → its job's directory
	)
	tr := worker.TrainerFunc(func(_ context.Context, job models.Job) (models.Outcome, error) {
		mu.Lock()
		dirs[job.Task.GenomeID] = job.CheckpointDir
		mu.Unlock()
		if entries, err := os.ReadDir(job.CheckpointDir); err != nil || len(entries) != 0 {
			return models.Outcome{}, fmt.Errorf("%w: job directory holds %v (%v)", models.ErrUntrainable, entries, err)
		}
		if job.Task.GenomeID == 3 { // leaves a file behind
			if err := os.WriteFile(filepath.Join(job.CheckpointDir, "state"), []byte("x"), 0o600); err != nil {
				return models.Outcome{}, err
			}
		}
		return models.Outcome{Fitness: 1}, nil
	})
	_, stop := c.start(t, ctx, tr, worker.Config{Name: "w", CacheDir: cache})
	for id := 1; id <= 4; id++ {
		c.publish(t, ctx, gahpo.Task{GenomeID: id})
		if r := c.next(t, ctx); r.Failure != "" {
			t.Fatalf("genome %d: %s", id, r.Failure)
		}
	}
	mu.Lock()
	if dirs[1] != dirs[2] || dirs[2] != dirs[3] {
		t.Errorf("jobs 1-3 ran in %q, %q, %q: want one directory while it stays empty", dirs[1], dirs[2], dirs[3])
	}
	if dirs[4] == dirs[3] {
		t.Errorf("job 4 ran in %q, where job 3 left a file", dirs[4])
	}
	if _, err := os.Stat(dirs[3]); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("job 3's directory is still there: %v", err)
	}
	mu.Unlock()
	stop()
	if entries, err := os.ReadDir(filepath.Join(cache, "jobs")); err != nil || len(entries) != 0 {
		t.Errorf("after the worker stopped, the jobs directory holds %v (%v)", entries, err)
	}
}

// A replicate of a population based training's genome carries its
// schedule: the worker trains it from scratch, each step on from the state
// the step before left, and gets exactly what the genome's chain of tasks
// (each on from the last's checkpoint, through the object store) gets with
// the same seed. The real regression trainer.
func TestWorkerReplaysSchedule(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := newCluster(t, ctx)
	const bucket = "gahpo-checkpoints"
	var mu sync.Mutex
	var steps []gahpo.Task // the tasks the trainer was given, in order
	real := problems.NewTrainer()
	rec := worker.TrainerFunc(func(ctx context.Context, job models.Job) (models.Outcome, error) {
		mu.Lock()
		steps = append(steps, job.Task)
		mu.Unlock()
		return real.Train(ctx, job)
	})
	c.start(t, ctx, rec, worker.Config{Name: "w", CacheDir: t.TempDir(), RetryDelay: 50 * time.Millisecond})

	p1 := map[string]float64{"lr": 0.05, "batch_size": 16, "epochs": 10}
	p2 := map[string]float64{"lr": 0.02, "batch_size": 8, "epochs": 10}
	base := gahpo.Task{Problem: "regression", Seed: 7, DataSeed: 11, Test: true}

	// The chain, as population based training runs it: genome 1 trains
	// three epochs with p1; genome 2 goes on from its checkpoint with p2.
	a := base
	a.GenomeID, a.Params, a.Epochs, a.CheckpointTo = 1, p1, 3, bucket
	c.publish(t, ctx, a)
	ra := c.next(t, ctx)
	if ra.Failure != "" || ra.Checkpoint == nil {
		t.Fatalf("first step: %+v", ra)
	}
	b := base
	b.GenomeID, b.Params, b.FromEpochs, b.Epochs, b.Rung, b.Seed = 2, p2, 3, 6, 1, 9 // genome 2's own seed
	b.Checkpoint, b.FromGenome, b.FromParams, b.FromSeed, b.CheckpointTo = ra.Checkpoint, 1, p1, 7, bucket
	c.publish(t, ctx, b)
	rb := c.next(t, ctx)
	if rb.Failure != "" || len(rb.Curve) != 3 || rb.Checkpoint == nil {
		t.Fatalf("second step: %+v", rb)
	}
	// Genome 2 goes on to its next rung from its own checkpoint.
	next := func(ref *gahpo.ObjectRef, token string) gahpo.Result {
		t.Helper()
		n := base
		n.GenomeID, n.Params, n.FromEpochs, n.Epochs, n.Rung, n.Seed, n.Checkpoint, n.Token = 2, p2, 6, 8, 2, 9, ref, token
		c.publish(t, ctx, n)
		return c.next(t, ctx)
	}
	rc := next(rb.Checkpoint, "rung2") // tokens of their own: the queue drops a task id it has seen
	if rc.Failure != "" || len(rc.Curve) != 2 {
		t.Fatalf("third rung: %+v", rc)
	}
	// Its checkpoint lost, genome 2's past is replayed from scratch, each
	// step with the seed its genome trained it with: the replay's
	// checkpoint is what the lost one was, and the next rung goes on from
	// it to the same numbers.
	lost := base
	lost.GenomeID, lost.Params, lost.Epochs, lost.Rung, lost.Seed, lost.CheckpointTo, lost.Token = 2, p2, 6, 1, 9, bucket, "replay"
	lost.Schedule = []gahpo.ScheduleStep{{Epoch: 1, Genome: 1, Params: p1, Seed: 7}, {Epoch: 4, Genome: 2, Params: p2, Seed: 9}}
	c.publish(t, ctx, lost)
	rl := c.next(t, ctx)
	if rl.Failure != "" || rl.Fitness != rb.Fitness || rl.Checkpoint == nil {
		t.Fatalf("replayed past: %+v, fitness %v; the chain's %v", rl, rl.Fitness, rb.Fitness)
	}
	if again := next(rl.Checkpoint, "after-replay"); again.Failure != "" || again.Fitness != rc.Fitness {
		t.Errorf("the next rung after the replay: failure %q, fitness %v; after the chain %v", again.Failure, again.Fitness, rc.Fitness)
	}

	// The replicate: the same schedule from scratch in one task.
	mu.Lock()
	steps = nil
	mu.Unlock()
	r := base // a confirmation's replicate: on its own seed (base's), every step
	r.GenomeID, r.Params, r.Epochs, r.Rung, r.Replicate = 2, p1, 6, 1, 1
	r.Schedule = []gahpo.ScheduleStep{{Epoch: 1, Genome: 1, Params: p1}, {Epoch: 4, Genome: 2, Params: p2}}
	c.publish(t, ctx, r)
	rr := c.next(t, ctx)
	if rr.Failure != "" || rr.Replicate != 1 || rr.EpochsDone != 6 || len(rr.Curve) != 6 || rr.ScheduleSteps != 2 {
		t.Fatalf("replicate: %+v", rr)
	}
	if rr.Fitness != rb.Fitness {
		t.Errorf("replicate's fitness %v, the chain's %v", rr.Fitness, rb.Fitness)
	}
	for i := range 6 {
		chain := ra.Curve
		if i >= 3 {
			chain = rb.Curve
		}
		got, want := rr.Curve[i], chain[i%3]
		if got.Epoch != i+1 || got.Metrics["val_loss"] != want.Metrics["val_loss"] || got.Metrics["test_loss"] != want.Metrics["test_loss"] {
			t.Errorf("replicate's epoch %d: %+v, the chain's %+v", i+1, got, want)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(steps) != 2 {
		t.Fatalf("the trainer was given %d tasks, want the schedule's 2 steps", len(steps))
	}
	if s := steps[0]; s.FromEpochs != 0 || s.Epochs != 3 || s.Params["lr"] != 0.05 || s.FromParams != nil || s.Schedule != nil {
		t.Errorf("step 1's task: %+v", s)
	}
	if s := steps[1]; s.FromEpochs != 3 || s.Epochs != 6 || s.Params["lr"] != 0.02 || s.FromParams["lr"] != 0.05 || s.FromSeed != 7 || s.Seed != 7 || s.Schedule != nil {
		t.Errorf("step 2's task: %+v", s)
	}
}
