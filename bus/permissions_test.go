package bus_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/gahpo/gahpo"
	"github.com/gahpo/gahpo/bus"
	"github.com/gahpo/gahpo/internal/testnats"
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
	c, _ := connectLogged(t, srv, user, password)
	return c
}

// connectLogged is connectAs with the connection's log kept: the server's
// permissions violations are logged, also those of requests whose caller
// does not wait for their answer.
func connectLogged(t *testing.T, srv *natsserver.Server, user, password string) (*bus.Conn, *testnats.LogBuffer) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var log testnats.LogBuffer
	c, err := bus.Connect(ctx, bus.Options{URL: srv.URL(), Name: user, User: user, Password: password, InboxPrefix: "_INBOX_" + user,
		Logger: slog.New(slog.NewTextHandler(&log, nil))})
	if err != nil {
		t.Fatalf("connect as %s: %v", user, err)
	}
	t.Cleanup(c.Close)
	return c, &log
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

// refusals are operations a user must be refused, tried at once by try:
// a denied request gets no answer, so each one waits for its deadline.
type refusals []struct {
	what string
	op   func(ctx context.Context) error
}

func (r *refusals) add(what string, op func(ctx context.Context) error) {
	*r = append(*r, struct {
		what string
		op   func(ctx context.Context) error
	}{what, op})
}

