package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/gahpo/gahpo"
	"github.com/gahpo/gahpo/natsserver"
)

func startServer(t *testing.T, o natsserver.Options) *natsserver.Server {
	t.Helper()
	if o.StoreDir == "" {
		o.StoreDir = t.TempDir()
	}
	srv, err := natsserver.Start(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	return srv
}

func connect(t *testing.T, o Options) *Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := Connect(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func TestStreamOptionsValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    StreamOptions
		ok   bool
	}{
		{"zero", StreamOptions{}, true},
		{"three replicas", StreamOptions{Replicas: 3}, true},
		{"six replicas", StreamOptions{Replicas: 6}, false},
		{"negative replicas", StreamOptions{Replicas: -1}, false},
		{"no limits", StreamOptions{MaxAge: -1, MaxBytes: -1}, true},
		{"negative message size", StreamOptions{MaxMsgSize: -5}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.o.Validate()
			if (err == nil) != tc.ok {
				t.Fatalf("Validate() = %v, want ok %v", err, tc.ok)
			}
			if err != nil && !errors.Is(err, ErrBadStreamOptions) {
				t.Errorf("error %v is not ErrBadStreamOptions", err)
			}
		})
	}
}

func TestEnsureStreamsAppliesLimits(t *testing.T) {
	srv := startServer(t, natsserver.Options{})
	for _, tc := range []struct {
		name        string
		o           StreamOptions
		wantAge     time.Duration
		wantBytes   int64
		wantMsgSize int32
		wantBuckets []string
	}{
		{"defaults", StreamOptions{}, DefaultMaxAge, DefaultMaxBytes, gahpo.MaxMessageSize, nil},
		{"set", StreamOptions{MaxAge: time.Hour, MaxBytes: 1 << 20, MaxMsgSize: 4096, Buckets: []string{"gahpo-checkpoints"}}, time.Hour, 1 << 20, 4096, []string{"gahpo-checkpoints"}},
		{"unlimited", StreamOptions{MaxAge: -1, MaxBytes: -1}, 0, -1, gahpo.MaxMessageSize, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := connect(t, Options{URL: srv.URL(), Streams: tc.o})
			ctx := context.Background()
			if err := c.EnsureStreams(ctx, time.Minute); err != nil {
				t.Fatal(err)
			}
			for _, name := range []string{StreamTasks, StreamResults} {
				s, err := c.js.Stream(ctx, name)
				if err != nil {
					t.Fatal(err)
				}
				cfg := s.CachedInfo().Config
				if cfg.MaxAge != tc.wantAge || cfg.MaxBytes != tc.wantBytes || cfg.MaxMsgSize != tc.wantMsgSize || cfg.Discard != jetstream.DiscardNew || cfg.Replicas != 1 {
					t.Errorf("%s: age %v bytes %d msg %d discard %v replicas %d; want %v %d %d new 1",
						name, cfg.MaxAge, cfg.MaxBytes, cfg.MaxMsgSize, cfg.Discard, cfg.Replicas, tc.wantAge, tc.wantBytes, tc.wantMsgSize)
				}
			}
			for _, b := range append([]string{BucketData, BucketWeights}, tc.wantBuckets...) {
				if _, err := c.js.ObjectStore(ctx, b); err != nil {
					t.Errorf("bucket %s: %v", b, err)
				}
			}
		})
	}
}

