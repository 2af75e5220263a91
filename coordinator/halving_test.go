package coordinator_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gahpo/gahpo"
	"github.com/gahpo/gahpo/bus"
	"github.com/gahpo/gahpo/coordinator"
	"github.com/gahpo/gahpo/internal/testnats"
	"github.com/gahpo/gahpo/models"
	"github.com/gahpo/gahpo/models/problems"
	"github.com/gahpo/gahpo/models/regression"
	"github.com/gahpo/gahpo/search"
	"github.com/gahpo/gahpo/store"
	"github.com/gahpo/gahpo/worker"
)

// halvingConfig is a regression search with successive halving over 10,
// 30 and 90 epochs.
func halvingConfig(pop, gens int, seed uint64, breeding string) gahpo.RunConfig {
	rc := regressionConfig(pop, gens, seed)
	rc.FinalEpochs = 0
	rc.Fidelity, rc.Breeding, rc.MinEpochs, rc.MaxEpochs, rc.Eta = gahpo.FidelityHalving, breeding, 10, 90, 3
	rc.InFlight = 3
	rc.BudgetGene = regression.ParamEpochs // as gahpo run sets it: the rungs decide the epochs
	return rc
}

// checkParams asserts that every genome of run has the run's parameters,
// without its budget gene when it names one.
func checkParams(t *testing.T, run gahpo.Run, gs []gahpo.GenomeRecord) {
	t.Helper()
	if g := run.Config.BudgetGene; g != "" && slices.Contains(run.Params, g) {
		t.Errorf("the run's parameters %v hold its budget gene %q", run.Params, g)
	}
	var space []string
	for _, p := range run.Space {
		space = append(space, p.Name)
	}
	if !slices.Equal(space, run.Params) {
		t.Errorf("the run stored the space of %v, its parameters are %v", space, run.Params)
	}
	for _, g := range gs {
		if names := slices.Sorted(maps.Keys(g.Params)); !slices.Equal(names, slices.Sorted(slices.Values(run.Params))) {
			t.Fatalf("genome %d has parameters %v, the run %v", g.ID, names, run.Params)
		}
	}
}

// checkHalving asserts a finished halving run: every genome bred once and
// trained at least one rung, its epochs those of its rung, its curve one
// point per epoch; the best genome fully trained and stored as the final
// training with its weights; no checkpoint and no weights left in the
// object store.
func checkHalving(t *testing.T, st *store.Store, conn *bus.Conn, run gahpo.Run) []gahpo.GenomeRecord {
	t.Helper()
	return checkHalvingWeights(t, st, conn, run, false)
}

// checkHalvingWeights is checkHalving; with weightsMayBeLost, the final
// training may lack its weights if it says they were lost.
func checkHalvingWeights(t *testing.T, st *store.Store, conn *bus.Conn, run gahpo.Run, weightsMayBeLost bool) []gahpo.GenomeRecord {
	t.Helper()
	gs := doneGenomes(t, st, run)
	checkParams(t, run, gs)
	if want := run.Config.GA.Population * run.Config.GA.Generations; len(gs) != want {
		t.Fatalf("%d genomes, want %d", len(gs), want)
	}
	rungs := run.Config.RungEpochs()
	top := 0
	for _, g := range gs {
		if g.Status == gahpo.GenomeQueued || g.Status == gahpo.GenomePromoted {
			t.Errorf("genome %d left %s", g.ID, g.Status)
		}
		if g.DuplicateOf != 0 || g.Status == gahpo.GenomeFailed {
			continue
		}
		if g.Epochs != rungs[g.Rung] || len(g.RungFitness) != g.Rung+1 || len(g.Curve) != g.Epochs {
			t.Errorf("genome %d: rung %d, %d epochs, %d rung results, %d curve points", g.ID, g.Rung, g.Epochs, len(g.RungFitness), len(g.Curve))
		}
		if g.Checkpoint != nil {
			t.Errorf("genome %d still names a checkpoint %s", g.ID, g.Checkpoint.Name)
		}
		if g.Rung == len(rungs)-1 {
			top++
		}
	}
	if top == 0 {
		t.Fatal("no genome reached the top rung")
	}
	best := gs[run.Best-1]
	if best.Rung != len(rungs)-1 {
		t.Fatalf("best genome %d at rung %d: the run's result must be fully trained", best.ID, best.Rung)
	}
	f, err := st.Final(run.ID)
	lost := weightsMayBeLost && f.WeightsSize == 0 && strings.Contains(f.WeightsLost, "lost with the NATS server's store")
	if err != nil || f.GenomeID != best.ID || len(f.Epochs) != rungs[len(rungs)-1] || f.WeightsSize == 0 && !lost {
		t.Fatalf("final of genome %d with %d epochs and %d bytes of weights (lost: %q), %v: want genome %d, %d epochs and weights", f.GenomeID, len(f.Epochs), f.WeightsSize, f.WeightsLost, err, best.ID, rungs[len(rungs)-1])
	}
	if lost {
		t.Logf("the final's weights: %s", f.WeightsLost)
	}
	for _, bucket := range []string{bus.BucketCheckpoints, bus.BucketWeights} {
		left, err := conn.ListObjects(context.Background(), bucket)
		if err != nil {
			t.Fatal(err)
		}
		if len(left) != 0 {
			t.Errorf("objects left in %s: %v", bucket, left)
		}
	}
	if run.CheckpointPeak == 0 {
		t.Error("no checkpoint peak recorded")
	}
	return gs
}