// try runs every refusal at once, as [refused] runs one.
func (r refusals) try(t *testing.T) {
	t.Helper()
	var wg sync.WaitGroup
	for _, c := range r {
		wg.Go(func() { refused(t, c.what, c.op) })
	}
	wg.Wait()
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
	worker, workerLog := connectLogged(t, srv, "worker", "w-secret")
	query := connectAs(t, srv, "query", "q-secret")
	ctx := context.Background()
	var denied refusals // tried at once, at the end: each waits for its deadline
	const run = "r1"
	task := gahpo.Task{V: gahpo.MessageVersion, RunID: run, GenomeID: 1, Kind: gahpo.KindFitness, Problem: "regression"}

	// The coordinator owns the streams and the buckets.
	allowed(t, "coordinator: ensure streams", func(ctx context.Context) error { return coord.EnsureStreams(ctx, time.Minute) })
	var ref gahpo.DataRef
	allowed(t, "coordinator: put the data set", func(ctx context.Context) (err error) {
		src := filepath.Join(t.TempDir(), "train.bin")
		// Some MB, as a data set: reading it takes the consumer's flow control.
		if err := os.WriteFile(src, make([]byte, 4<<20), 0o600); err != nil {
			return err
		}
		ref, err = coord.PutData(ctx, src) // under its content's name, as a coordinator puts it
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
	allowed(t, "coordinator: publish a task", func(ctx context.Context) error {
		return coord.PublishTask(ctx, gahpo.Task{V: gahpo.MessageVersion, RunID: run, GenomeID: 4, Kind: gahpo.KindFitness})
	})
	allowed(t, "worker: take a task through a slot, as a worker does, and ack it", func(ctx context.Context) error {
		q, err := worker.Tasks(ctx)
		if err != nil {
			return err
		}
		s, err := q.Slot()
		if err != nil {
			return err
		}
		defer s.Close()
		d, err := s.Next(ctx, 5*time.Second)
		if err != nil || d == nil {
			return errors.Join(errors.New("no task"), err)
		}
		if err := d.InProgress(); err != nil {
			return err
		}
		return d.Ack(ctx)
	})
	allowed(t, "worker: publish a result", func(ctx context.Context) error {
		return worker.PublishResult(ctx, gahpo.Result{V: gahpo.MessageVersion, RunID: run, GenomeID: 1, Kind: gahpo.KindFitness, Attempt: 1}, 0)
	})
	allowed(t, "worker: publish progress", func(context.Context) error {
		return worker.PublishEvent(gahpo.Started{V: gahpo.MessageVersion, RunID: run, GenomeID: 1})
	})
	allowed(t, "worker: read the data set", func(ctx context.Context) error {
		_, err := worker.Fetch(ctx, ref, t.TempDir())
		return err
	})
	// Weights and checkpoints as a worker keeps them: each under a name of
	// its own training, so that no put replaces an object.
	allowed(t, "worker: write weights", func(ctx context.Context) error {
		_, err := worker.PutBytes(ctx, bus.BucketWeights, run+"-1-weights-n1", make([]byte, 300<<10))
		return err
	})
	ckptDir := t.TempDir()
	if err := os.WriteFile(filepath.Join(ckptDir, "state.bin"), make([]byte, 300<<10), 0o644); err != nil {
		t.Fatal(err)
	}
	var ckpt gahpo.ObjectRef
	allowed(t, "worker: write a checkpoint", func(ctx context.Context) (err error) {
		ckpt, err = worker.PutDir(ctx, bus.BucketCheckpoints, run+"-1-e1-n1", ckptDir)
		return err
	})
	allowed(t, "worker: read a checkpoint (a promotion)", func(ctx context.Context) error {
		return worker.GetDir(ctx, ckpt, t.TempDir())
	})
	// What the worker did so far must have asked nothing it may not: a read
	// deletes its consumer after it returned, and a refusal of that is only
	// logged.
	time.Sleep(300 * time.Millisecond)
	if log := workerLog.String(); strings.Contains(log, "Permissions Violation") {
		t.Errorf("the worker's allowed work was refused something:\n%s", log)
	}
	if err := coord.PublishTask(ctx, gahpo.Task{V: gahpo.MessageVersion, RunID: run, GenomeID: 2, Kind: gahpo.KindFitness}); err != nil {
		t.Fatal(err)
	}
	denied.add("worker: create or update the streams", func(ctx context.Context) error { return worker.EnsureStreams(ctx, time.Second) })
	denied.add("worker: purge the tasks", func(ctx context.Context) error { return worker.PurgeTasks(ctx, run) })
	denied.add("worker: purge the results", func(ctx context.Context) error { return worker.PurgeResults(ctx, run) })
	denied.add("worker: publish a task", func(ctx context.Context) error {
		return worker.PublishTask(ctx, gahpo.Task{V: gahpo.MessageVersion, RunID: run, GenomeID: 3, Kind: gahpo.KindFitness})
	})
	denied.add("worker: overwrite the data set", func(ctx context.Context) error {
		_, err := worker.PutBytes(ctx, bus.BucketData, ref.Name, []byte("poison"))
		return err
	})
	// A purge request names its subjects in its body: the right to purge
	// is the right to empty a bucket, every run's objects.
	rawWorker := rawJetStream(t, srv, "worker", "w-secret")
	for _, b := range []string{bus.BucketCheckpoints, bus.BucketWeights, bus.BucketData} {
		denied.add("worker: purge the bucket "+b, func(ctx context.Context) error {
			s, err := rawWorker.Stream(ctx, "OBJ_"+b)
			if err != nil {
				return err
			}
			return s.Purge(ctx)
		})
	}
	denied.add("worker: find the coordinator", func(ctx context.Context) error { _, err := worker.Discover(ctx); return err })
	denied.add("worker: read the history", func(ctx context.Context) error {
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
	denied.add("query: publish a task", func(ctx context.Context) error {
		return query.PublishTask(ctx, gahpo.Task{V: gahpo.MessageVersion, RunID: run, GenomeID: 4, Kind: gahpo.KindFitness})
	})
	denied.add("query: publish a result", func(ctx context.Context) error {
		return query.PublishResult(ctx, gahpo.Result{V: gahpo.MessageVersion, RunID: run, GenomeID: 4, Kind: gahpo.KindFitness}, 0)
	})
	denied.add("query: purge the tasks", func(ctx context.Context) error { return query.PurgeTasks(ctx, run) })

	denied.try(t)

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
	data, err := coord.GetBytes(ctx, bus.BucketData, ref.Name, ref.Digest)
	if err != nil || len(data) != 4<<20 {
		t.Errorf("the data set was changed: %d bytes, err %v", len(data), err)
	}
	if err := coord.GetDir(ctx, ckpt, t.TempDir()); err != nil {
		t.Errorf("the checkpoint after the refused purges: %v", err)
	}
	if data, err := coord.GetBytes(ctx, bus.BucketWeights, run+"-1-weights-n1", ""); err != nil || len(data) != 300<<10 {
		t.Errorf("the weights after the refused purges: %d bytes, err %v", len(data), err)
	}
	// The coordinator deletes what it no longer needs.
	if err := coord.DeleteObject(ctx, bus.BucketCheckpoints, ckpt.Name); err != nil {
		t.Errorf("coordinator: delete a checkpoint: %v", err)
	}
}

// rawJetStream is a JetStream client of its own as user, to send the
// requests gahpo itself never sends.
func rawJetStream(t testing.TB, srv *natsserver.Server, user, password string) jetstream.JetStream {
	t.Helper()
	nc, err := nats.Connect(srv.URL(), nats.UserInfo(user, password), nats.CustomInboxPrefix("_INBOX_"+user),
		nats.ErrorHandler(func(*nats.Conn, *nats.Subscription, error) {})) // the refusals are what the test wants
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

// TestWorkerFailedPutLeavesChunks: without the right to purge, a worker's
// upload that fails half way returns its error (after the JetStream
// timeout of the purge nats.go tries), and leaves the chunks it sent in
// the bucket, under no name: no object lists them, no get finds them.
func TestWorkerFailedPutLeavesChunks(t *testing.T) {
	srv := startWithUsers(t)
	coord := connectAs(t, srv, "coordinator", "c-secret")
	ctx := context.Background()
	if err := coord.EnsureStreams(ctx, time.Minute); err != nil {
		t.Fatal(err)
	}
	js := rawJetStream(t, srv, "worker", "w-secret")
	obs, err := js.ObjectStore(ctx, bus.BucketCheckpoints)
	if err != nil {
		t.Fatal(err)
	}
	broken := errors.New("the checkpoint directory went away")
	pctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	start := time.Now()
	_, err = obs.Put(pctx, jetstream.ObjectMeta{Name: "r1-1-e1-n1"}, io.MultiReader(bytes.NewReader(make([]byte, 512<<10)), iotest.ErrReader(broken)))
	if !errors.Is(err, broken) {
		t.Fatalf("put: %v, want %v", err, broken)
	}
	t.Logf("the failed put returned in %v", time.Since(start).Round(time.Millisecond))
	if names, err := coord.ListObjects(ctx, bus.BucketCheckpoints); err != nil || len(names) != 0 {
		t.Errorf("objects after the failed put: %q, err %v; want none", names, err)
	}
	if chunks(t, srv, bus.BucketCheckpoints) == 0 {
		t.Errorf("no chunk left in the bucket: did the worker purge?")
	}
}

// TestWorkerPutBeyondLimitsSendsNothing: a checkpoint directory beyond
// what GetDir takes back is refused by PutDir before it sends a chunk: the
// worker could not purge what a put cut off by the limit had sent.
func TestWorkerPutBeyondLimitsSendsNothing(t *testing.T) {
	srv := startWithUsers(t)
	coord := connectAs(t, srv, "coordinator", "c-secret")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := coord.EnsureStreams(ctx, time.Minute); err != nil {
		t.Fatal(err)
	}
	// Large files first, then the entry too many: packed as it is sent,
	// chunks would be in the bucket before the limit is reached.
	dir := t.TempDir()
	for i := range 3 {
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%d", i)), make([]byte, 300<<10), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	defer func(l bus.ArchiveLimits) { bus.DefaultArchiveLimits = l }(bus.DefaultArchiveLimits)
	bus.DefaultArchiveLimits = bus.ArchiveLimits{MaxBytes: 1 << 30, MaxEntries: 3}
	w := connectAs(t, srv, "worker", "w-secret")
	if _, err := w.PutDir(ctx, bus.BucketCheckpoints, "r1-1-e1-n1", dir); !errors.Is(err, bus.ErrBadArchive) || !strings.Contains(err.Error(), "more than 3 entries") {
		t.Fatalf("PutDir beyond the limits: %v; want ErrBadArchive saying so", err)
	}
	if n := chunks(t, srv, bus.BucketCheckpoints); n != 0 {
		t.Errorf("%d chunks in the bucket after the refused put; want none sent", n)
	}
}

// chunks counts the messages in bucket's stream: its objects' chunks and
// names, and those of uploads cut off.
func chunks(t *testing.T, srv *natsserver.Server, bucket string) uint64 {
	t.Helper()
	ctx := context.Background()
	s, err := rawJetStream(t, srv, "coordinator", "c-secret").Stream(ctx, "OBJ_"+bucket)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return info.State.Msgs
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

// TestMissingInboxPrefix: a user whose permissions allow replies under its
// own prefix only, connected without it (or with another user's), is told
// to set GAHPO_NATS_INBOX_PREFIX at once: not that no coordinator runs,
// nor a request's timeout.
func TestMissingInboxPrefix(t *testing.T) {
	srv := startWithUsers(t)
	coord := connectAs(t, srv, "coordinator", "c-secret")
	ctx := context.Background()
	if err := coord.EnsureStreams(ctx, time.Minute); err != nil {
		t.Fatal(err)
	}
	stop, err := coord.Serve(ctx, "r1", "0.1.0", map[string]bus.Endpoint{
		"best": func(context.Context, []byte) (any, error) { return "the history", nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	if err := coord.InboxRefused(); err != nil {
		t.Errorf("coordinator (subscribes to anything): %v", err)
	}
	connect := func(user, password, prefix string) *bus.Conn {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		c, err := bus.Connect(cctx, bus.Options{URL: srv.URL(), User: user, Password: password, InboxPrefix: prefix})
		if err != nil {
			t.Fatalf("connect as %s: %v", user, err)
		}
		t.Cleanup(c.Close)
		return c
	}
	check := func(what string, err error, want string) {
		t.Helper()
		switch {
		case !errors.Is(err, bus.ErrInboxRefused):
			t.Errorf("%s: %v, want %v", what, err, bus.ErrInboxRefused)
		case errors.Is(err, bus.ErrNoService):
			t.Errorf("%s: %v blames a missing coordinator", what, err)
		case !strings.Contains(err.Error(), want):
			t.Errorf("%s: %v, want %q in it", what, err, want)
		}
	}
	for _, tt := range []struct{ user, password, prefix, want string }{
		{"query", "q-secret", "", "set GAHPO_NATS_INBOX_PREFIX or --nats-inbox-prefix to a prefix this user may subscribe to (_INBOX_<user> with deploy/nats/auth.conf)"},
		{"query", "q-secret", "_INBOX_worker", "GAHPO_NATS_INBOX_PREFIX / --nats-inbox-prefix _INBOX_worker is not this user's"},
		{"worker", "w-secret", "", "GAHPO_NATS_INBOX_PREFIX"},
	} {
		c := connect(tt.user, tt.password, tt.prefix)
		name := tt.user + " with prefix " + strconv.Quote(tt.prefix)
		start := time.Now()
		check(name+": connection", c.InboxRefused(), tt.want)
		qctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		_, err := c.Discover(qctx)
		check(name+": discover", err, tt.want)
		var v string
		check(name+": query", c.Query(qctx, "r1", "best", struct{}{}, &v), tt.want)
		_, err = c.Tasks(qctx)
		check(name+": tasks", err, tt.want)
		cancel()
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("%s: the refusals took %v; want them at once", name, d)
		}
	}
	// With its own prefix, the query user gets its answers.
	c := connect("query", "q-secret", "_INBOX_query")
	if err := c.InboxRefused(); err != nil {
		t.Errorf("query with its prefix: %v", err)
	}
	var v string
	if err := c.Query(ctx, "r1", "best", struct{}{}, &v); err != nil || v != "the history" {
		t.Errorf("query with its prefix: %q, %v", v, err)
	}
}

// TestWorkerHandsBackUnderRoleUsers: the worker user may not publish a
// task, so a task it hands back (stopped, or refusing it) goes through its
// coordinator: a hand-back result, which the coordinator user queues again.
// The copy's delivery is the task's first attempt again.
func TestWorkerHandsBackUnderRoleUsers(t *testing.T) {
	srv := startWithUsers(t)
	coord := connectAs(t, srv, "coordinator", "c-secret")
	worker := connectAs(t, srv, "worker", "w-secret")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := coord.EnsureStreams(ctx, time.Minute); err != nil {
		t.Fatal(err)
	}
	task := gahpo.Task{V: gahpo.MessageVersion, RunID: "r1", GenomeID: 1, Kind: gahpo.KindFitness, Problem: "regression", Token: "tok"}
	if err := coord.PublishTask(ctx, task); err != nil {
		t.Fatal(err)
	}
	feed, err := coord.Results(ctx, "r1", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	defer feed.Stop()
	q, err := worker.Tasks(ctx)
	if err != nil {
		t.Fatal(err)
	}
	take := func() *bus.Delivery {
		t.Helper()
		d, err := q.Next(ctx, 5*time.Second)
		if err != nil || d == nil {
			t.Fatalf("no task: %v", err)
		}
		return d
	}
	d := take()
	start := time.Now()
	back := gahpo.Result{V: gahpo.MessageVersion, Kind: gahpo.KindHandBack, HandBack: gahpo.KindFitness, RunID: "r1", GenomeID: 1, Attempt: d.Attempt, Token: "tok"}
	if err := worker.PublishHandBack(ctx, d, back); err != nil {
		t.Fatalf("worker: hand a task back: %v", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("the hand-back took %v", took)
	}
	hd, err := feed.Next()
	if err != nil {
		t.Fatal(err)
	}
	var got gahpo.Result
	if err := gahpo.Decode(hd.Data, &got); err != nil || got.Kind != gahpo.KindHandBack || got.Token != "tok" {
		t.Fatalf("the coordinator got %+v, %v", got, err)
	}
	if err := coord.RequeueTask(ctx, task, got.Attempt-1, hd.Seq); err != nil {
		t.Fatalf("coordinator: queue the task again: %v", err)
	}
	_ = hd.Ack(ctx)
	if again := take(); again.Attempt != 1 {
		t.Errorf("the task queued again is delivered as attempt %d, want 1", again.Attempt)
	}
}

// TestInboxRefusalSaidOnce: a refused reply subscription is logged only
// when no caller was given it as its error within a second: a command that
// prints its error (gahpo status) says the remedy once, and a client whose
// calls never ask still learns why its requests time out.
func TestInboxRefusalSaidOnce(t *testing.T) {
	srv := startWithUsers(t)
	for _, tt := range []struct {
		name   string
		ask    bool
		logged bool
	}{
		{"the caller is told", true, false},
		{"nobody asks", false, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			logs := &testnats.LogBuffer{}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			c, err := bus.Connect(ctx, bus.Options{URL: srv.URL(), User: "query", Password: "q-secret",
				Logger: slog.New(slog.NewTextHandler(logs, nil))})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if tt.ask {
				if _, err := c.Discover(ctx); !errors.Is(err, bus.ErrInboxRefused) {
					t.Fatalf("discover: %v, want %v", err, bus.ErrInboxRefused)
				}
			}
			time.Sleep(1500 * time.Millisecond)
			if got := strings.Count(logs.String(), "no reply can reach this client"); (got == 1) != tt.logged || got > 1 {
				t.Errorf("logged %d times, want logged %v:\n%s", got, tt.logged, logs)
			}
		})
	}
}

// TestWorkersReplyUnderPrefixesOfTheirOwn: workers connected as the one
// worker user of deploy/nats/auth.conf, with the prefix every deployment
// gives them (_INBOX_worker) and InboxOwn (as gahpo worker connects), reply
// under prefixes of their own, which that user's rights allow: each takes
// its task, and a subscription to the one's prefix hears none of the
// other's replies. What remains, as deploy/README.md says, is checked too:
// the server lets the shared user subscribe to _INBOX_worker.>, every
// worker's replies; only a user of its own for each worker, allowed its own
// prefix alone, closes that (TestPerWorkerUsersCannotSnoopEachOther).
func TestWorkersReplyUnderPrefixesOfTheirOwn(t *testing.T) {
	srv := startWithUsers(t)
	coord := connectAs(t, srv, "coordinator", "c-secret")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := coord.EnsureStreams(ctx, time.Minute); err != nil {
		t.Fatal(err)
	}
	worker := func() *bus.Conn {
		c, err := bus.Connect(ctx, bus.Options{URL: srv.URL(), User: "worker", Password: "w-secret", InboxPrefix: "_INBOX_worker", InboxOwn: true})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.Close)
		if err := c.InboxRefused(); err != nil {
			t.Fatalf("the worker user's rights refuse %s: %v", c.InboxPrefix(), err)
		}
		return c
	}
	a, b := worker(), worker()
	pa, pb := a.InboxPrefix(), b.InboxPrefix()
	if pa == pb || !strings.HasPrefix(pa, "_INBOX_worker.") || !strings.HasPrefix(pb, "_INBOX_worker.") {
		t.Fatalf("the workers' reply prefixes are %q and %q; want one of its own each, under _INBOX_worker.", pa, pb)
	}

	// Listeners as the worker user: one on a's prefix, one on every
	// worker's (which the server allows that user).
	nc, err := nats.Connect(srv.URL(), nats.UserInfo("worker", "w-secret"), nats.CustomInboxPrefix("_INBOX_worker"))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	onA, onAll := make(chan string, 100), make(chan string, 100)
	for subj, ch := range map[string]chan string{pa + ".>": onA, "_INBOX_worker.>": onAll} {
		if _, err := nc.Subscribe(subj, func(m *nats.Msg) { ch <- m.Subject }); err != nil {
			t.Fatal(err)
		}
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}

	for g := 1; g <= 2; g++ {
		task := gahpo.Task{V: gahpo.MessageVersion, RunID: "r1", GenomeID: g, Kind: gahpo.KindFitness, Problem: "regression", Token: "tok"}
		if err := coord.PublishTask(ctx, task); err != nil {
			t.Fatal(err)
		}
	}
	for _, w := range []*bus.Conn{a, b} {
		q, err := w.Tasks(ctx)
		if err != nil {
			t.Fatalf("worker %s: tasks: %v", w.InboxPrefix(), err)
		}
		d, err := q.Next(ctx, 5*time.Second)
		if err != nil || d == nil {
			t.Fatalf("worker %s: no task: %v", w.InboxPrefix(), err)
		}
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // the copies of the last replies
	count := func(ch chan string, prefix string) (n, of int) {
		for {
			select {
			case s := <-ch:
				of++
				if strings.HasPrefix(s, prefix+".") {
					n++
				}
			default:
				return n, of
			}
		}
	}
	if n, of := count(onA, pb); n > 0 || of == 0 {
		t.Errorf("a subscription to worker a's replies (%s.>) heard %d replies, %d of them worker b's (%s); want a's only", pa, of, n, pb)
	}
	if n, _ := count(onAll, pb); n == 0 {
		t.Errorf("the worker user's subscription to _INBOX_worker.> heard none of worker b's replies: the server now refuses it; deploy/README.md says it does not")
	}
}

// TestPerWorkerUsersCannotSnoopEachOther: with a user of its own for each
// worker (deploy/README.md: auth.conf's worker entry copied under another
// name, password and prefix), each worker takes its tasks under its own
// prefix, and the server refuses its subscription to another worker's
// replies, or to those of the shared worker user.
func TestPerWorkerUsersCannotSnoopEachOther(t *testing.T) {
	conf, err := os.ReadFile(authConf)
	if err != nil {
		t.Fatal(err)
	}
	s := string(conf)
	const start, end = "    {\n      user: worker\n", "\n    }\n"
	i := strings.Index(s, start)
	if i < 0 {
		t.Fatalf("%s has no worker entry starting %q", authConf, start)
	}
	j := i + strings.Index(s[i:], end) + len(end)
	entry, extra := s[i:j], ""
	for _, name := range []string{"a", "b"} {
		e := entry
		for _, r := range [][2]string{
			{"user: worker\n", "user: worker_" + name + "\n"},
			{"$GAHPO_WORKER_PASSWORD", "$GAHPO_WORKER_" + strings.ToUpper(name) + "_PASSWORD"},
			{`"_INBOX_worker.>"`, `"_INBOX_worker_` + name + `.>"`},
		} {
			if strings.Count(e, r[0]) != 1 {
				t.Fatalf("the worker entry of %s has %q %d times, want once:\n%s", authConf, r[0], strings.Count(e, r[0]), e)
			}
			e = strings.Replace(e, r[0], r[1], 1)
		}
		extra += e
	}
	users := filepath.Join(t.TempDir(), "auth.conf")
	if err := os.WriteFile(users, []byte(s[:j]+extra+s[j:]), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("GAHPO_COORDINATOR_PASSWORD", "c-secret")
	t.Setenv("GAHPO_WORKER_PASSWORD", "w-secret")
	t.Setenv("GAHPO_WORKER_A_PASSWORD", "a-secret")
	t.Setenv("GAHPO_WORKER_B_PASSWORD", "b-secret")
	t.Setenv("GAHPO_QUERY_PASSWORD", "q-secret")
	srv, err := natsserver.Start(natsserver.Options{StoreDir: t.TempDir(), UsersFile: users})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	coord := connectAs(t, srv, "coordinator", "c-secret")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := coord.EnsureStreams(ctx, time.Minute); err != nil {
		t.Fatal(err)
	}
	if err := coord.PublishTask(ctx, gahpo.Task{V: gahpo.MessageVersion, RunID: "r1", GenomeID: 1, Kind: gahpo.KindFitness, Problem: "regression", Token: "tok"}); err != nil {
		t.Fatal(err)
	}
	w, err := bus.Connect(ctx, bus.Options{URL: srv.URL(), User: "worker_a", Password: "a-secret", InboxPrefix: "_INBOX_worker_a", InboxOwn: true})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	q, err := w.Tasks(ctx)
	if err != nil {
		t.Fatalf("worker_a: tasks: %v", err)
	}
	if d, err := q.Next(ctx, 5*time.Second); err != nil || d == nil {
		t.Fatalf("worker_a under %s: no task: %v", w.InboxPrefix(), err)
	}

	errs := make(chan error, 4)
	nc, err := nats.Connect(srv.URL(), nats.UserInfo("worker_a", "a-secret"), nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { errs <- err }))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	for _, subj := range []string{"_INBOX_worker_b.>", "_INBOX_worker.>", "_INBOX_query.>"} {
		if _, err := nc.Subscribe(subj, func(*nats.Msg) {}); err != nil {
			t.Fatal(err)
		}
		if err := nc.Flush(); err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-errs:
			if !errors.Is(err, nats.ErrPermissionViolation) {
				t.Errorf("worker_a: subscribe %s: %v, want a permissions violation", subj, err)
			}
		case <-time.After(3 * time.Second):
			t.Errorf("worker_a: subscribe %s: allowed, want refused", subj)
		}
	}
}