func TestPurgeRemovesOnlyTheRun(t *testing.T) {
	srv := startServer(t, natsserver.Options{})
	c := connect(t, Options{URL: srv.URL()})
	ctx := context.Background()
	if err := c.EnsureStreams(ctx, time.Minute); err != nil {
		t.Fatal(err)
	}
	for _, tk := range []gahpo.Task{
		{V: gahpo.MessageVersion, RunID: "a", GenomeID: 1, Kind: gahpo.KindFitness},
		{V: gahpo.MessageVersion, RunID: "a", GenomeID: 2, Kind: gahpo.KindFitness},
		{V: gahpo.MessageVersion, RunID: "ab", GenomeID: 1, Kind: gahpo.KindFitness},
	} {
		if err := c.PublishTask(ctx, tk); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.PublishResult(ctx, gahpo.Result{V: gahpo.MessageVersion, RunID: "a", GenomeID: 3, Kind: gahpo.KindFitness, Attempt: 1}, 0); err != nil {
		t.Fatal(err)
	}
	pending := func(run string) string {
		tasks, results, err := c.Pending(ctx, run)
		if err != nil {
			t.Fatal(err)
		}
		return fmt.Sprint(tasks, results)
	}
	if got := pending("a"); got != "2 1" {
		t.Errorf("before: run a has %s tasks and results, want 2 1", got)
	}
	if err := c.PurgeTasks(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if err := c.PurgeResults(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if got := pending("a"); got != "0 0" {
		t.Errorf("after: run a has %s, want 0 0", got)
	}
	if got := pending("ab"); got != "1 0" {
		t.Errorf("run ab has %s, want its task kept: 1 0", got)
	}
	for _, bad := range []string{"", "a.>", "*", "a b"} {
		if err := c.PurgeTasks(ctx, bad); !errors.Is(err, ErrBadRun) {
			t.Errorf("PurgeTasks(%q) = %v, want ErrBadRun", bad, err)
		}
	}
}

// TestReplicatedStreamsSurviveTheLeader runs three embedded servers as a
// cluster, queues tasks on streams of 3 replicas, stops the server leading
// the task stream, and takes every task from the two left.
func TestReplicatedStreamsSurviveTheLeader(t *testing.T) {
	if testing.Short() {
		t.Skip("a 3-server cluster takes seconds to form; skipped with -short")
	}
	names := []string{"n1", "n2", "n3"}
	var cluster, routes []string
	for range names {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		cluster = append(cluster, l.Addr().String())
		routes = append(routes, "nats://"+l.Addr().String())
		l.Close()
	}
	srvs := map[string]*natsserver.Server{}
	var urls []string
	for i, name := range names {
		srvs[name] = startServer(t, natsserver.Options{Name: name, Cluster: cluster[i], Routes: routes})
		urls = append(urls, srvs[name].URL())
	}
	c := connect(t, Options{URL: strings.Join(urls, ","), Streams: StreamOptions{Replicas: 3}})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// The meta leader is elected a moment after the routes connect.
	for {
		actx, acancel := context.WithTimeout(ctx, 5*time.Second)
		err := c.EnsureStreams(actx, 5*time.Second)
		acancel()
		if err == nil {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("streams on the cluster: %v", err)
		}
		time.Sleep(500 * time.Millisecond)
	}
	const n = 20
	for g := 1; g <= n; g++ {
		if err := c.PublishTask(ctx, gahpo.Task{V: gahpo.MessageVersion, RunID: "r", GenomeID: g, Kind: gahpo.KindFitness, Problem: "regression"}); err != nil {
			t.Fatal(err)
		}
	}
	s, err := c.js.Stream(ctx, StreamTasks)
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.Config.Replicas != 3 || info.Cluster == nil || info.Cluster.Leader == "" {
		t.Fatalf("task stream: replicas %d, cluster %+v", info.Config.Replicas, info.Cluster)
	}
	// The next search's coordinator, started without --replicas, keeps
	// the streams and buckets on three servers.
	one := connect(t, Options{URL: strings.Join(urls, ",")})
	if err := one.EnsureStreams(ctx, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{StreamTasks, StreamResults, "OBJ_" + BucketCheckpoints} {
		s, err := c.js.Stream(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		if r := s.CachedInfo().Config.Replicas; r != 3 {
			t.Errorf("%s: %d replicas after a coordinator with --replicas 1; want 3 kept", name, r)
		}
	}
	info, err = s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	leader := info.Cluster.Leader
	srvs[leader].Shutdown()
	t.Logf("stopped %s, the task stream's leader", leader)

	var got []string
	var last error
	for len(got) < n && ctx.Err() == nil {
		// Each call gets its own deadline: a request sent while the
		// stream elects its next leader may get no answer.
		actx, acancel := context.WithTimeout(ctx, 5*time.Second)
		tk, err := takeOne(actx, c)
		acancel()
		if err != nil {
			last = err
			continue
		}
		if tk != "" && !slices.Contains(got, tk) {
			got = append(got, tk)
		}
	}
	if len(got) != n {
		t.Fatalf("took %d of %d tasks after losing the leader (last error: %v)", len(got), n, last)
	}
}

// takeOne takes and acknowledges one task, and returns its subject ("" when
// none came).
func takeOne(ctx context.Context, c *Conn) (string, error) {
	q, err := c.Tasks(ctx)
	if err != nil {
		return "", err
	}
	d, err := q.Next(ctx, 2*time.Second)
	if err != nil || d == nil {
		return "", err
	}
	if err := d.Ack(ctx); err != nil {
		return "", err // delivered again after its lease
	}
	return d.Subject, nil
}

// TestRedacted: the URLs a connection logs and puts in its errors keep no
// credentials.
func TestRedacted(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"nats://127.0.0.1:4222", "nats://127.0.0.1:4222"},
		{"nats://s3cret-token@nats-1:4222", "nats://xxxxx@nats-1:4222"},
		{"nats://worker:pass@nats-1:4222,nats://nats-2:4222", "nats://xxxxx@nats-1:4222,nats://nats-2:4222"},
		{"nats://u:p%zz@host:1", "xxxxx@host:1"},
	} {
		got := redacted(tt.in)
		if got != tt.want {
			t.Errorf("redacted(%q) = %q, want %q", tt.in, got, tt.want)
		}
		for _, secret := range []string{"s3cret", "pass", "p%zz"} {
			if strings.Contains(got, secret) {
				t.Errorf("redacted(%q) = %q keeps %q", tt.in, got, secret)
			}
		}
	}
}

// lockedBuffer collects a connection's logs, written from its goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestSharedStreamsKeepOtherRunsSettings: the streams and the workers'
// consumer are every run's on a server. A coordinator leaves the limits it
// is not given as another set them (the defaults do not reset them), logs
// the changes of those it is given, and shortens the lease only while no
// worker holds a task: a task in training would go to another worker.
func TestSharedStreamsKeepOtherRunsSettings(t *testing.T) {
	srv := startServer(t, natsserver.Options{})
	ctx := context.Background()
	w := connect(t, Options{URL: srv.URL()}) // a worker, holding a task from step "hold" to step "ack"
	var held *Delivery
	steps := []struct {
		name      string
		o         StreamOptions
		lease     time.Duration
		before    string // hold: a worker takes a task of run "a"; ack: it acknowledges it
		wantAge   time.Duration
		wantBytes int64
		wantLease time.Duration
		wantLogs  []string
	}{
		{"first", StreamOptions{MaxAge: 2 * time.Hour, MaxBytes: 200e6}, 30 * time.Second, "", 2 * time.Hour, 200e6, 30 * time.Second, nil},
		{"no limits given", StreamOptions{}, 30 * time.Second, "", 2 * time.Hour, 200e6, 30 * time.Second, nil},
		{"raised", StreamOptions{MaxBytes: 400e6}, time.Minute, "", 2 * time.Hour, 400e6, time.Minute,
			[]string{`msg="raising a limit of a stream shared by every run on this NATS" subsystem=nats stream=GAHPO_TASKS limit="max bytes (--stream-max-bytes)" from=200000000 to=400000000`,
				`msg="changing the workers' lease, shared by every run on this NATS" subsystem=nats from=30s to=1m0s`}},
		{"lowered under a held task", StreamOptions{MaxAge: time.Hour}, time.Second, "hold", time.Hour, 400e6, time.Minute,
			[]string{`level=WARN msg="lowering a limit of a stream shared by every run on this NATS: older messages may be removed, or new ones refused, whichever run they are for" subsystem=nats stream=GAHPO_TASKS limit="max age (--stream-max-age)" from=2h0m0s to=1h0m0s runs_with_messages=a`,
				`level=WARN msg="keeping the workers' lease, shared by every run on this NATS: tasks are in training`, `lease=1m0s asked=1s tasks_held=1`}},
		{"lease shortened once none is held", StreamOptions{}, time.Second, "ack", time.Hour, 400e6, time.Second,
			[]string{`msg="changing the workers' lease, shared by every run on this NATS" subsystem=nats from=1m0s to=1s`}},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			var logs lockedBuffer
			c := connect(t, Options{URL: srv.URL(), Streams: s.o, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			switch s.before {
			case "hold":
				if err := c.PublishTask(ctx, gahpo.Task{V: gahpo.MessageVersion, Kind: gahpo.KindFitness, RunID: "a", GenomeID: 1}); err != nil {
					t.Fatal(err)
				}
				q, err := w.Tasks(ctx)
				if err != nil {
					t.Fatal(err)
				}
				if held, err = q.Next(ctx, 5*time.Second); err != nil || held == nil {
					t.Fatalf("take a task: %v, %v", held, err)
				}
			case "ack":
				if err := held.Ack(ctx); err != nil {
					t.Fatal(err)
				}
			}
			// Twice, as gahpo coordinator does (before the run is written,
			// then as the coordinator starts): each change is logged once.
			for range 2 {
				if err := c.EnsureStreams(ctx, s.lease); err != nil {
					t.Fatal(err)
				}
			}
			for _, name := range []string{StreamTasks, StreamResults} {
				st, err := c.js.Stream(ctx, name)
				if err != nil {
					t.Fatal(err)
				}
				if cfg := st.CachedInfo().Config; cfg.MaxAge != s.wantAge || cfg.MaxBytes != s.wantBytes {
					t.Errorf("%s: max age %v, max bytes %d; want %v, %d", name, cfg.MaxAge, cfg.MaxBytes, s.wantAge, s.wantBytes)
				}
			}
			if _, lease, err := c.TasksHeld(ctx); err != nil || lease != s.wantLease {
				t.Errorf("the workers' lease: %v, %v; want %v", lease, err, s.wantLease)
			}
			for _, w := range s.wantLogs {
				if n := strings.Count(logs.String(), w); n != 1 {
					t.Errorf("the logs hold %q %d times, want once:\n%s", w, n, logs.String())
				}
			}
			if s.wantLogs == nil && strings.Contains(logs.String(), "shared by every run") {
				t.Errorf("a change logged, though nothing changed:\n%s", logs.String())
			}
		})
	}
}