// doneGenomes returns the genomes of run, which must be done.
func doneGenomes(t *testing.T, st *store.Store, run gahpo.Run) []gahpo.GenomeRecord {
	t.Helper()
	if run.Status != gahpo.RunDone {
		t.Fatalf("run %s (%s), want done", run.Status, run.Error)
	}
	gs, err := st.Genomes(run.ID, -1)
	if err != nil {
		t.Fatal(err)
	}
	return gs
}

func TestHalvingRegressionRun(t *testing.T) {
	if testing.Short() {
		t.Skip("a cluster run of a few tens of seconds: -short")
	}
	for _, breeding := range []string{gahpo.BreedingSteadyState, gahpo.BreedingGenerational} {
		t.Run(breeding, func(t *testing.T) {
			srv := testnats.Start(t)
			startWorkers(t, srv, 2, problems.NewTrainer())
			st := openStore(t, filepath.Join(t.TempDir(), "h.db"))
			defer st.Close()
			conn := testnats.Connect(t, srv, "coord")
			rc := halvingConfig(6, 3, 3, breeding)
			if breeding == gahpo.BreedingGenerational {
				// As a run stored before BudgetGene: the epochs gene is
				// bred, and inert.
				rc.BudgetGene = ""
			}
			run := runToEnd(t, context.Background(), st, conn, rc)
			gs := checkHalving(t, st, conn, run)
			// A promoted genome trained on from its checkpoint: its
			// curve has no gap and its last point is its fitness.
			for _, g := range gs {
				if g.Rung > 0 && g.Status == gahpo.GenomeDone {
					last := g.Curve[len(g.Curve)-1]
					if last.Epoch != g.Epochs || math.Abs(float64(last.Metrics["val_loss"])-float64(g.Fitness)) > 1e-12 {
						t.Errorf("genome %d: last epoch %d val_loss %v, fitness %v", g.ID, last.Epoch, last.Metrics["val_loss"], g.Fitness)
					}
					for i, e := range g.Curve {
						if e.Epoch != i+1 {
							t.Fatalf("genome %d: curve point %d is epoch %d", g.ID, i, e.Epoch)
						}
					}
				}
			}
		})
	}
}

// halvingLine is what must not change when a coordinator is killed.
type halvingLine struct {
	ID          int
	Params      map[string]float64
	Status      gahpo.GenomeStatus
	Rung        int
	RungFitness []gahpo.Float
	DuplicateOf int
	Parents     []int
	Replicates  []string // seed, status and fitness of each confirmation training
}

func halvingHistory(t *testing.T, st *store.Store, run string) []halvingLine {
	t.Helper()
	gs, err := st.Genomes(run, -1)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]halvingLine, len(gs))
	for i, g := range gs {
		out[i] = halvingLine{g.ID, g.Params, g.Status, g.Rung, g.RungFitness, g.DuplicateOf, g.Parents, nil}
		for _, rep := range g.Replicates {
			out[i].Replicates = append(out[i].Replicates, fmt.Sprintf("%d %s %v", rep.Seed, rep.Status, rep.Fitness))
		}
	}
	return out
}

