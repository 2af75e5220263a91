package worker_test

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/gahpo/gahpo"
	"github.com/gahpo/gahpo/bus"
	"github.com/gahpo/gahpo/models"
	"github.com/gahpo/gahpo/worker"
)

// TestTrainingAnnouncedOnceUnderWay: a worker tells the coordinator it
// took a genome (the event a status shows as a training under way) once
// the training has run a tenth of a second, with the time it started; a
// training that ends sooner is told by its result alone, which spares the
// shortest tasks a message each to the server and the coordinator.
func TestTrainingAnnouncedOnceUnderWay(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := newCluster(t, ctx)
	var mu sync.Mutex
	told := map[int][]gahpo.Started{} // genome → its events without a report
	stop, err := c.conn.SubscribeEvents("r1", func(data []byte) {
		var e gahpo.Started
		if gahpo.Decode(data, &e) == nil && e.Report == nil {
			mu.Lock()
			told[e.GenomeID] = append(told[e.GenomeID], e)
			mu.Unlock()
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	var started sync.Map // genome → when its training began
	tr := worker.TrainerFunc(func(ctx context.Context, job models.Job) (models.Outcome, error) {
		started.Store(job.Task.GenomeID, time.Now())
		if job.Task.GenomeID == 2 {
			select {
			case <-ctx.Done():
				return models.Outcome{}, ctx.Err()
			case <-time.After(500 * time.Millisecond):
			}
		}
		return models.Outcome{Fitness: 1}, nil
	})
	c.start(t, ctx, tr, worker.Config{Name: "w", CacheDir: t.TempDir()})
	for genome := 1; genome <= 2; genome++ {
		c.publish(t, ctx, gahpo.Task{GenomeID: genome, Token: "t"})
		if r := c.next(t, ctx); r.GenomeID != genome || r.Failure != "" {
			t.Fatalf("result of genome %d (%q), want genome %d", r.GenomeID, r.Failure, genome)
		}
	}
	// The event is core NATS: give a late one time to come.
	if err := c.conn.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	if n := len(told[1]); n != 0 {
		t.Errorf("genome 1, trained at once: %d events, want none", n)
	}
	if len(told[2]) != 1 {
		t.Fatalf("genome 2, trained for half a second: %d events, want one", len(told[2]))
	}
	e := told[2][0]
	began, _ := started.Load(2)
	if e.Worker != "w" || e.Token != "t" || e.Attempt != 1 || e.At.After(began.(time.Time)) || began.(time.Time).Sub(e.At) > 100*time.Millisecond {
		t.Errorf("genome 2's event %+v; want worker w, token t, attempt 1, at its start %v", e, began)
	}
}

// TestAnnouncedBeforeResult: a training that ends about when its worker
// would tell the coordinator it took the genome (announceAfter, a tenth of
// a second) is told before its result or not at all, never after it: the
// event was sent by a timer of its own that handling the task neither
// stopped in time nor waited for, and one sent after the result showed
// the genome in training again once it had finished (or was published
// after the worker had stopped). Trainings of 90 to 110 ms, on four slots,
// are watched on one subscription, in the order the server passed them on.
func TestAnnouncedBeforeResult(t *testing.T) {
	if testing.Short() {
		t.Skip("trains 80 genomes near the announcement's time")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := newCluster(t, ctx)
	nc, err := nats.Connect(c.srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	var mu sync.Mutex
	var late []string // genomes told after their result
	resulted := map[int]bool{}
	sub, err := nc.Subscribe("gahpo.>", func(m *nats.Msg) {
		mu.Lock()
		defer mu.Unlock()
		switch {
		case m.Subject == bus.EventSubject("r1"):
			var e gahpo.Started
			if gahpo.Decode(m.Data, &e) == nil && e.Report == nil && resulted[e.GenomeID] {
				late = append(late, strconv.Itoa(e.GenomeID))
			}
		case strings.HasPrefix(m.Subject, "gahpo.result.r1."):
			var r gahpo.Result
			if gahpo.Decode(m.Data, &r) == nil {
				resulted[r.GenomeID] = true
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	const genomes = 80
	tr := worker.TrainerFunc(func(ctx context.Context, job models.Job) (models.Outcome, error) {
		// 90 to 110 ms, a quarter of a millisecond apart.
		d := 90*time.Millisecond + time.Duration(job.Task.GenomeID%81)*time.Millisecond/4
		select {
		case <-ctx.Done():
			return models.Outcome{}, ctx.Err()
		case <-time.After(d):
		}
		return models.Outcome{Fitness: 1}, nil
	})
	_, stop := c.start(t, ctx, tr, worker.Config{Name: "w", CacheDir: t.TempDir(), Concurrency: 4})
	for genome := 1; genome <= genomes; genome++ {
		c.publish(t, ctx, gahpo.Task{GenomeID: genome, Token: "t"})
	}
	for range genomes {
		if r := c.next(t, ctx); r.Failure != "" {
			t.Fatalf("genome %d failed: %s", r.GenomeID, r.Failure)
		}
	}
	stop()
	// The event is core NATS: give a late one time to come.
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	if len(late) > 0 {
		t.Errorf("genomes told to be in training after their result: %s", strings.Join(late, ", "))
	}
}

// TestTrainingAnnouncedAgainWhileUnderWay: a coordinator that begins to
// listen after a training was first told (gahpo run resumed: its workers
// took the tasks left queued before its coordinator subscribed) learns of
// the training while it trains, not at its result; it showed "0 running"
// for the whole first training of every resumed run.
func TestTrainingAnnouncedAgainWhileUnderWay(t *testing.T) {
	if testing.Short() {
		t.Skip("a training of seconds: -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := newCluster(t, ctx)
	began := make(chan time.Time, 1)
	release := make(chan struct{})
	tr := worker.TrainerFunc(func(ctx context.Context, job models.Job) (models.Outcome, error) {
		began <- time.Now()
		select {
		case <-ctx.Done():
			return models.Outcome{}, ctx.Err()
		case <-release:
		}
		return models.Outcome{Fitness: 1}, nil
	})
	c.start(t, ctx, tr, worker.Config{Name: "w", CacheDir: t.TempDir()})
	c.publish(t, ctx, gahpo.Task{GenomeID: 1, Token: "t"})
	start := <-began
	time.Sleep(500 * time.Millisecond) // the first event is gone, unheard
	told := make(chan gahpo.Started, 16)
	stop, err := c.conn.SubscribeEvents("r1", func(data []byte) {
		var e gahpo.Started
		if gahpo.Decode(data, &e) == nil && e.Report == nil {
			told <- e
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	select {
	case e := <-told:
		if e.GenomeID != 1 || e.Worker != "w" || e.Token != "t" || start.Sub(e.At) > 100*time.Millisecond || e.At.After(start) {
			t.Errorf("event %+v; want genome 1 on w, token t, at its start %v", e, start)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a listener that came after the first event did not hear of the training under way within 10 s")
	}
	close(release)
	if r := c.next(t, ctx); r.GenomeID != 1 || r.Failure != "" {
		t.Fatalf("result of genome %d (%q), want genome 1", r.GenomeID, r.Failure)
	}
}
