package worker_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
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
	"github.com/gahpo/gahpo/search"
	"github.com/gahpo/gahpo/worker"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// TestWorkerDataDirectory: a worker given a data directory (--data) that
// is not there refuses to start, instead of failing every genome it takes;
// one whose directory lacks a file of the run's data set hands the task
// back uncounted, to a worker that has it; and the directories a trainer
// is given are absolute, since a training command runs in its problem
// file's folder, not the worker's.
func TestWorkerDataDirectory(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := newCluster(t, ctx)

	w := worker.New(testnats.Connect(t, c.srv, "nodata"), worker.TrainerFunc(func(context.Context, models.Job) (models.Outcome, error) {
		t.Error("a worker without its data directory trained")
		return models.Outcome{}, nil
	}), worker.Config{Name: "nodata", DataDir: filepath.Join(t.TempDir(), "missing"), Logger: quiet})
	if err := w.Run(ctx); err == nil || !strings.Contains(err.Error(), "is not a directory") {
		t.Fatalf("worker with a missing data directory: %v; want it refused at start", err)
	}

	t.Chdir(t.TempDir())
	for _, d := range []string{"partial", "full"} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"full/train.csv", "full/test.csv", "partial/train.csv"} {
		if err := os.WriteFile(f, []byte("1,2\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	seen := make(chan models.Job, 1)
	trainer := worker.TrainerFunc(func(_ context.Context, job models.Job) (models.Outcome, error) {
		seen <- job
		return models.Outcome{Fitness: 0.5}, nil
	})
	c.publish(t, ctx, gahpo.Task{GenomeID: 1, MaxAttempts: 1, Data: []gahpo.DataRef{{Bucket: "gahpo-data", Name: "train.csv"}, {Bucket: "gahpo-data", Name: "test.csv"}}})
	c.start(t, ctx, trainer, worker.Config{Name: "partial", DataDir: "partial", CacheDir: "cache", RefuseDelay: 100 * time.Millisecond})
	time.Sleep(time.Second) // it takes the task alone first
	c.start(t, ctx, trainer, worker.Config{Name: "full", DataDir: "full", CacheDir: "cache", RefuseDelay: 100 * time.Millisecond})
	r := c.next(t, ctx)
	if r.Worker != "full" || r.Failure != "" || r.Attempt != 1 {
		t.Errorf("result by %s at attempt %d, failure %q; want trained by the worker with the data, at attempt 1", r.Worker, r.Attempt, r.Failure)
	}
	job := <-seen
	wd, _ := os.Getwd()
	if job.DataDir != filepath.Join(wd, "full") || !filepath.IsAbs(job.CheckpointDir) || !strings.HasPrefix(job.CheckpointDir, filepath.Join(wd, "cache")) {
		t.Errorf("the trainer was given data %q and checkpoint %q; want both absolute, under %s", job.DataDir, job.CheckpointDir, wd)
	}
}

// TestCacheDamaged: a worker's cache deleted or a data file in it
// rewritten, between two tasks or during a training, is fetched again from
// the object store. The worker remembered the data set as fetched: with
// the cache deleted, it handed the trainer a folder that was gone (a
// command that exits non-zero on it fails the genome, and every genome that
// worker took failed), and with a file rewritten it trained on other data
// and recorded what came of it. A training during which the cache changed
// is handed back uncounted, and trained again on the data set.
func TestCacheDamaged(t *testing.T) {
	deleted := func(t *testing.T, cache, _ string) {
		if err := os.RemoveAll(cache); err != nil {
			t.Error(err)
		}
	}
	rewritten := func(t *testing.T, _, file string) {
		if err := os.WriteFile(file, []byte("5.0"), 0o644); err != nil {
			t.Error(err)
		}
	}
	truncated := func(t *testing.T, _, file string) {
		if err := os.Truncate(file, 1); err != nil {
			t.Error(err)
		}
	}
	// rotten changes a byte and puts the file's time back: bit rot, or a
	// rewrite that keeps the size and time (a restore, rsync -t).
	rotten := func(t *testing.T, _, file string) { rot(t, file) }
	tests := []struct {
		name   string
		damage func(t *testing.T, cache, file string)
		during bool // in the first training, else between the two
	}{
		{"cache deleted between tasks", deleted, false},
		{"file rewritten between tasks", rewritten, false},
		{"file truncated between tasks", truncated, false},
		{"file rotten between tasks, size and time kept", rotten, false},
		{"cache deleted during a training", deleted, true},
		{"file rewritten during a training", rewritten, true},
		{"file rotten during a training, size and time kept", rotten, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			c := newCluster(t, ctx)
			ref := lossData(t, ctx, c)
			cache := filepath.Join(t.TempDir(), "cache")
			// The trainer reads its fitness from the data file, and fails
			// the genome, as a command exiting non-zero does, when the
			// file or its checkpoint directory is not there.
			var calls atomic.Int32
			trainer := worker.TrainerFunc(func(_ context.Context, job models.Job) (models.Outcome, error) {
				path := filepath.Join(job.DataDir, "loss.txt")
				if calls.Add(1) == 1 && tt.during {
					tt.damage(t, cache, path)
				}
				if _, err := os.Stat(job.CheckpointDir); err != nil {
					return models.Outcome{}, fmt.Errorf("%w: %w", models.ErrUntrainable, err)
				}
				b, err := os.ReadFile(path)
				if err != nil {
					return models.Outcome{}, fmt.Errorf("%w: %w", models.ErrUntrainable, err)
				}
				v, err := strconv.ParseFloat(string(b), 64)
				if err != nil {
					return models.Outcome{}, fmt.Errorf("%w: %w", models.ErrUntrainable, err)
				}
				return models.Outcome{Fitness: v}, nil
			})
			c.start(t, ctx, trainer, worker.Config{Name: "w", CacheDir: cache, RetryDelay: 10 * time.Millisecond})
			for genome := 1; genome <= 2; genome++ {
				c.publish(t, ctx, gahpo.Task{GenomeID: genome, MaxAttempts: 1, Data: []gahpo.DataRef{ref}})
				r := c.next(t, ctx)
				if r.Failure != "" || r.Fitness != 0.25 || r.Attempt != 1 {
					t.Errorf("genome %d: fitness %v, failure %q at attempt %d; want 0.25 read from the data set at attempt 1", genome, r.Fitness, r.Failure, r.Attempt)
				}
				if genome == 1 && !tt.during {
					files, _ := filepath.Glob(filepath.Join(cache, "data-*", "loss.txt"))
					if len(files) != 1 {
						t.Fatalf("data files in the cache: %q; want one", files)
					}
					tt.damage(t, cache, files[0])
				}
			}
		})
	}
}

// TestCacheDamagedAtStart: a worker started on a cache that an earlier
// worker filled checks each cached file's SHA-256 before it uses it, and
// fetches a damaged one again, saying why (it fetched it again without a
// word).
func TestCacheDamagedAtStart(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := newCluster(t, ctx)
	ref := lossData(t, ctx, c)
	cache := filepath.Join(t.TempDir(), "cache")
	trainer := worker.TrainerFunc(func(_ context.Context, job models.Job) (models.Outcome, error) {
		b, err := os.ReadFile(filepath.Join(job.DataDir, "loss.txt"))
		if err != nil {
			return models.Outcome{}, fmt.Errorf("%w: %w", models.ErrUntrainable, err)
		}
		v, err := strconv.ParseFloat(string(b), 64)
		return models.Outcome{Fitness: v}, err
	})
	_, stop := c.start(t, ctx, trainer, worker.Config{Name: "first", CacheDir: cache})
	c.publish(t, ctx, gahpo.Task{GenomeID: 1, MaxAttempts: 1, Data: []gahpo.DataRef{ref}})
	if r := c.next(t, ctx); r.Fitness != 0.25 {
		t.Fatalf("genome 1: fitness %v, failure %q", r.Fitness, r.Failure)
	}
	stop()
	files, _ := filepath.Glob(filepath.Join(cache, "data-*", "loss.txt"))
	if len(files) != 1 {
		t.Fatalf("data files in the cache: %q; want one", files)
	}
	rot(t, files[0])

	var logs testnats.LogBuffer
	c.start(t, ctx, trainer, worker.Config{Name: "second", CacheDir: cache, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	c.publish(t, ctx, gahpo.Task{GenomeID: 2, MaxAttempts: 1, Data: []gahpo.DataRef{ref}})
	if r := c.next(t, ctx); r.Fitness != 0.25 || r.Failure != "" {
		t.Errorf("genome 2: fitness %v, failure %q; want 0.25 from the data set", r.Fitness, r.Failure)
	}
	if l := logs.String(); !strings.Contains(l, "a cached data file is damaged; fetching it again") || !strings.Contains(l, "the data set's is "+ref.Digest) {
		t.Errorf("the worker did not say why it fetched the data file again; its log:\n%s", l)
	}
}

// lossData puts the data set of the caches' tests in c's object store: a
// file loss.txt holding the fitness 0.25, which their trainers read.
func lossData(t *testing.T, ctx context.Context, c *cluster) gahpo.DataRef {
	t.Helper()
	src := filepath.Join(t.TempDir(), "loss.txt")
	if err := os.WriteFile(src, []byte("0.25"), 0o600); err != nil {
		t.Fatal(err)
	}
	ref, err := c.conn.PutFile(ctx, bus.BucketData, src)
	if err != nil {
		t.Fatal(err)
	}
	return ref
}

// rot changes file's bytes (to the fitness 0.75) and puts its time back:
// bit rot, or a rewrite that keeps the size and time (a restore, rsync -t).
func rot(t *testing.T, file string) {
	t.Helper()
	fi, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, []byte("0.75"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(file, fi.ModTime(), fi.ModTime()); err != nil {
		t.Fatal(err)
	}
}

// TestCacheWithoutDigest: a data set whose references carry no digest (a
// task of an older coordinator) is fetched once and its cache used by the
// next tasks, as one with a digest is: the worker compared each cached
// file's SHA-256 with the empty digest, found them different every time,
// and fetched the whole set again for every task, warning that the cache
// had changed. An object replaced in the store under the same name is
// still fetched again, by the store's own digest.
func TestCacheWithoutDigest(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := newCluster(t, ctx)
	ref := lossData(t, ctx, c)
	ref.Digest = ""
	var mu sync.Mutex
	var seen []os.FileInfo // the data file each training was given
	trainer := worker.TrainerFunc(func(_ context.Context, job models.Job) (models.Outcome, error) {
		path := filepath.Join(job.DataDir, "loss.txt")
		fi, err := os.Stat(path)
		if err != nil {
			return models.Outcome{}, fmt.Errorf("%w: %w", models.ErrUntrainable, err)
		}
		mu.Lock()
		seen = append(seen, fi)
		mu.Unlock()
		b, err := os.ReadFile(path)
		if err != nil {
			return models.Outcome{}, fmt.Errorf("%w: %w", models.ErrUntrainable, err)
		}
		v, err := strconv.ParseFloat(string(b), 64)
		return models.Outcome{Fitness: v}, err
	})
	var logs testnats.LogBuffer
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("the worker's log:\n%s", logs.String())
		}
	})
	c.start(t, ctx, trainer, worker.Config{Name: "w", CacheDir: filepath.Join(t.TempDir(), "cache"), Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	// fetches is how many times the data file was written anew (a fetch
	// renames a new file over it) in the trainings so far.
	fetches := func() int {
		mu.Lock()
		defer mu.Unlock()
		n := 0
		for i, fi := range seen {
			if i == 0 || !os.SameFile(seen[i-1], fi) {
				n++
			}
		}
		return n
	}
	genome := 0
	train := func(want float64) {
		t.Helper()
		genome++
		c.publish(t, ctx, gahpo.Task{GenomeID: genome, MaxAttempts: 1, Data: []gahpo.DataRef{ref}})
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if r := c.next(t, rctx); r.Failure != "" || float64(r.Fitness) != want {
			t.Fatalf("genome %d: fitness %v, failure %q; want %v read from the data set", genome, r.Fitness, r.Failure, want)
		}
	}
	for range 4 {
		train(0.25)
	}
	if n := fetches(); n != 1 {
		t.Errorf("the data set without a digest was fetched %d times for 4 tasks, want once", n)
	}
	if l := logs.String(); strings.Contains(l, "fetching it again") {
		t.Error("the worker said it fetched the data set again")
	}

	// The object replaced under its name: the next task trains on it.
	src := filepath.Join(t.TempDir(), "loss.txt")
	if err := os.WriteFile(src, []byte("0.5"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := c.conn.PutFile(ctx, bus.BucketData, src); err != nil {
		t.Fatal(err)
	}
	train(0.5)
	train(0.5)
	if n := fetches(); n != 2 {
		t.Errorf("fetches after the object was replaced: %d, want 2 (the first set, the new one once)", n)
	}
}

// TestDataObjectGone: a data set whose object is not in the object store
// (deleted, its bucket gone with a lost store) or holds other bytes (a
// file of the same name put by another run) fails its genome at the task's
// last attempt with that cause and what to do, not "gave up after N
// deliveries: every worker that took it died or lost it", which the next
// delivery said once each attempt had been handed back; the failure is
// short enough for the run's failure cause to show it whole. Before the
// last attempt the task is handed back, as for a store that is away: an
// object that comes back in time (a coordinator putting its data set back
// on a server that lost its store) is trained on.
func TestDataObjectGone(t *testing.T) {
	const name = "train-images-idx3-ubyte.gz" // MNIST's longest name
	deleteObject := func(t *testing.T, ctx context.Context, c *cluster, ref *gahpo.DataRef, _ string) {
		if err := c.conn.DeleteObject(ctx, bus.BucketData, ref.Name); err != nil {
			t.Fatal(err)
		}
	}
	deleteBucket := func(t *testing.T, ctx context.Context, c *cluster, _ *gahpo.DataRef, _ string) {
		nc, err := nats.Connect(c.srv.URL())
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		js, err := jetstream.New(nc)
		if err != nil {
			t.Fatal(err)
		}
		if err := js.DeleteObjectStore(ctx, bus.BucketData); err != nil {
			t.Fatal(err)
		}
	}
	// Other bytes under the name of the run's file's content: no run puts
	// them there, but a hand might.
	replace := func(t *testing.T, ctx context.Context, c *cluster, ref *gahpo.DataRef, _ string) {
		if _, err := c.conn.PutBytes(ctx, bus.BucketData, ref.Name, []byte("0.75")); err != nil {
			t.Fatal(err)
		}
	}
	noDigest := func(t *testing.T, ctx context.Context, c *cluster, ref *gahpo.DataRef, src string) {
		deleteObject(t, ctx, c, ref, src)
		ref.Digest = "" // an older coordinator's task: the store's digest is asked
	}
	// byName makes ref an older coordinator's, by file name alone, which
	// another run's file of that name then replaced.
	byName := func(keep bool) func(t *testing.T, ctx context.Context, c *cluster, ref *gahpo.DataRef, src string) {
		return func(t *testing.T, ctx context.Context, c *cluster, ref *gahpo.DataRef, src string) {
			if !keep { // no newer coordinator put it under its content's name
				deleteObject(t, ctx, c, ref, src)
			}
			old, err := c.conn.PutFile(ctx, bus.BucketData, src)
			if err != nil {
				t.Fatal(err)
			}
			if old.Name != name || old.Digest != ref.Digest {
				t.Fatalf("PutFile stored %s (%s), want %s (%s)", old.Name, old.Digest, name, ref.Digest)
			}
			*ref = old
			if _, err := c.conn.PutBytes(ctx, bus.BucketData, name, []byte("0.75")); err != nil {
				t.Fatal(err)
			}
		}
	}
	missing := func(sum string) string {
		return "worker: data set object gahpo-data/sha256-" + sum[:8] + "…/" + name + " is missing from the object store (deleted, or NATS lost its store): restart the run's coordinator, which puts it back"
	}
	tests := []struct {
		name    string
		gone    func(t *testing.T, ctx context.Context, c *cluster, ref *gahpo.DataRef, src string)
		back    bool // the object put back after the first attempt
		failure func(sum string) string
	}{
		{"object deleted", deleteObject, false, missing},
		{"object deleted, reference without digest", noDigest, false, missing},
		{"bucket deleted", deleteBucket, false, missing},
		{"object replaced", replace, false, func(sum string) string {
			return "worker: data set object gahpo-data/sha256-" + sum[:8] + "…/" + name + " holds other bytes than its digest: restart the run's coordinator, which puts it back"
		}},
		{"an older coordinator's reference by name, replaced", byName(false), false, func(string) string {
			return "worker: data set object gahpo-data/" + name + " holds other bytes than the run's (replaced by another run's file of that name?): upgrade the run's coordinator"
		}},
		{"an older coordinator's reference by name, replaced, the file under its content's name", byName(true), false, nil},
		{"object deleted and put back", deleteObject, true, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			c := newCluster(t, ctx)
			src := filepath.Join(t.TempDir(), name)
			if err := os.WriteFile(src, []byte("0.25"), 0o600); err != nil {
				t.Fatal(err)
			}
			ref, err := c.conn.PutData(ctx, src)
			if err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256([]byte("0.25"))
			if want := "sha256-" + hex.EncodeToString(sum[:]) + "/" + name; ref.Name != want {
				t.Fatalf("PutData stored %s, want %s", ref.Name, want)
			}
			tt.gone(t, ctx, c, &ref, src)
			var calls atomic.Int32
			trainer := worker.TrainerFunc(func(_ context.Context, job models.Job) (models.Outcome, error) {
				calls.Add(1)
				b, err := os.ReadFile(filepath.Join(job.DataDir, name))
				if err != nil {
					return models.Outcome{}, fmt.Errorf("%w: %w", models.ErrUntrainable, err)
				}
				v, err := strconv.ParseFloat(string(b), 64)
				return models.Outcome{Fitness: v}, err
			})
			var logs testnats.LogBuffer
			t.Cleanup(func() {
				if t.Failed() {
					t.Logf("the worker's log:\n%s", logs.String())
				}
			})
			const retry = 200 * time.Millisecond
			c.start(t, ctx, trainer, worker.Config{Name: "w", CacheDir: filepath.Join(t.TempDir(), "cache"), DataRetryDelay: retry,
				Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			start := time.Now()
			c.publish(t, ctx, gahpo.Task{GenomeID: 1, MaxAttempts: 3, Data: []gahpo.DataRef{ref}})
			if tt.back {
				for !strings.Contains(logs.String(), "data set unavailable, handing the task back") {
					if ctx.Err() != nil {
						t.Fatal("the worker never handed the task back")
					}
					time.Sleep(10 * time.Millisecond)
				}
				if _, err := c.conn.PutData(ctx, src); err != nil {
					t.Fatal(err)
				}
			}
			r := c.next(t, ctx)
			if tt.back {
				if r.Failure != "" || r.Fitness != 0.25 || r.Attempt != 2 || calls.Load() != 1 {
					t.Errorf("fitness %v, failure %q at attempt %d, %d trainings; want 0.25 trained once at attempt 2, on the object put back", r.Fitness, r.Failure, r.Attempt, calls.Load())
				}
				return
			}
			if tt.failure == nil {
				if r.Failure != "" || r.Fitness != 0.25 || r.Attempt != 1 || calls.Load() != 1 {
					t.Errorf("fitness %v, failure %q at attempt %d, %d trainings; want 0.25 (the run's own file) trained once at attempt 1", r.Fitness, r.Failure, r.Attempt, calls.Load())
				}
				return
			}
			if want := tt.failure(hex.EncodeToString(sum[:])); r.Failure != want || r.Attempt != 3 || !math.IsInf(float64(r.Fitness), 1) {
				t.Errorf("failure %q at attempt %d, fitness %v; want at attempt 3 (the last), +Inf:\n%q", r.Failure, r.Attempt, r.Fitness, want)
			}
			if took := time.Since(start); took < 2*retry {
				t.Errorf("failed after %v: want each attempt handed back %v first", took, retry)
			}
			if n := calls.Load(); n != 0 {
				t.Errorf("trained %d times without its data set", n)
			}
			if got := search.FailureCause(r.Failure); got != r.Failure {
				t.Errorf("the run's failure cause would read %q; want the failure whole", got)
			}
		})
	}
}

// TestCacheFetchedOnce: the slots of one worker that take tasks of a data
// set at once, on a cold cache, download each file once between them, and
// no training is disturbed by another's fetch. Each slot fetched the set
// itself: the later renames put new files (of the same bytes) under the
// trainings of the earlier slots, which took the cache for changed and
// handed their tasks back, uncounted, to be trained again. A file put
// back under a training with the same bytes (another worker process's
// fetch on a shared cache) no longer counts as a change either.
func TestCacheFetchedOnce(t *testing.T) {
	const slots = 4
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := newCluster(t, ctx)
	loss := lossData(t, ctx, c)
	// A file large enough that the slots' fetches overlap.
	src := filepath.Join(t.TempDir(), "pixels.bin")
	pixels := make([]byte, 8<<20)
	for i := range pixels {
		pixels[i] = byte(i * 7)
	}
	if err := os.WriteFile(src, pixels, 0o600); err != nil {
		t.Fatal(err)
	}
	blob, err := c.conn.PutFile(ctx, bus.BucketData, src)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var seen []os.FileInfo // the large file each training was given
	var calls atomic.Int32
	refetch := make(chan string, 1) // a path to put back with the same bytes during the training
	trainer := worker.TrainerFunc(func(_ context.Context, job models.Job) (models.Outcome, error) {
		calls.Add(1)
		path := filepath.Join(job.DataDir, "pixels.bin")
		fi, err := os.Stat(path)
		if err != nil {
			return models.Outcome{}, fmt.Errorf("%w: %w", models.ErrUntrainable, err)
		}
		mu.Lock()
		seen = append(seen, fi)
		mu.Unlock()
		select {
		case p := <-refetch:
			// As bus.Conn.Fetch writes a file: a new one renamed over it.
			b, err := os.ReadFile(p)
			if err == nil {
				err = os.WriteFile(p+".tmp", b, 0o644)
			}
			if err == nil {
				err = os.Chtimes(p+".tmp", time.Now().Add(time.Hour), time.Now().Add(time.Hour))
			}
			if err == nil {
				err = os.Rename(p+".tmp", p)
			}
			if err != nil {
				t.Error(err)
			}
		default:
			time.Sleep(300 * time.Millisecond) // the other slots' fetches end under it
		}
		b, err := os.ReadFile(filepath.Join(job.DataDir, "loss.txt"))
		if err != nil {
			return models.Outcome{}, fmt.Errorf("%w: %w", models.ErrUntrainable, err)
		}
		v, err := strconv.ParseFloat(string(b), 64)
		return models.Outcome{Fitness: v}, err
	})
	var logs testnats.LogBuffer
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("the worker's log:\n%s", logs.String())
		}
	})
	data := []gahpo.DataRef{loss, blob}
	for genome := 1; genome <= slots; genome++ {
		c.publish(t, ctx, gahpo.Task{GenomeID: genome, MaxAttempts: 1, Data: data})
	}
	cache := filepath.Join(t.TempDir(), "cache")
	c.start(t, ctx, trainer, worker.Config{Name: "w", Concurrency: slots, CacheDir: cache, RetryDelay: 10 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	for range slots {
		if r := c.next(t, ctx); r.Failure != "" || r.Fitness != 0.25 || r.Attempt != 1 {
			t.Errorf("genome %d: fitness %v, failure %q at attempt %d; want 0.25 at attempt 1", r.GenomeID, r.Fitness, r.Failure, r.Attempt)
		}
	}
	if n := calls.Load(); n != slots {
		t.Errorf("%d trainings of %d tasks: tasks were handed back and trained again", n, slots)
	}
	mu.Lock()
	for i, fi := range seen[1:] {
		if !os.SameFile(seen[0], fi) {
			t.Errorf("training %d was given another copy of the data file than the first: it was fetched more than once", i+2)
		}
	}
	mu.Unlock()
	if l := logs.String(); strings.Contains(l, "cache changed") || strings.Contains(l, "fetching it again") {
		t.Error("a training found the cache changed, or a file was fetched again")
	}

	// The large file put back with the same bytes, and a new time, during
	// a training.
	files, _ := filepath.Glob(filepath.Join(cache, "data-*", "pixels.bin"))
	if len(files) != 1 {
		t.Fatalf("data files in the cache: %q; want one", files)
	}
	refetch <- files[0]
	c.publish(t, ctx, gahpo.Task{GenomeID: slots + 1, MaxAttempts: 1, Data: data})
	if r := c.next(t, ctx); r.Failure != "" || r.Fitness != 0.25 || r.Attempt != 1 {
		t.Errorf("genome %d: fitness %v, failure %q at attempt %d; want 0.25 at attempt 1", r.GenomeID, r.Fitness, r.Failure, r.Attempt)
	}
	if n := calls.Load(); n != slots+1 {
		t.Errorf("%d trainings of %d tasks: a training under which the file was put back with its bytes was handed back", n, slots+1)
	}
}