// TestHalvingCoordinatorKilledEndsLikeUninterruptedRun kills the
// coordinator of a steady-state halving run three times. With one worker,
// results arrive in the order tasks were published, so the asynchronous
// decisions (promotions, breeding) are the same: the history must be the
// uninterrupted run's, bit for bit.
func TestHalvingCoordinatorKilledEndsLikeUninterruptedRun(t *testing.T) {
	if testing.Short() {
		t.Skip("two cluster runs: -short")
	}
	rc := halvingConfig(5, 3, 8, gahpo.BreedingSteadyState)
	rc.InFlight = 2
	killedEndsLikeUninterrupted(t, rc, false, func(t *testing.T, st *store.Store, conn *bus.Conn, run gahpo.Run) {
		checkHalving(t, st, conn, run)
	})
}

// TestHalvingNATSStoreLostEndsLikeUninterruptedRun kills the coordinator
// of a halving run three times and resumes it each time on a new NATS
// server, as when the server's store directory was deleted: the
// checkpoints, queued tasks and waiting results are gone. The genomes that
// would go on from a lost checkpoint train from scratch, which gives what
// training on would, so the history is the uninterrupted run's.
func TestHalvingNATSStoreLostEndsLikeUninterruptedRun(t *testing.T) {
	if testing.Short() {
		t.Skip("two cluster runs: -short")
	}
	rc := halvingConfig(5, 3, 8, gahpo.BreedingSteadyState)
	rc.InFlight = 2
	killedEndsLikeUninterrupted(t, rc, true, func(t *testing.T, st *store.Store, conn *bus.Conn, run gahpo.Run) {
		// In the restarted run, the weights of a genome that reached the
		// top rung before a server was replaced are lost with it: the
		// run's best is trained again from scratch for its model, and
		// that training's figures are the search's. (With one worker the
		// run's order is fixed: its best, genome 9, reaches the top rung
		// before the last restart; before, the run failed on "final
		// weights: object not found", then ended without a model.)
		checkHalvingWeights(t, st, conn, run, false)
		f, err := st.Final(run.ID)
		if err != nil {
			t.Fatal(err)
		}
		if run.Restarts > 0 && (!f.Retrained || f.WeightsSize == 0 || f.WeightsLost != "") {
			t.Errorf("final: weights %d bytes, retrained %v, lost %q; want them trained again, the run's best having reached the top rung before the last restart", f.WeightsSize, f.Retrained, f.WeightsLost)
		}
		best, err := st.Genome(run.ID, run.Best)
		var search []gahpo.EpochMetrics
		for _, e := range best.Curve {
			search = append(search, e.Fixed())
		}
		if err != nil || fmt.Sprint(untimed(f.Epochs)) != fmt.Sprint(untimed(search)) {
			t.Errorf("final's epochs %v, the search's training %v (%v): training again from scratch gives what the search measured", f.Epochs, search, err)
		}
	})
}

// untimed returns es without their durations: a training again takes its
// own time.
func untimed(es []gahpo.EpochMetrics) []gahpo.EpochMetrics {
	out := slices.Clone(es)
	for i := range out {
		out[i].Duration = 0
	}
	return out
}

// killedEndsLikeUninterrupted runs rc once through, then again with its
// coordinator killed three times, after a quarter, half and three
// quarters of the first run's results (one worker each: results arrive in
// the order tasks were published); both runs must pass check, and their
// histories must be the same, bit for bit. With newServer, each restart
// is on a NATS server of its own, with a worker of its own: nothing the
// server held survives.
func killedEndsLikeUninterrupted(t *testing.T, rc gahpo.RunConfig, newServer bool, check func(*testing.T, *store.Store, *bus.Conn, gahpo.Run)) {
	t.Helper()
	srvA := testnats.Start(t)
	startWorkers(t, srvA, 1, noopTrainer{})
	stA := openStore(t, filepath.Join(t.TempDir(), "a.db"))
	defer stA.Close()
	connA := testnats.Connect(t, srvA, "coord")
	runA := runToEnd(t, context.Background(), stA, connA, rc)
	check(t, stA, connA, runA)
	want := halvingHistory(t, stA, runA.ID)
	gsA, err := stA.Genomes(runA.ID, -1)
	if err != nil {
		t.Fatal(err)
	}
	total := resultsIn(gsA)
	t.Logf("%d results in the uninterrupted run", total)

	srvB := testnats.Start(t)
	startWorkers(t, srvB, 1, noopTrainer{})
	pathB := filepath.Join(t.TempDir(), "b.db")
	var runB gahpo.Run
	for attempt := 0; ; attempt++ {
		if newServer && attempt > 0 {
			srvB.Shutdown()
			srvB = testnats.Start(t)
			startWorkers(t, srvB, 1, noopTrainer{})
		}
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
		if attempt < 3 {
			go func() {
				for ctx.Err() == nil {
					gs, _ := st.Genomes(c.RunID(), -1)
					if resultsIn(gs) >= max(1, total*(attempt+1)/4) {
						cancel()
						return
					}
					time.Sleep(2 * time.Millisecond)
				}
			}()
		}
		run, err := c.Run(ctx)
		cancel()
		conn.Close() // abrupt, as a killed process
		st.Close()
		if err == nil {
			runB = run
			break
		}
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("run: %v", err)
		}
		if attempt > 6 {
			t.Fatal("run did not finish after restarts")
		}
	}
	stB := openStore(t, pathB)
	defer stB.Close()
	check(t, stB, testnats.Connect(t, srvB, "check"), runB)
	if runB.Restarts < 1 {
		t.Errorf("restarted %d times, want at least 1", runB.Restarts)
	}
	if got := halvingHistory(t, stB, runB.ID); !reflect.DeepEqual(got, want) {
		for i := range min(len(got), len(want)) {
			if !reflect.DeepEqual(got[i], want[i]) {
				t.Errorf("first difference at genome %d:\n got %+v\nwant %+v", i+1, got[i], want[i])
				break
			}
		}
		t.Fatalf("the killed run's history differs from the uninterrupted one")
	}
}

