package coordinator_test

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gahpo/gahpo"
	"github.com/gahpo/gahpo/bus"
	"github.com/gahpo/gahpo/coordinator"
	"github.com/gahpo/gahpo/internal/testnats"
	"github.com/gahpo/gahpo/models"
	"github.com/gahpo/gahpo/natsserver"
	"github.com/gahpo/gahpo/worker"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// gatedTrainer is noopTrainer that, at its call number at, calls cut and
// trains on once it returns.
type gatedTrainer struct {
	calls atomic.Int32
	at    int32
	cut   func()
}

func (g *gatedTrainer) Train(ctx context.Context, job models.Job) (models.Outcome, error) {
	if g.calls.Add(1) == g.at {
		g.cut()
	}
	return noopTrainer{}.Train(ctx, job)
}

// TestHalvingNATSStoreLostUnderItsCoordinator replaces the NATS server of
// a running halving run with one on an empty store (its store directory
// deleted) while a worker trains, and lets the coordinator and the worker
// go on: the coordinator sets the streams up again, queues the lost tasks
// (those whose checkpoint went train from scratch) and ends as the
// uninterrupted run did, bit for bit. It stopped with "bus: next result:
// nats: no heartbeat received", leaving the user to resume the run. Its
// data file is put again, under its content's name, on the empty server
// (and released as the run ends).
func TestHalvingNATSStoreLostUnderItsCoordinator(t *testing.T) {
	if testing.Short() {
		t.Skip("two cluster runs and a server outage: -short")
	}
	rc := halvingConfig(5, 3, 8, gahpo.BreedingSteadyState)
	rc.InFlight = 2

	srvA := testnats.Start(t)
	startWorkers(t, srvA, 1, noopTrainer{})
	stA := openStore(t, filepath.Join(t.TempDir(), "a.db"))
	defer stA.Close()
	runA := runToEnd(t, context.Background(), stA, testnats.Connect(t, srvA, "coord"), rc)
	want := halvingHistory(t, stA, runA.ID)

	store := filepath.Join(t.TempDir(), "nats")
	srv, err := natsserver.Start(natsserver.Options{StoreDir: store})
	if err != nil {
		t.Fatal(err)
	}
	port := testnats.Port(t, srv)
	replaced := make(chan *natsserver.Server, 1)
	var back time.Time // when the empty server answered
	cut := func() {
		srv.Shutdown()
		if err := os.RemoveAll(store); err != nil {
			t.Error(err)
		}
		time.Sleep(time.Second) // the clients see it gone
		empty, err := natsserver.Start(natsserver.Options{Port: port, StoreDir: store})
		if err != nil {
			t.Error(err)
		}
		back = time.Now()
		replaced <- empty
	}
	trainer := &countingTrainer{Trainer: &gatedTrainer{at: 8, cut: cut}}
	startWorkers(t, srv, 1, trainer)
	stB := openStore(t, filepath.Join(t.TempDir(), "b.db"))
	defer stB.Close()
	conn, err := bus.Connect(context.Background(), bus.Options{URL: srv.URL(), Name: "coord"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	data := filepath.Join(t.TempDir(), "train.csv")
	if err := os.WriteFile(data, []byte("x,y\n1,2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	object, err := bus.DataObjectName(bus.Digest([]byte("x,y\n1,2\n")), "train.csv")
	if err != nil {
		t.Fatal(err)
	}
	problem := func(name string) (coordinator.Problem, error) {
		p, err := problemFor(name)
		p.DataFiles = []string{data}
		return p, err
	}
	c, err := coordinator.New(stB, conn, coordinator.Config{Run: rc, Problem: problem, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	runB, err := c.Run(ctx)
	select {
	case empty := <-replaced:
		defer empty.Shutdown()
	default:
		t.Fatal("the run ended before its server was replaced")
	}
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	// The rest of the run takes its trainings' few milliseconds once the
	// coordinator has set the streams up again (the feed's heartbeat goes
	// missing in ~3 s): the worker whose task went with the old stream does
	// not wait for that task's acknowledgement for long (it waited 30 s).
	if d := time.Since(back); d > 15*time.Second {
		t.Errorf("the run ended %v after its server came back empty, want at most 15 s", d.Round(time.Millisecond))
	} else {
		t.Logf("the run ended %v after its server came back empty", d.Round(time.Millisecond))
	}
	checkHalvingWeights(t, stB, conn, runB, true)
	// Put again on the empty server, the data file was released (and, no
	// other run using it, deleted) as the run ended: its deletion marker
	// is there.
	if info, err := dataObjectInfo(ctx, srv.URL(), object); err != nil || !info.Deleted {
		t.Errorf("the data file on the empty server: %+v, %v; want it put again as %s, then deleted as the run ended", info, err, object)
	}
	if got := halvingHistory(t, stB, runB.ID); !reflect.DeepEqual(got, want) {
		for i := range min(len(got), len(want)) {
			if !reflect.DeepEqual(got[i], want[i]) {
				t.Errorf("first difference at genome %d:\n got %+v\nwant %+v", i+1, got[i], want[i])
				break
			}
		}
		t.Fatalf("the history differs from the uninterrupted run's (%d vs %d genomes)", len(got), len(want))
	}
	// The epochs spent are the uninterrupted run's and those trained
	// again from scratch where a checkpoint was lost, all of them trained
	// (the worker trained more: the tasks whose results were lost).
	gs, err := stB.Genomes(runB.ID, -1)
	if err != nil {
		t.Fatal(err)
	}
	again := 0
	for _, g := range gs {
		again += g.Retrained
	}
	if trained := int(trainer.epochs.Load()); again == 0 || runB.EpochsSpent != runA.EpochsSpent+again || trained < runB.EpochsSpent {
		t.Errorf("epochs spent %d, the uninterrupted run's %d, trained again %d; the worker trained %d", runB.EpochsSpent, runA.EpochsSpent, again, trained)
	}
}

// countingTrainer counts the epochs its trainings trained.
type countingTrainer struct {
	worker.Trainer
	epochs atomic.Int64
}

func (c *countingTrainer) Train(ctx context.Context, job models.Job) (models.Outcome, error) {
	out, err := c.Trainer.Train(ctx, job)
	c.epochs.Add(int64(len(out.Curve)))
	return out, err
}

// dataObjectInfo is the object store's record of the data object name,
// deleted or not.
func dataObjectInfo(ctx context.Context, url, name string) (*jetstream.ObjectInfo, error) {
	nc, err := nats.Connect(url)
	if err != nil {
		return nil, err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, err
	}
	obs, err := js.ObjectStore(ctx, bus.BucketData)
	if err != nil {
		return nil, err
	}
	return obs.GetInfo(ctx, name, jetstream.GetObjectInfoShowDeleted())
}
