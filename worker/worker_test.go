package worker_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gahpo/gahpo"
	"github.com/gahpo/gahpo/bus"
	"github.com/gahpo/gahpo/internal/testnats"
	"github.com/gahpo/gahpo/models"
	"github.com/gahpo/gahpo/worker"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// trainer is a stand-in for the models, in the legacy two-method form
// (through worker.Legacy): it panics, diverges or succeeds by the task's
// "mode" param, and records the data dir it was given.
type trainer struct {
	dir   atomic.Value
	calls atomic.Int32
}

func (tr *trainer) Fitness(_ context.Context, t gahpo.Task, dir string) (models.Eval, error) {
	tr.calls.Add(1)
	tr.dir.Store(dir)
	switch t.Params["mode"] {
	case 1:
		panic("boom")
	case 2:
		return models.Eval{Loss: math.Inf(1), Diverged: "loss NaN in batch 3"}, nil
	case 3:
		return models.Eval{}, errors.New("out of memory")
	case 4:
		return models.Eval{}, fmt.Errorf("%w: batch size 0", models.ErrUntrainable)
	}
	return models.Eval{Loss: 0.5, Accuracy: 0.9, ImagesPerSec: 100}, nil
}

func (tr *trainer) Final(_ context.Context, _ gahpo.Task, _ string, onEpoch func(models.EpochMetrics)) (models.FinalResult, error) {
	var fr models.FinalResult
	for e := 1; e <= 2; e++ {
		m := models.EpochMetrics{Epoch: e, LR: 1, TrainLoss: 0.5 / float64(e), TestLoss: 0.2 / float64(e), TestAccuracy: 0.9}
		onEpoch(m)
		fr.Epochs = append(fr.Epochs, m)
	}
	fr.TestLoss, fr.TestAccuracy, fr.Weights = 0.1, 0.9, []byte{1, 2, 3}
	return fr, nil
}

func TestWorkerOutcomes(t *testing.T) {
	srv := testnats.Start(t)
	conn := testnats.Connect(t, srv, "coord")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := conn.EnsureStreams(ctx, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	// A data file in the object store, fetched by the worker.
	src := filepath.Join(t.TempDir(), "data.bin")
	if err := os.WriteFile(src, []byte("pixels"), 0o600); err != nil {
		t.Fatal(err)
	}
	ref, err := conn.PutFile(ctx, bus.BucketData, src)
	if err != nil {
		t.Fatal(err)
	}
	tr := &trainer{}
	cache := t.TempDir()
	w := worker.New(testnats.Connect(t, srv, "w"), worker.Legacy{T: tr}, worker.Config{
		Name: "w1", CacheDir: cache, Poll: 200 * time.Millisecond, RetryDelay: 50 * time.Millisecond, Logger: quiet,
		Check: func(task gahpo.Task) error {
			if task.Params["mode"] == 9 {
				return errors.New("invalid genome: mode 9 is out of range")
			}
			return nil
		},
	})
	wctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); _ = w.Run(wctx) }()
	defer func() { stop(); <-done }()

	feed, err := conn.Results(ctx, "r1", 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer feed.Stop()
	// A panic, a divergence, an untrainable genome and an invalid one fail
	// at the first attempt; an error of the worker's own ("out of memory")
	// is tried again until the task's last attempt.
	tests := []struct {
		mode    float64
		fitness float64
		failure string
		attempt int
	}{
		{0, 0.5, "", 1},
		{1, math.Inf(1), "training panicked: boom", 1},
		{2, math.Inf(1), "diverged: loss NaN in batch 3", 1},
		{3, math.Inf(1), "out of memory", 3},
		{4, math.Inf(1), "cannot train this genome: batch size 0", 1},
		{9, math.Inf(1), "invalid genome", 1},
		// The legacy trainer cannot train on from a checkpoint.
		{-1, math.Inf(1), "one-epoch fitness only", 1},
	}
	for i, tt := range tests {
		task := gahpo.Task{V: gahpo.MessageVersion, Kind: gahpo.KindFitness, RunID: "r1", GenomeID: i + 1, Problem: "p",
			Params: map[string]float64{"mode": tt.mode}, Data: []gahpo.DataRef{ref}, MaxAttempts: 3}
		if tt.mode == -1 {
			task.Epochs, task.FromEpochs, task.Rung = 3, 1, 1
		}
		if err := conn.PublishTask(ctx, task); err != nil {
			t.Fatal(err)
		}
		r, d := nextResult(t, feed)
		_ = d.Ack(ctx)
		if r.GenomeID != i+1 || r.Worker != "w1" || r.Attempt != tt.attempt {
			t.Errorf("mode %v: result %+v", tt.mode, r)
		}
		if float64(r.Fitness) != tt.fitness || !strings.Contains(r.Failure, tt.failure) || (tt.failure == "") != (r.Failure == "") {
			t.Errorf("mode %v: fitness %v failure %q; want %v %q", tt.mode, r.Fitness, r.Failure, tt.fitness, tt.failure)
		}
		if tt.failure == "" && (r.EpochsDone != 1 || len(r.Curve) != 1 || r.Curve[0].Metrics["val_loss"] != 0.5) {
			t.Errorf("mode %v: epochs done %d, curve %+v; want one epoch with val_loss 0.5", tt.mode, r.EpochsDone, r.Curve)
		}
	}
	// A final training: its epochs in both forms, its weights stored.
	final := gahpo.Task{V: gahpo.MessageVersion, Kind: gahpo.KindFinal, RunID: "r1", GenomeID: 3, Problem: "p",
		Params: map[string]float64{"mode": 0}, Epochs: 2, Data: []gahpo.DataRef{ref}, WeightsTo: bus.BucketWeights}
	if err := conn.PublishTask(ctx, final); err != nil {
		t.Fatal(err)
	}
	d, err := feed.Next()
	if err != nil {
		t.Fatal(err)
	}
	var fr gahpo.Result
	if err := gahpo.Decode(d.Data, &fr); err != nil {
		t.Fatal(err)
	}
	_ = d.Ack(ctx)
	if fr.Kind != gahpo.KindFinal || fr.Fitness != 0.1 || fr.TestAccuracy != 0.9 || fr.EpochsDone != 2 || len(fr.Epochs) != 2 || len(fr.Curve) != 2 ||
		fr.Epochs[1].TestLoss != 0.1 || fr.Curve[1].Metrics["train_loss"] != 0.25 || !strings.HasPrefix(fr.WeightsObject, "r1-final-3-") {
		t.Errorf("final result %+v", fr)
	}
	if w, err := conn.GetBytes(ctx, fr.WeightsBucket, fr.WeightsObject, bus.Digest([]byte{1, 2, 3})); err != nil || len(w) != 3 {
		t.Errorf("final weights: %v, %v", w, err)
	}
	if got := tr.calls.Load(); got != 7 {
		t.Errorf("trainer called %d times, want 7 (mode 3 three times; the invalid genome never)", got)
	}
	dir, _ := tr.dir.Load().(string)
	if data, err := os.ReadFile(filepath.Join(dir, "data.bin")); err != nil || string(data) != "pixels" || !strings.HasPrefix(dir, cache) {
		t.Errorf("data dir %q: %q, %v; want the fetched file under the cache", dir, data, err)
	}
	// The worker counts a task after acking it, which follows the
	// publication of its result: wait for the last ack.
	deadline := time.Now().Add(10 * time.Second)
	for w.Done() < len(tests)+1 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if w.Done() != len(tests)+1 {
		t.Errorf("Done() = %d, want %d", w.Done(), len(tests)+1)
	}
}