// resultsIn counts the results recorded in gs: a genome's at each rung,
// and its confirmation trainings'.
func resultsIn(gs []gahpo.GenomeRecord) int {
	n := 0
	for _, g := range gs {
		n += len(g.RungFitness)
		for _, rep := range g.Replicates {
			if rep.Status != gahpo.GenomeQueued {
				n++
			}
		}
	}
	return n
}

// dyingTrainer kills its worker the first time it is given a task of a
// promoted genome (rung ≥ 1): the worker's connection closes mid-training,
// with no result and no acknowledgement, as when its process is killed -9.
type dyingTrainer struct {
	conn *bus.Conn
	died chan gahpo.Task
}

func (d dyingTrainer) Train(ctx context.Context, job models.Job) (models.Outcome, error) {
	if job.Task.Rung >= 1 {
		select {
		case d.died <- job.Task:
			d.conn.Close()
			<-ctx.Done()
			return models.Outcome{}, ctx.Err()
		default:
		}
	}
	return noopTrainer{}.Train(ctx, job)
}

// TestHalvingWorkerKilledMidRung kills a worker while it trains a promoted
// genome on from its checkpoint: the task comes back after its lease, the
// other worker trains it on from the same checkpoint, and the run ends with
// every genome recorded once and that genome's figures what an unbroken
// training gives.
func TestHalvingWorkerKilledMidRung(t *testing.T) {
	if testing.Short() {
		t.Skip("a cluster run with a lost lease: -short")
	}
	srv := testnats.Start(t)
	rc := halvingConfig(5, 3, 4, gahpo.BreedingSteadyState)
	rc.AckWait = 2 * time.Second
	doomedConn := testnats.Connect(t, srv, "doomed")
	died := make(chan gahpo.Task, 1)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	doomed := worker.New(doomedConn, dyingTrainer{conn: doomedConn, died: died}, worker.Config{Name: "doomed", Poll: 500 * time.Millisecond, Logger: quiet})
	go func() { _ = doomed.Run(ctx) }()
	st := openStore(t, filepath.Join(t.TempDir(), "h.db"))
	defer st.Close()
	conn := testnats.Connect(t, srv, "coord")
	_, wait := background(t, st, conn, rc)
	var lost gahpo.Task
	select {
	case lost = <-died:
	case <-time.After(runTimeout):
		t.Fatal("no promoted genome reached the doomed worker")
	}
	startWorkers(t, srv, 1, noopTrainer{})
	run := wait()
	gs := checkHalving(t, st, conn, run)
	g := gs[lost.GenomeID-1]
	// The doomed worker sent no result: one at the lost rung is the
	// redelivered task's, its second attempt (the record keeps the attempts
	// of its last rung: of a later one if it was promoted again).
	if len(g.RungFitness) <= lost.Rung || (len(g.RungFitness) == lost.Rung+1 && g.Attempts < 2) {
		t.Fatalf("genome %d lost at rung %d: attempts %d, rung results %v; want it trained again", g.ID, lost.Rung, g.Attempts, g.RungFitness)
	}
	// noopTrainer's curve is known: loss = Σ params + 1/epoch. The
	// redelivered task went on from the checkpoint (it refuses one that is
	// not where the task says), so the curve has every epoch once.
	if len(g.Curve) != g.Epochs {
		t.Errorf("genome %d: %d curve points for %d epochs", g.ID, len(g.Curve), g.Epochs)
	}
}

