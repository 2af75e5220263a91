package worker_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gahpo/gahpo"
	"github.com/gahpo/gahpo/internal/testnats"
	"github.com/gahpo/gahpo/models"
	"github.com/gahpo/gahpo/worker"
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
