package bus_test

import (
	"context"
	"testing"
	"time"

	"github.com/gahpo/gahpo"
	"github.com/gahpo/gahpo/bus"
	"github.com/gahpo/gahpo/internal/testnats"
)

// A requeued task goes to the back of the queue, stays queued, and its
// refusals do not count as attempts; a Nak does.
func TestRequeueKeepsAttempts(t *testing.T) {
	c, ctx := withStreams(t)
	publish := func(id int) {
		t.Helper()
		task := gahpo.Task{V: gahpo.MessageVersion, Kind: gahpo.KindFitness, RunID: "r1", GenomeID: id, Problem: "p", Params: map[string]float64{"x": 1}}
		if err := c.PublishTask(ctx, task); err != nil {
			t.Fatal(err)
		}
	}
	publish(1)
	q, err := c.Tasks(ctx)
	if err != nil {
		t.Fatal(err)
	}
	next := func() *bus.Delivery {
		t.Helper()
		d, err := q.Next(ctx, 5*time.Second)
		if err != nil || d == nil {
			t.Fatalf("next: %v, %v", d, err)
		}
		return d
	}
	one, two := bus.TaskSubject("r1", 1), bus.TaskSubject("r1", 2)
	// Each step: the subject and attempt pulled, then what is done with it.
	steps := []struct {
		subject string
		attempt int
		do      string
	}{
		{one, 1, "nak"},     // a real attempt (a worker stopped)
		{one, 2, "requeue"}, // refused, once two is queued: back of the queue
		{two, 1, "requeue"},
		{one, 2, "requeue"}, // a copy of a copy keeps the count
		{two, 1, "ack"},
		{one, 2, "ack"},
	}
	for i, s := range steps {
		d := next()
		if d.Subject != s.subject || d.Attempt != s.attempt {
			t.Fatalf("step %d: pulled %s attempt %d, want %s attempt %d", i, d.Subject, d.Attempt, s.subject, s.attempt)
		}
		if i == 1 {
			publish(2)
		}
		switch s.do {
		case "nak":
			err = d.Nak(0)
		case "requeue":
			err = c.Requeue(ctx, d)
			if ok, qerr := c.TaskQueued(ctx, "r1", 1); s.subject == one && (!ok || qerr != nil) {
				t.Errorf("step %d: a requeued task is not queued (%v)", i, qerr)
			}
		case "ack":
			err = d.Ack(ctx)
		}
		if err != nil {
			t.Fatalf("step %d: %s: %v", i, s.do, err)
		}
	}
	if d, err := q.Next(ctx, 300*time.Millisecond); d != nil || err != nil {
		t.Errorf("after the acks: pulled %v, %v; want nothing (no copy left behind)", d, err)
	}
}

// A task lost from the queue (purged) is queued again by PublishLostTask,
// as often as it is lost, though PublishTask would be dropped as a
// duplicate of the lost message; the first publication keeps its
// deduplication.
func TestPublishLostTaskIsNoDuplicate(t *testing.T) {
	c, ctx := withStreams(t)
	task := gahpo.Task{V: gahpo.MessageVersion, Kind: gahpo.KindFitness, RunID: "r1", GenomeID: 1, Problem: "p", Params: map[string]float64{"x": 1}, Token: "tok"}
	steps := []struct {
		do   string // purge, or publish with: task (PublishTask), lost (PublishLostTask)
		want uint64 // tasks queued after the step
	}{
		{"task", 1},
		{"task", 1}, // published twice (a retry, a restart): queued once
		{"purge", 0},
		{"task", 0}, // the lost message's id: dropped as a duplicate
		{"lost", 1},
		{"purge", 0},
		{"task", 0},
		{"lost", 1}, // lost again: queued again
		{"task", 1},
	}
	for i, s := range steps {
		var err error
		switch s.do {
		case "task":
			err = c.PublishTask(ctx, task)
		case "lost":
			err = c.PublishLostTask(ctx, task)
		case "purge":
			err = c.PurgeTasks(ctx, "r1")
		}
		if err != nil {
			t.Fatalf("step %d: %s: %v", i, s.do, err)
		}
		queued, _, err := c.Pending(ctx, "r1")
		if err != nil {
			t.Fatal(err)
		}
		if uint64(queued) != s.want {
			t.Errorf("step %d (%s): %d tasks queued, want %d", i, s.do, queued, s.want)
		}
	}
}

// The result of a task queued again after a purge (`gahpo purge` of an
// abandoned run, then resumed) is stored, though it has the purged
// result's token and attempt: it answers another message of the task. A
// result published twice for one delivery (a retried publish) is stored
// once.
func TestResultOfAPurgedTaskIsNoDuplicate(t *testing.T) {
	c, ctx := withStreams(t)
	task := gahpo.Task{V: gahpo.MessageVersion, Kind: gahpo.KindFitness, RunID: "r1", GenomeID: 1, Problem: "p", Params: map[string]float64{"x": 1}, Token: "tok"}
	q, err := c.Tasks(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var d *bus.Delivery
	steps := []struct {
		do   string // publish the task (lost: as lost), take it, answer it, purge the run
		want uint64 // results waiting after the step
	}{
		{"publish", 0},
		{"take", 0},
		{"answer", 1},
		{"answer", 1}, // the same delivery's result again: stored once
		{"purge", 0},
		{"lost", 0},
		{"take", 0},
		{"answer", 1}, // attempt 1 of the same token again, another message
		{"answer", 1},
	}
	for i, s := range steps {
		var err error
		switch s.do {
		case "publish":
			err = c.PublishTask(ctx, task)
		case "lost":
			err = c.PublishLostTask(ctx, task)
		case "take":
			if d, err = q.Next(ctx, 5*time.Second); err == nil && (d == nil || d.Attempt != 1) {
				t.Fatalf("step %d: took %+v, want the task's attempt 1", i, d)
			}
			if err == nil {
				err = d.Ack(ctx)
			}
		case "answer":
			r := gahpo.Result{V: gahpo.MessageVersion, Kind: gahpo.KindFitness, RunID: "r1", GenomeID: 1, Worker: "w", Attempt: d.Attempt, Token: task.Token}
			err = c.PublishResult(ctx, r, d.Seq)
		case "purge":
			if err = c.PurgeTasks(ctx, "r1"); err == nil {
				err = c.PurgeResults(ctx, "r1")
			}
		}
		if err != nil {
			t.Fatalf("step %d: %s: %v", i, s.do, err)
		}
		_, results, err := c.Pending(ctx, "r1")
		if err != nil {
			t.Fatal(err)
		}
		if results != s.want {
			t.Errorf("step %d (%s): %d results waiting, want %d", i, s.do, results, s.want)
		}
	}
}

// withStreams connects to a new server whose streams are made, with a
// minute's context.
func withStreams(t *testing.T) (*bus.Conn, context.Context) {
	t.Helper()
	srv := testnats.Start(t)
	c := testnats.Connect(t, srv, "t")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	if err := c.EnsureStreams(ctx, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	return c, ctx
}