// checkConfirmed asserts a finished run that confirmed its top genomes:
// confirmTop genomes of the top rung (all of them when fewer) with confirmSeeds-1 replicates done
// each, the run's result the one with the lowest mean over its trainings.
func checkConfirmed(t *testing.T, st *store.Store, run gahpo.Run, gs []gahpo.GenomeRecord) {
	t.Helper()
	rc := run.Config
	top := len(rc.RungEpochs()) - 1
	confirmed, atTop, best, bestMean := 0, 0, 0, math.Inf(1)
	for _, g := range gs {
		if g.DuplicateOf == 0 && g.Status == gahpo.GenomeDone && g.Rung == top {
			atTop++
		}
		if len(g.Replicates) == 0 {
			continue
		}
		confirmed++
		if g.Rung != top || len(g.Replicates) != rc.ConfirmSeeds-1 || g.ConfirmedFitness == nil {
			t.Fatalf("genome %d confirmed at rung %d with %d replicates, confirmed fitness %v", g.ID, g.Rung, len(g.Replicates), g.ConfirmedFitness)
		}
		sum := float64(g.RungFitness[top])
		for k, rep := range g.Replicates {
			if rep.Status != gahpo.GenomeDone || len(rep.Curve) != rc.MaxEpochs || rep.Seed == g.Seed {
				t.Fatalf("genome %d replicate %d: %s, %d epochs, seed %d (the genome's %d)", g.ID, k+1, rep.Status, len(rep.Curve), rep.Seed, g.Seed)
			}
			sum += float64(rep.Fitness)
		}
		if mean := sum / float64(rc.ConfirmSeeds); mean < bestMean {
			best, bestMean = g.ID, mean
		}
	}
	if want := min(rc.ConfirmTop, atTop); confirmed != want {
		t.Fatalf("%d genomes confirmed, want %d (%d at the top rung)", confirmed, want, atTop)
	}
	f, err := st.Final(run.ID)
	if err != nil {
		t.Fatal(err)
	}
	if run.Best != best || f.GenomeID != best || f.Seeds != rc.ConfirmSeeds || f.ConfirmedFitness == nil || math.Abs(float64(*f.ConfirmedFitness)-bestMean) > 1e-12 {
		t.Fatalf("the run chose genome %d (final: genome %d, %d seeds, mean %v); the lowest mean over %d seeds is genome %d's, %v",
			run.Best, f.GenomeID, f.Seeds, f.ConfirmedFitness, rc.ConfirmSeeds, best, bestMean)
	}
}

