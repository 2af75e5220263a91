package coordinator_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gahpo/gahpo"
	"github.com/gahpo/gahpo/bus"
	"github.com/gahpo/gahpo/coordinator"
	"github.com/gahpo/gahpo/internal/testnats"
	"github.com/gahpo/gahpo/models"
	"github.com/gahpo/gahpo/models/problems"
	"github.com/gahpo/gahpo/natsserver"
	"github.com/gahpo/gahpo/store"
	"github.com/gahpo/gahpo/worker"
)

// dyingWorker takes n tasks, each with a worker that dies with it (see
// loseTask), and returns their subjects.
func dyingWorker(t *testing.T, srv *natsserver.Server, n int) []string {
	t.Helper()
	var taken []string
	for range n {
		taken = append(taken, loseTask(t, srv, ""))
	}
	return taken
}

// loseTask starts a worker that takes the task of subject want (the first
// task it gets when want is "") and dies without acknowledging it: its
// connection closes mid-training, as when the process is killed, so the
// task counts one more delivery. Other tasks it gets meanwhile it puts back
// for later (a delayed Nak), so that they are not lost and it reaches want.
// It returns the subject of the lost task.
func loseTask(t *testing.T, srv *natsserver.Server, want string) string {
	t.Helper()
	conn, err := bus.Connect(context.Background(), bus.Options{URL: srv.URL(), Name: "doomed"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var q *bus.TaskQueue
	deadline := time.Now().Add(20 * time.Second)
	for q == nil {
		q, err = conn.Tasks(context.Background())
		if errors.Is(err, bus.ErrNoConsumer) && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	for {
		d, err := q.Next(context.Background(), 10*time.Second)
		if time.Now().After(deadline) {
			t.Fatalf("doomed worker never got task %q: last %v, %v", want, d, err)
		}
		if err != nil || d == nil {
			continue // the queue may not answer in its first milliseconds
		}
		if want == "" || d.Subject == want {
			return d.Subject // the deferred Close drops it unacknowledged
		}
		if err := d.Nak(5 * time.Second); err != nil {
			t.Fatalf("put back %s: %v", d.Subject, err)
		}
	}
}

func TestWorkerKilledMidGenome(t *testing.T) {
	if testing.Short() {
		t.Skip("a cluster run with a killed worker: -short")
	}
	srv := testnats.Start(t)
	st := openStore(t, filepath.Join(t.TempDir(), "h.db"))
	defer st.Close()
	rc := regressionConfig(6, 2, 11)
	rc.AckWait = time.Second
	_, wait := background(t, st, testnats.Connect(t, srv, "coord"), rc)
	// Two tasks are lost by a dying worker before real workers join.
	taken := dyingWorker(t, srv, 2)
	startWorkers(t, srv, 2, problems.NewTrainer())
	run := wait()
	gs := checkComplete(t, st, run)
	retried := 0
	for _, g := range gs {
		for _, subj := range taken {
			if strings.HasSuffix(subj, "."+itoa(g.ID)) {
				if g.Attempts < 2 || g.Status != gahpo.GenomeDone {
					t.Errorf("genome %d lost by a dead worker: attempts %d status %s; want redelivered and done", g.ID, g.Attempts, g.Status)
				}
				retried++
			}
		}
	}
	if retried != len(taken) {
		t.Errorf("found %d of the %d lost genomes", retried, len(taken))
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

func TestGenomeThatKillsEveryWorkerIsMarkedFailed(t *testing.T) {
	if testing.Short() {
		t.Skip("a cluster run whose workers all die: -short")
	}
	srv := testnats.Start(t)
	st := openStore(t, filepath.Join(t.TempDir(), "h.db"))
	defer st.Close()
	rc := regressionConfig(4, 1, 5)
	rc.AckWait, rc.MaxAttempts, rc.FinalEpochs = time.Second, 2, 0
	_, wait := background(t, st, testnats.Connect(t, srv, "coord"), rc)
	// The first task is lost twice, by construction: attempt 3 exceeds
	// MaxAttempts. Tasks that the second doomed worker gets before the lost
	// one comes back are put back, not lost.
	first := loseTask(t, srv, "")
	if again := loseTask(t, srv, first); again != first {
		t.Fatalf("second loss took %s, want %s", again, first)
	}
	startWorkers(t, srv, 2, problems.NewTrainer())
	run := wait()
	gs := checkComplete(t, st, run)
	var failed []int
	for _, g := range gs {
		lost := strings.HasSuffix(first, "."+itoa(g.ID))
		switch {
		case lost && (g.Status != gahpo.GenomeFailed || !strings.Contains(g.Failure, "gave up") || g.Attempts != 2):
			// The third delivery trains nothing: it gives up.
			t.Errorf("genome %d, lost twice: status %s, failure %q after %d attempts; want failed, gave up, after 2", g.ID, g.Status, g.Failure, g.Attempts)
		case !lost && g.Status == gahpo.GenomeFailed:
			t.Errorf("genome %d failed (%q after %d attempts); only the twice-lost one should", g.ID, g.Failure, g.Attempts)
		}
		if g.Status == gahpo.GenomeFailed {
			failed = append(failed, g.ID)
		}
	}
	if len(failed) != 1 {
		t.Errorf("failed genomes %v, want exactly the one lost twice (%s)", failed, first)
	}
}

func TestCoordinatorRestartEndsLikeUninterruptedRun(t *testing.T) {
	if testing.Short() {
		t.Skip("two multi-minute regression runs, one interrupted: -short")
	}
	rc := regressionConfig(8, 3, 42)
	rc.FinalEpochs = 0

	// The reference: one coordinator from start to end.
	srvA := testnats.Start(t)
	startWorkers(t, srvA, 2, problems.NewTrainer())
	stA := openStore(t, filepath.Join(t.TempDir(), "a.db"))
	defer stA.Close()
	runA := runToEnd(t, context.Background(), stA, testnats.Connect(t, srvA, "coord"), rc)
	want := history(t, stA, runA.ID)

	// The same seed, with the coordinator killed twice mid-run.
	srvB := testnats.Start(t)
	startWorkers(t, srvB, 2, problems.NewTrainer())
	pathB := filepath.Join(t.TempDir(), "b.db")
	var runB gahpo.Run
	for attempt := 0; ; attempt++ {
		st := openStore(t, pathB)
		conn, err := bus.Connect(context.Background(), bus.Options{URL: srvB.URL(), Name: "coord"})
		if err != nil {
			t.Fatal(err)
		}
		c, err := coordinator.New(st, conn, coordinator.Config{Run: rc, Problem: problemFor, Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		if attempt < 2 {
			// Kill it once it has stored a few more results.
			go func() {
				for {
					gs, _ := st.Genomes(c.RunID(), -1)
					n := 0
					for _, g := range gs {
						if g.Evaluated() {
							n++
						}
					}
					if n >= 5*(attempt+1) {
						cancel()
						return
					}
					time.Sleep(5 * time.Millisecond)
				}
			}()
		}
		run, err := c.Run(ctx)
		cancel()
		conn.Close() // abrupt: no drain, as a killed process
		st.Close()
		if err == nil {
			runB = run
			break
		}
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("run: %v", err)
		}
		if attempt > 5 {
			t.Fatal("run did not finish after restarts")
		}
	}
	stB := openStore(t, pathB)
	defer stB.Close()
	checkComplete(t, stB, runB)
	if runB.Restarts < 1 {
		t.Errorf("run restarted %d times, want at least 1", runB.Restarts)
	}
	got := history(t, stB, runB.ID)
	if !reflect.DeepEqual(got, want) {
		for i := range min(len(got), len(want)) {
			if !reflect.DeepEqual(got[i], want[i]) {
				t.Errorf("first difference at genome %d:\n got %+v\nwant %+v", i+1, got[i], want[i])
				break
			}
		}
		t.Fatalf("restarted run's history differs from the uninterrupted one (%d vs %d genomes)", len(got), len(want))
	}
}

func TestLiveAndOfflineQueriesAgree(t *testing.T) {
	srv := testnats.Start(t)
	st := openStore(t, filepath.Join(t.TempDir(), "h.db"))
	defer st.Close()
	rc := regressionConfig(6, 4, 3)
	rc.FinalEpochs = 0
	c, err := coordinator.New(st, testnats.Connect(t, srv, "coord"), coordinator.Config{Run: rc, Problem: problemFor, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _, _ = c.Run(ctx) }()
	defer func() { cancel(); <-done }()
	client := testnats.Connect(t, srv, "query")
	status := func() gahpo.Status {
		t.Helper()
		var st gahpo.Status
		deadline := time.Now().Add(10 * time.Second)
		for {
			err := client.Query(ctx, c.RunID(), coordinator.EndpointStatus, coordinator.QueryRequest{}, &st)
			if err == nil {
				return st
			}
			if time.Now().After(deadline) {
				t.Fatalf("status: %v", err)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	// Before any worker: everything queued.
	if s := status(); s.Queued != 6 || s.Done != 0 || s.State != gahpo.RunRunning {
		t.Errorf("status before workers = %+v; want 6 queued", s)
	}
	svcs, err := client.Discover(ctx)
	if err != nil || len(svcs) != 1 || svcs[0].RunID != c.RunID() {
		t.Errorf("discover = %+v, %v; want the coordinator of %s", svcs, err, c.RunID())
	}
	// Workers run until two generations are done, then stop: the run
	// stays live and still.
	stopWorkers := startWorkersStoppable(t, srv, 2)
	for status().Generation < 2 {
		time.Sleep(20 * time.Millisecond)
	}
	stopWorkers()
	time.Sleep(300 * time.Millisecond) // results already published are stored
	var live []gahpo.BestEntry
	if err := client.Query(ctx, c.RunID(), coordinator.EndpointBest, coordinator.QueryRequest{}, &live); err != nil {
		t.Fatal(err)
	}
	offline, err := coordinator.Queries{Store: st}.Best("")
	if err != nil {
		t.Fatal(err)
	}
	if len(live) < 2 || !reflect.DeepEqual(live, roundTrip(t, offline)) {
		t.Errorf("live best = %+v\noffline best = %+v", live, offline)
	}
	var g gahpo.GenomeRecord
	if err := client.Query(ctx, c.RunID(), coordinator.EndpointGenome, coordinator.QueryRequest{Genome: live[0].GenomeID}, &g); err != nil {
		t.Fatal(err)
	}
	if g.ID != live[0].GenomeID || float64(g.Fitness) != float64(live[0].Fitness) {
		t.Errorf("genome query = %+v, want genome %d", g, live[0].GenomeID)
	}
	var qerr *bus.QueryError
	if err := client.Query(ctx, c.RunID(), coordinator.EndpointGenome, coordinator.QueryRequest{Genome: 9999}, &g); !errors.As(err, &qerr) {
		t.Errorf("query of a missing genome: err = %v, want a QueryError", err)
	}
}

func roundTrip[T any](t *testing.T, v T) T {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out T
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// Tasks purged from the queue of a live run (`gahpo purge`, a lost NATS
// store) are queued again by the watchdog and the run completes: a
// re-publication with the purged message's id would be dropped by the
// stream as a duplicate for 10 minutes, and the run would stall.
func TestPurgedTasksAreQueuedAgain(t *testing.T) {
	if testing.Short() {
		t.Skip("a cluster run whose tasks are purged: -short")
	}
	srv := testnats.Start(t)
	st := openStore(t, filepath.Join(t.TempDir(), "h.db"))
	defer st.Close()
	rc := regressionConfig(4, 1, 3)
	rc.AckWait, rc.FinalEpochs = time.Second, 0 // the watchdog looks every 5 s
	conn := testnats.Connect(t, srv, "coord")
	c, wait := background(t, st, conn, rc)
	ctx := context.Background()
	queued := func() uint64 {
		n, _, err := conn.Pending(ctx, c.RunID())
		if err != nil {
			return 0 // the coordinator has not made the streams yet
		}
		return n
	}
	deadline := time.Now().Add(20 * time.Second)
	for queued() < 4 {
		if time.Now().After(deadline) {
			t.Fatalf("%d of the 4 tasks queued", queued())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := conn.PurgeTasks(ctx, c.RunID()); err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(20 * time.Second)
	for queued() < 4 {
		if time.Now().After(deadline) {
			t.Fatalf("%d of the 4 purged tasks queued again after 20 s", queued())
		}
		time.Sleep(100 * time.Millisecond)
	}
	startWorkers(t, srv, 2, problems.NewTrainer())
	checkComplete(t, st, wait())
}

// TestPurgedRunResumedCompletes: a run stopped while its workers finish
// their tasks, whose results are then purged (`gahpo purge --force`) and
// which is resumed at once, completes: its lost tasks are queued again, and
// their results, with the purged ones' tokens and attempt numbers, are not
// dropped by the result stream as duplicates for its 10-minute window
// (the tasks trained again and again meanwhile).
func TestPurgedRunResumedCompletes(t *testing.T) {
	srv := testnats.Start(t)
	st := openStore(t, filepath.Join(t.TempDir(), "h.db"))
	defer st.Close()
	rc := regressionConfig(4, 1, 3)
	rc.AckWait, rc.FinalEpochs = time.Second, 0 // the watchdog looks every 5 s
	conn := testnats.Connect(t, srv, "coord")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := coordinator.New(st, conn, coordinator.Config{Run: rc, Problem: problemFor, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	stopCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { _, err := c.Run(stopCtx); done <- err }()
	pending := func() (tasks, results uint64) {
		tasks, results, _ = conn.Pending(ctx, c.RunID()) // an error before the streams are made
		return tasks, results
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		for !cond() {
			if ctx.Err() != nil {
				t.Fatalf("%s: %v", what, ctx.Err())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitFor("4 tasks queued", func() bool { n, _ := pending(); return n == 4 })
	stop()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("stopped run: %v", err)
	}
	stopWorkers := startWorkersStoppable(t, srv, 2)
	waitFor("4 results waiting", func() bool { n, r := pending(); return n == 0 && r == 4 })
	stopWorkers()
	if err := conn.PurgeTasks(ctx, c.RunID()); err != nil {
		t.Fatal(err)
	}
	if err := conn.PurgeResults(ctx, c.RunID()); err != nil {
		t.Fatal(err)
	}
	startWorkers(t, srv, 2, problems.NewTrainer())
	resumed, err := coordinator.New(st, testnats.Connect(t, srv, "resumed"), coordinator.Config{Run: rc, Problem: problemFor, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancelRun := context.WithTimeout(ctx, 30*time.Second)
	defer cancelRun()
	run, err := resumed.Run(runCtx)
	if err != nil {
		t.Fatalf("the resumed run: %v (its results dropped as duplicates of the purged ones?)", err)
	}
	checkComplete(t, st, run)
}

// TestFaultNeedsAnOutstandingTask: a worker's report that it cannot get
// past a fault (which ends the run if no result is stored for a while)
// counts only with the token of a task the run has outstanding: anyone
// allowed to publish events could send one, and one forged event would
// stop a healthy run whose trainings take longer than the limit.
func TestFaultNeedsAnOutstandingTask(t *testing.T) {
	srv := testnats.Start(t)
	st := openStore(t, filepath.Join(t.TempDir(), "h.db"))
	defer st.Close()
	var logs testnats.LogBuffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	c, ctx := runUntilTheEnd(t, st, testnats.Connect(t, srv, "coord"), coordinator.Config{Run: regressionConfig(4, 2, 1), Problem: problemFor, Logger: log})
	conn := testnats.Connect(t, srv, "worker")
	task := takeTask(t, ctx, conn) // as a worker takes it, handed back
	fault := func(genome int, token, problem string) gahpo.Started {
		return gahpo.Started{V: gahpo.MessageVersion, RunID: c.RunID(), GenomeID: genome, Worker: "w", At: time.Now(), Problem: problem, Token: token}
	}
	for _, e := range []gahpo.Started{
		fault(task.GenomeID, "", "forged: no token"),
		fault(task.GenomeID, "0123456789abcdef01234567", "forged: a token of no task"),
		fault(task.GenomeID+1, task.Token, "forged: another genome's token"),
	} {
		if err := conn.PublishEvent(e); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for strings.Count(logs.String(), "ignoring a fault reported for no task outstanding") < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("the forged faults were not all ignored; the log:\n%s", logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if f := c.Status().Fault; f != "" {
		t.Fatalf("fault %q after forged reports", f)
	}
	if err := conn.PublishEvent(fault(task.GenomeID, task.Token, "cannot publish its result: store full")); err != nil {
		t.Fatal(err)
	}
	for c.Status().Fault != "w: cannot publish its result: store full" {
		if time.Now().After(deadline) {
			t.Fatalf("the fault of an outstanding task is not reported: %q", c.Status().Fault)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestSecondCoordinatorOfARunRefused: a second coordinator resuming a run
// whose coordinator answers on NATS (from a copy of its history file, as
// a service started on two machines would) is refused before it publishes
// or takes anything, and the first ends its run as if alone.
func TestSecondCoordinatorOfARunRefused(t *testing.T) {
	srv := testnats.Start(t)
	dir := t.TempDir()
	st := openStore(t, filepath.Join(dir, "a.db"))
	defer st.Close()
	rc := regressionConfig(4, 2, 7)
	rc.FinalEpochs = 0
	first, err := coordinator.New(st, testnats.Connect(t, srv, "first"), coordinator.Config{Run: rc, Problem: problemFor, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	// A copy of the history with the run created, before it goes on.
	copied := filepath.Join(dir, "b.db")
	copyFile(t, filepath.Join(dir, "a.db"), copied)
	done := make(chan gahpo.Run, 1)
	go func() {
		run, err := first.Run(context.Background())
		if err != nil {
			t.Errorf("first coordinator: %v", err)
		}
		done <- run
	}()
	// It answers on NATS once it serves: wait for that.
	probe := testnats.Connect(t, srv, "probe")
	for {
		if _, err := probe.Discover(context.Background()); err == nil {
			break
		}
	}
	stB := openStore(t, copied)
	defer stB.Close()
	second, err := coordinator.New(stB, testnats.Connect(t, srv, "second"), coordinator.Config{Run: rc, Problem: problemFor, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	if second.RunID() != first.RunID() {
		t.Fatalf("the copy resumed run %s, not %s", second.RunID(), first.RunID())
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := second.Run(ctx); err == nil || !strings.Contains(err.Error(), "already has a coordinator answering") {
		t.Fatalf("second coordinator of run %s: %v; want a refusal", first.RunID(), err)
	}
	startWorkers(t, srv, 2, problems.NewTrainer())
	var run gahpo.Run
	select {
	case run = <-done:
	case <-time.After(runTimeout):
		t.Fatal("the first coordinator's run did not end")
	}
	if run.Status != gahpo.RunDone {
		t.Fatalf("the first coordinator's run ended %s", run.Status)
	}
	gs, err := stB.Genomes(run.ID, -1)
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range gs {
		if g.Evaluated() {
			t.Errorf("the refused coordinator's history recorded genome %d", g.ID)
		}
	}
	if r, err := stB.Run(run.ID); err != nil || r.Restarts != 0 {
		t.Errorf("the refused coordinator's history: %d restarts, %v; want it as copied, with none", r.Restarts, err)
	}
}

// TestReplacedFinalWeightsAreNotTheModel: the final training's weights are
// replaced in the object store after its worker stored them and before the
// coordinator fetches them (here, while it was stopped). The digest the
// worker reported tells: the run ends without a model, saying why, instead
// of storing the forged bytes as the genome's.
func TestReplacedFinalWeightsAreNotTheModel(t *testing.T) {
	if testing.Short() {
		t.Skip("a cluster run, stopped and resumed: -short")
	}
	srv := testnats.Start(t)
	rc := regressionConfig(4, 1, 5)
	finalStarted, release := make(chan struct{}, 1), make(chan struct{})
	real := problems.NewTrainer()
	startWorkers(t, srv, 1, worker.TrainerFunc(func(ctx context.Context, job models.Job) (models.Outcome, error) {
		if job.Task.Kind == gahpo.KindFinal {
			select {
			case finalStarted <- struct{}{}:
			default:
			}
			select {
			case <-release:
			case <-ctx.Done():
				return models.Outcome{}, ctx.Err()
			}
		}
		return real.Train(ctx, job)
	}))
	path := filepath.Join(t.TempDir(), "h.db")
	st := openStore(t, path)
	conn := testnats.Connect(t, srv, "coord")
	c, err := coordinator.New(st, conn, coordinator.Config{Run: rc, Problem: problemFor, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _, _ = c.Run(ctx) }()
	select {
	case <-finalStarted:
	case <-time.After(runTimeout):
		t.Fatal("no final training started")
	}
	stop()
	<-done
	st.Close()

	// The worker stores its weights and result; then someone replaces them.
	close(release)
	for {
		_, results, err := conn.Pending(context.Background(), c.RunID())
		if err != nil {
			t.Fatal(err)
		}
		if results > 0 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	names, err := conn.ListObjects(context.Background(), bus.BucketWeights)
	if err != nil {
		t.Fatal(err)
	}
	replaced := ""
	for _, n := range names {
		if strings.HasPrefix(n, c.RunID()+"-final-") {
			replaced = n
		}
	}
	if replaced == "" {
		t.Fatalf("no final weights among %q", names)
	}
	if _, err := conn.PutBytes(context.Background(), bus.BucketWeights, replaced, []byte("not the model")); err != nil {
		t.Fatal(err)
	}

	st = openStore(t, path)
	defer st.Close()
	run := runToEnd(t, context.Background(), st, conn, rc)
	f, err := st.Final(run.ID)
	if err != nil {
		t.Fatal(err)
	}
	if f.WeightsSize != 0 || !strings.Contains(f.WeightsLost, "was replaced") {
		t.Errorf("final training: %d bytes of weights, weights_lost %q; want none, saying they were replaced", f.WeightsSize, f.WeightsLost)
	}
	if len(f.Curve) == 0 {
		t.Error("the final training's figures were not kept")
	}
}

// TestCoordinatorsStartedAtOnceNotBothRun: two copies of a history resume
// the same run at the same moment, before either answers on NATS. At least
// one must stop before it takes the results: two running would each take
// half of them and queue the other half again as lost, for ever.
func TestCoordinatorsStartedAtOnceNotBothRun(t *testing.T) {
	if testing.Short() {
		t.Skip("waits for the coordinator that runs: -short")
	}
	srv := testnats.Start(t)
	dir := t.TempDir()
	rc := regressionConfig(4, 2, 9)
	st := openStore(t, filepath.Join(dir, "a.db"))
	if _, err := coordinator.New(st, testnats.Connect(t, srv, "creator"), coordinator.Config{Run: rc, Problem: problemFor, Logger: quiet}); err != nil {
		t.Fatal(err)
	}
	st.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	errs, start := make(chan error, 2), make(chan struct{})
	for _, name := range []string{"b", "c"} {
		path := filepath.Join(dir, name+".db")
		copyFile(t, filepath.Join(dir, "a.db"), path)
		st := openStore(t, path)
		defer st.Close()
		c, err := coordinator.New(st, testnats.Connect(t, srv, name), coordinator.Config{Run: rc, Problem: problemFor, Logger: quiet})
		if err != nil {
			t.Fatal(err)
		}
		go func() { <-start; _, err := c.Run(ctx); errs <- err }()
	}
	close(start)
	// No workers: a coordinator that runs waits until ctx ends.
	refused := 0
	for range 2 {
		if err := <-errs; err != nil && (strings.Contains(err.Error(), "coordinators answering on NATS") || strings.Contains(err.Error(), "already has a coordinator answering")) {
			refused++
		}
	}
	if refused == 0 {
		t.Error("both coordinators of the run started")
	}
}

// copyFile copies a history file that no transaction is writing, as a
// user's cp would.
func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// runUntilTheEnd runs a coordinator of cfg until the test ends (or a
// minute passes), and returns it with the context it runs under.
func runUntilTheEnd(t *testing.T, st *store.Store, conn *bus.Conn, cfg coordinator.Config) (*coordinator.Coordinator, context.Context) {
	t.Helper()
	c, err := coordinator.New(st, conn, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	done := make(chan error, 1)
	go func() { _, err := c.Run(ctx); done <- err }()
	t.Cleanup(func() { cancel(); <-done })
	return c, ctx
}

// takeTask takes the first task the coordinator queues, as a worker does,
// and hands it straight back (a Nak: it is queued again).
func takeTask(t *testing.T, ctx context.Context, conn *bus.Conn) gahpo.Task {
	t.Helper()
	for {
		q, err := conn.Tasks(ctx)
		if err != nil {
			if ctx.Err() != nil {
				t.Fatal(err)
			}
			time.Sleep(50 * time.Millisecond)
			continue
		}
		d, err := q.Next(ctx, 5*time.Second)
		if err != nil || d == nil {
			if ctx.Err() != nil {
				t.Fatalf("no task queued: %v", err)
			}
			continue
		}
		var task gahpo.Task
		if err := gahpo.Decode(d.Data, &task); err != nil {
			t.Fatal(err)
		}
		_ = d.Nak(0)
		return task
	}
}
