package bus_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/gahpo/gahpo"
	"github.com/gahpo/gahpo/bus"
	"github.com/gahpo/gahpo/natsserver"
)

// authConf is the example users file shipped for real deployments: the test
// holds it to its promises.
const authConf = "../deploy/nats/auth.conf"

func startWithUsers(t *testing.T) *natsserver.Server {
	t.Helper()
	t.Setenv("GAHPO_COORDINATOR_PASSWORD", "c-secret")
	t.Setenv("GAHPO_WORKER_PASSWORD", "w-secret")
	t.Setenv("GAHPO_QUERY_PASSWORD", "q-secret")
	srv, err := natsserver.Start(natsserver.Options{StoreDir: t.TempDir(), UsersFile: authConf})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	return srv
}

func connectAs(t *testing.T, srv *natsserver.Server, user, password string) *bus.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := bus.Connect(ctx, bus.Options{URL: srv.URL(), Name: user, User: user, Password: password, InboxPrefix: "_INBOX_" + user})
	if err != nil {
		t.Fatalf("connect as %s: %v", user, err)
	}
	t.Cleanup(c.Close)
	return c
}

// refused runs op with a short deadline: a denied publish gets no answer.
func refused(t *testing.T, what string, op func(ctx context.Context) error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := op(ctx); err == nil {
		t.Errorf("%s: allowed, want refused", what)
	}
}

func allowed(t *testing.T, what string, op func(ctx context.Context) error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := op(ctx); err != nil {
		t.Errorf("%s: %v", what, err)
	}
}

func TestUnauthenticatedClientsAreRefused(t *testing.T) {
	srv := startWithUsers(t)
	for _, tc := range []struct{ name, user, password string }{
		{"no credentials", "", ""},
		{"wrong password", "worker", "guess"},
		{"unknown user", "admin", "c-secret"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			c, err := bus.Connect(ctx, bus.Options{URL: srv.URL(), User: tc.user, Password: tc.password})
			if err == nil {
				c.Close()
				t.Fatal("connected, want refused")
			}
			if !errors.Is(err, nats.ErrAuthorization) {
				t.Errorf("err = %v, want an authorization error", err)
			}
		})
	}
}

