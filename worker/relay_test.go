package worker_test

import (
	"context"
	"strconv"
	"sync"
	"testing"

	"github.com/gahpo/gahpo"
	"github.com/gahpo/gahpo/bus"
)

// relay plays the coordinator's part in these tests: it publishes tasks,
// queues again each task a worker hands back (a result of kind
// gahpo.KindHandBack) as a coordinator does, and passes on the other
// results.
type relay struct {
	conn    *bus.Conn
	mu      sync.Mutex
	tasks   map[string]gahpo.Task
	results chan gahpo.Result
}

func taskKey(kind string, genome, replicate int) string {
	return kind + "/" + strconv.Itoa(genome) + "/" + strconv.Itoa(replicate)
}

// startRelay reads feed until it is stopped.
func startRelay(t *testing.T, conn *bus.Conn, feed *bus.ResultFeed) *relay {
	t.Helper()
	r := &relay{conn: conn, tasks: map[string]gahpo.Task{}, results: make(chan gahpo.Result, 64)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			d, err := feed.Next()
			if err != nil {
				return // stopped
			}
			var res gahpo.Result
			if err := gahpo.Decode(d.Data, &res); err != nil {
				t.Errorf("malformed result: %v", err)
				_ = d.Term("malformed")
				continue
			}
			if res.Kind == gahpo.KindHandBack {
				r.mu.Lock()
				task, ok := r.tasks[taskKey(res.HandBack, res.GenomeID, res.Replicate)]
				r.mu.Unlock()
				if !ok || task.Token != res.Token {
					t.Errorf("a hand-back of no task published: %+v", res)
				} else if err := conn.RequeueTask(context.Background(), task, res.Attempt-1, d.Seq); err != nil {
					t.Errorf("requeue: %v", err)
				}
				_ = d.Ack(context.Background())
				continue
			}
			_ = d.Ack(context.Background())
			r.results <- res
		}
	}()
	t.Cleanup(func() { feed.Stop(); <-done })
	return r
}

func (r *relay) publish(t *testing.T, ctx context.Context, task gahpo.Task) {
	t.Helper()
	r.mu.Lock()
	r.tasks[taskKey(task.Kind, task.GenomeID, task.Replicate)] = task
	r.mu.Unlock()
	if err := r.conn.PublishTask(ctx, task); err != nil {
		t.Fatal(err)
	}
}

// next returns the next result that is not a hand-back.
func (r *relay) next(t *testing.T, ctx context.Context) gahpo.Result {
	t.Helper()
	select {
	case res := <-r.results:
		return res
	case <-ctx.Done():
		t.Fatal("no result came")
		return gahpo.Result{}
	}
}
