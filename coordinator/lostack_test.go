package coordinator_test

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gahpo/gahpo/bus"
	"github.com/gahpo/gahpo/models"
	"github.com/gahpo/gahpo/natsserver"
	"github.com/gahpo/gahpo/worker"
)

// TestLostTaskAcksCountNothingTwice: a worker acknowledges its task after
// its result's publication was confirmed, without waiting for the ack's
// own confirmation. Here every ack is lost (the server refuses the
// workers' acks), so every task comes back after its lease and is trained
// again, at attempts 2, 3 and beyond, and its result comes again: not as a
// duplicate message (its id names the attempt), but as a result of a
// genome already recorded, which the coordinator drops by the task's
// token. The run ends with the history of a run whose acks all arrived:
// nothing lost, nothing counted twice.
func TestLostTaskAcksCountNothingTwice(t *testing.T) {
	if testing.Short() {
		t.Skip("two cluster runs, one with every task trained again: -short")
	}
	rc := regressionConfig(6, 4, 5)
	rc.FinalEpochs, rc.AckWait = 0, time.Second
	// Each task takes long enough that a run lasts several leases: the
	// tasks of its first generations come back while it runs.
	trainer := func(calls *atomic.Int32) worker.Trainer {
		return worker.TrainerFunc(func(ctx context.Context, job models.Job) (models.Outcome, error) {
			calls.Add(1)
			return slowTrainer{150 * time.Millisecond}.Train(ctx, job)
		})
	}

	var callsA, callsB atomic.Int32
	srvA, err := natsserver.Start(natsserver.Options{StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srvA.Shutdown) // after its clients' Close
	stA := openStore(t, filepath.Join(t.TempDir(), "a.db"))
	defer stA.Close()
	stopA := startAuthWorkers(t, srvA, "", "", 2, trainer(&callsA))
	runA := runToEnd(t, context.Background(), stA, connectAs(t, srvA, "", ""), rc)
	stopA()
	want := history(t, stA, runA.ID)

	users := filepath.Join(t.TempDir(), "users.conf")
	conf := `authorization {
  users = [
    { user: coordinator, password: c-secret, permissions: { publish: { allow: [">"] }, subscribe: { allow: [">"] } } }
    { user: worker, password: w-secret, permissions: {
        publish: { allow: [">"], deny: ["$JS.ACK.GAHPO_TASKS.>"] }
        subscribe: { allow: [">"] } } }
  ]
}
`
	if err := os.WriteFile(users, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	srvB, err := natsserver.Start(natsserver.Options{StoreDir: t.TempDir(), UsersFile: users})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srvB.Shutdown)
	stB := openStore(t, filepath.Join(t.TempDir(), "b.db"))
	defer stB.Close()
	stopB := startAuthWorkers(t, srvB, "worker", "w-secret", 2, trainer(&callsB))
	defer stopB()
	runB := runToEnd(t, context.Background(), stB, connectAs(t, srvB, "coordinator", "c-secret"), rc)
	gs := checkComplete(t, stB, runB)

	if got := history(t, stB, runB.ID); !reflect.DeepEqual(got, want) {
		for i := range min(len(got), len(want)) {
			if !reflect.DeepEqual(got[i], want[i]) {
				t.Errorf("first difference at genome %d:\n got %+v\nwant %+v", i+1, got[i], want[i])
				break
			}
		}
		t.Fatalf("the history with every ack lost differs from the one with every ack arrived (%d vs %d genomes)", len(got), len(want))
	}
	trained := 0
	for _, g := range gs {
		if g.DuplicateOf == 0 {
			trained++
			if g.Attempts != 1 {
				t.Errorf("genome %d recorded at attempt %d, want its first", g.ID, g.Attempts)
			}
		}
	}
	if n := int(callsA.Load()); n != trained {
		t.Errorf("with its acks arrived, the run trained %d times for %d genomes", n, trained)
	}
	// Tasks came back and were trained again while the run went on.
	t.Logf("%d genomes trained: %d trainings with the acks arrived, %d with them lost", trained, callsA.Load(), callsB.Load())
	if n := int(callsB.Load()); n <= trained {
		t.Errorf("with every ack lost, the run trained %d times for %d genomes: no task came back, the test tested nothing", n, trained)
	}
}

// connectAs connects to srv as user (no user: none).
func connectAs(t *testing.T, srv *natsserver.Server, user, password string) *bus.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := bus.Connect(ctx, bus.Options{URL: srv.URL(), Name: "test-" + user, User: user, Password: password, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// startAuthWorkers runs n workers connected as user until stop is called.
func startAuthWorkers(t *testing.T, srv *natsserver.Server, user, password string, n int, trainer worker.Trainer) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for i := range n {
		w := worker.New(connectAs(t, srv, user, password), trainer, worker.Config{Name: "w" + itoa(i+1), CacheDir: t.TempDir(), Poll: 500 * time.Millisecond, Logger: quiet})
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = w.Run(ctx)
		}()
	}
	var once sync.Once
	return func() { once.Do(func() { cancel(); wg.Wait() }) }
}