func TestUsersHaveLeastPrivilege(t *testing.T) {
	srv := startWithUsers(t)
	coord := connectAs(t, srv, "coordinator", "c-secret")
	worker := connectAs(t, srv, "worker", "w-secret")
	query := connectAs(t, srv, "query", "q-secret")
	ctx := context.Background()
	const run = "r1"
	task := gahpo.Task{V: gahpo.MessageVersion, RunID: run, GenomeID: 1, Kind: gahpo.KindFitness, Problem: "regression"}

	// The coordinator owns the streams and the buckets.
	allowed(t, "coordinator: ensure streams", func(ctx context.Context) error { return coord.EnsureStreams(ctx, time.Minute) })
	var ref gahpo.DataRef
	allowed(t, "coordinator: put the data set", func(ctx context.Context) (err error) {
		ref, err = coord.PutBytes(ctx, bus.BucketData, "train.bin", make([]byte, 300<<10))
		return err
	})
	allowed(t, "coordinator: publish a task", func(ctx context.Context) error { return coord.PublishTask(ctx, task) })
	stop, err := coord.Serve(ctx, run, "0.1.0", map[string]bus.Endpoint{
		"best": func(context.Context, []byte) (any, error) { return []string{"the history"}, nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer stop()

	// The worker: tasks, results, progress, the data set, weights.
	allowed(t, "worker: take a task and ack it", func(ctx context.Context) error {
		q, err := worker.Tasks(ctx)
		if err != nil {
			return err
		}
		d, err := q.Next(ctx, 5*time.Second)
		if err != nil || d == nil {
			return errors.Join(errors.New("no task"), err)
		}
		if err := d.InProgress(); err != nil {
			return err
		}
		return d.Ack(ctx)
	})
	allowed(t, "worker: publish a result", func(ctx context.Context) error {
		return worker.PublishResult(ctx, gahpo.Result{V: gahpo.MessageVersion, RunID: run, GenomeID: 1, Kind: gahpo.KindFitness, Attempt: 1})
	})
	allowed(t, "worker: publish progress", func(context.Context) error {
		return worker.PublishEvent(gahpo.Started{V: gahpo.MessageVersion, RunID: run, GenomeID: 1})
	})
	allowed(t, "worker: read the data set", func(ctx context.Context) error {
		_, err := worker.Fetch(ctx, ref, t.TempDir())
		return err
	})
	allowed(t, "worker: write weights twice", func(ctx context.Context) error {
		if _, err := worker.PutBytes(ctx, bus.BucketWeights, "w", []byte("one")); err != nil {
			return err
		}
		_, err := worker.PutBytes(ctx, bus.BucketWeights, "w", []byte("two"))
		return err
	})
	if err := coord.PublishTask(ctx, gahpo.Task{V: gahpo.MessageVersion, RunID: run, GenomeID: 2, Kind: gahpo.KindFitness}); err != nil {
		t.Fatal(err)
	}
	refused(t, "worker: create or update the streams", func(ctx context.Context) error { return worker.EnsureStreams(ctx, time.Second) })
	refused(t, "worker: purge the tasks", func(ctx context.Context) error { return worker.PurgeTasks(ctx, run) })
	refused(t, "worker: purge the results", func(ctx context.Context) error { return worker.PurgeResults(ctx, run) })
	refused(t, "worker: publish a task", func(ctx context.Context) error {
		return worker.PublishTask(ctx, gahpo.Task{V: gahpo.MessageVersion, RunID: run, GenomeID: 3, Kind: gahpo.KindFitness})
	})
	refused(t, "worker: overwrite the data set", func(ctx context.Context) error {
		_, err := worker.PutBytes(ctx, bus.BucketData, "train.bin", []byte("poison"))
		return err
	})
	refused(t, "worker: find the coordinator", func(ctx context.Context) error { _, err := worker.Discover(ctx); return err })
	refused(t, "worker: read the history", func(ctx context.Context) error {
		var v any
		return worker.Query(ctx, run, "best", struct{}{}, &v)
	})

	// The query user reads, and nothing else.
	allowed(t, "query: find the coordinator", func(ctx context.Context) error { _, err := query.Discover(ctx); return err })
	allowed(t, "query: read the history", func(ctx context.Context) error {
		var v []string
		if err := query.Query(ctx, run, "best", struct{}{}, &v); err != nil {
			return err
		}
		if len(v) != 1 {
			return errors.New("empty answer")
		}
		return nil
	})
	refused(t, "query: publish a task", func(ctx context.Context) error {
		return query.PublishTask(ctx, gahpo.Task{V: gahpo.MessageVersion, RunID: run, GenomeID: 4, Kind: gahpo.KindFitness})
	})
	refused(t, "query: publish a result", func(ctx context.Context) error {
		return query.PublishResult(ctx, gahpo.Result{V: gahpo.MessageVersion, RunID: run, GenomeID: 4, Kind: gahpo.KindFitness})
	})
	refused(t, "query: purge the tasks", func(ctx context.Context) error { return query.PurgeTasks(ctx, run) })

	// Nothing refused had an effect: genome 2 waits, 3 and 4 never came.
	for g, want := range map[int]bool{2: true, 3: false, 4: false} {
		got, err := coord.TaskQueued(ctx, run, g)
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("task of genome %d queued = %v, want %v", g, got, want)
		}
	}
	if waiting, err := coord.ResultWaiting(ctx, run, 1); err != nil || !waiting {
		t.Errorf("the worker's result: waiting %v, err %v", waiting, err)
	}
	data, err := coord.GetBytes(ctx, bus.BucketData, "train.bin", ref.Digest)
	if err != nil || len(data) != 300<<10 {
		t.Errorf("the data set was changed: %d bytes, err %v", len(data), err)
	}
}

// A client that subscribes to another user's replies is refused: the worker
// cannot read the answers the coordinator sends the query user.
func TestWorkerCannotSnoopReplies(t *testing.T) {
	srv := startWithUsers(t)
	errs := make(chan error, 4)
	nc, err := nats.Connect(srv.URL(), nats.UserInfo("worker", "w-secret"), nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { errs <- err }))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	for _, subj := range []string{"_INBOX_query.>", "_INBOX.>", "gahpo.task.>", "$SRV.>"} {
		if _, err := nc.Subscribe(subj, func(*nats.Msg) {}); err != nil {
			t.Fatal(err)
		}
		if err := nc.Flush(); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-errs:
			if !errors.Is(err, nats.ErrPermissionViolation) {
				t.Errorf("subscribe %s: %v, want a permissions violation", subj, err)
			}
		case <-time.After(3 * time.Second):
			t.Errorf("subscribe %s: allowed, want refused", subj)
		}
	}
}