// TestHalvingConfirmedRegressionRun: a halving search that confirms its two
// best genomes on three seeds, with real workers training the regression
// net: each replicate trains from scratch with a seed of its own and the
// run chooses on the mean.
func TestHalvingConfirmedRegressionRun(t *testing.T) {
	if testing.Short() {
		t.Skip("a cluster run of a few tens of seconds: -short")
	}
	srv := testnats.Start(t)
	startWorkers(t, srv, 2, problems.NewTrainer())
	st := openStore(t, filepath.Join(t.TempDir(), "h.db"))
	defer st.Close()
	conn := testnats.Connect(t, srv, "coord")
	rc := halvingConfig(6, 2, 3, gahpo.BreedingSteadyState)
	rc.ConfirmSeeds, rc.ConfirmTop = 3, 2
	c, err := coordinator.New(st, conn, coordinator.Config{Run: rc, Problem: problemFor, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	run, err := c.Run(ctx)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	gs := checkHalving(t, st, conn, run)
	checkConfirmed(t, st, run, gs)
	// The status ranks on the confirmation: its best is the run's choice,
	// over its three trainings.
	if b := c.Status().Best; b == nil || b.GenomeID != run.Best || b.Seeds != 3 || b.ConfirmedFitness == nil {
		t.Errorf("the status's best: %+v, want genome %d over 3 trainings", b, run.Best)
	}
	// The run, as stored and in the status, says why breeding stopped and
	// what it spent, the confirmation included.
	stored, err := st.Run(run.ID)
	if err != nil {
		t.Fatal(err)
	}
	spent := search.EpochsSpent(rc.RungEpochs(), gs)
	if status := c.Status(); stored.StoppedBy != gahpo.StopGenerations || stored.EpochsSpent != spent || status.EpochsSpent != spent ||
		status.StoppedBy != gahpo.StopGenerations {
		t.Errorf("stored: stopped by %q, %d epochs spent; status: %q, %d; want %q, %d", stored.StoppedBy, stored.EpochsSpent,
			status.StoppedBy, status.EpochsSpent, gahpo.StopGenerations, spent)
	}
	// A run stored before it recorded what it spent is counted from its
	// genomes by query runs.
	old := stored
	old.EpochsSpent = 0
	if err := st.Commit(run.ID, store.Change{Run: &old}); err != nil {
		t.Fatal(err)
	}
	if runs, err := (coordinator.Queries{Store: st}).Runs(); err != nil || len(runs) != 1 || runs[0].EpochsSpent != spent {
		t.Errorf("query runs of a run stored without epochs_spent: %+v, %v; want %d spent", runs, err, spent)
	}
	differ := false
	for _, g := range gs {
		for _, rep := range g.Replicates {
			differ = differ || rep.Fitness != g.RungFitness[len(g.RungFitness)-1]
		}
	}
	if !differ {
		t.Error("every replicate has its genome's first fitness: the seeds changed nothing")
	}
}

func TestHalvingConfirmedCoordinatorKilledEndsLikeUninterruptedRun(t *testing.T) {
	if testing.Short() {
		t.Skip("two cluster runs: -short")
	}
	rc := halvingConfig(5, 2, 8, gahpo.BreedingSteadyState)
	// Eight replicates of the one genome at the top rung are a third of
	// the results: the last kill comes while they train.
	rc.InFlight, rc.ConfirmSeeds, rc.ConfirmTop = 2, 9, 2
	killedEndsLikeUninterrupted(t, rc, false, func(t *testing.T, st *store.Store, conn *bus.Conn, run gahpo.Run) {
		checkConfirmed(t, st, run, checkHalving(t, st, conn, run))
	})
}

// holdingTrainer is noopTrainer, except that a confirmation training
// reports its first epoch, then waits for release.
type holdingTrainer struct{ release chan struct{} }

func (h holdingTrainer) Train(ctx context.Context, job models.Job) (models.Outcome, error) {
	if job.Task.Replicate > 0 {
		job.OnEpoch(gahpo.EpochReport{Epoch: 1, Metrics: map[string]gahpo.Float{"val_loss": gahpo.Float(job.Task.Replicate)}})
		select {
		case <-h.release:
		case <-ctx.Done():
			return models.Outcome{}, ctx.Err()
		}
	}
	return noopTrainer{}.Train(ctx, job)
}

// TestStatusShowsEachConfirmationTraining: the confirmation trainings of
// one genome run at once on two workers; the status holds both (they were
// one, under the genome's id), and the genome's curve is one training's,
// not the two interleaved.
func TestStatusShowsEachConfirmationTraining(t *testing.T) {
	if testing.Short() {
		t.Skip("a cluster run: -short")
	}
	srv := testnats.Start(t)
	h := holdingTrainer{release: make(chan struct{})}
	startWorkers(t, srv, 2, h)
	st := openStore(t, filepath.Join(t.TempDir(), "h.db"))
	defer st.Close()
	conn := testnats.Connect(t, srv, "coord")
	rc := halvingConfig(4, 1, 3, gahpo.BreedingSteadyState)
	rc.ConfirmSeeds, rc.ConfirmTop = 3, 1
	c, err := coordinator.New(st, conn, coordinator.Config{Run: rc, Problem: problemFor, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout)
	defer cancel()
	done := make(chan error, 1)
	go func() { _, err := c.Run(ctx); done <- err }()

	var s gahpo.Status
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(50 * time.Millisecond) {
		s = c.Status()
		if len(s.Holders) == 2 && len(s.Curves) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("never two confirmation trainings under way: %+v", s)
		}
	}
	a, b := s.Holders[0], s.Holders[1]
	if a.GenomeID != b.GenomeID || a.Replicate != 1 || b.Replicate != 2 || a.Worker == b.Worker || s.InFlight != 2 || s.Queued != 0 {
		t.Errorf("holders %+v, in flight %d, queued %d: want replicates 1 and 2 of one genome on two workers", s.Holders, s.InFlight, s.Queued)
	}
	if c := s.Curves[a.GenomeID]; len(c) != 1 {
		t.Errorf("genome %d's curve %+v: want one training's first epoch", a.GenomeID, c)
	}
	close(h.release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
