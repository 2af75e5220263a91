package coordinator

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"sync"
	"time"

	"github.com/gahpo/gahpo"
	"github.com/gahpo/gahpo/bus"
	"github.com/gahpo/gahpo/ga"
	"github.com/gahpo/gahpo/store"
)

// Problem is what the coordinator needs of a problem.
type Problem struct {
	// Space is the GA's search space.
	Space *ga.Space
	// DataFiles are uploaded to the object store for remote workers.
	DataFiles []string
}

// Config configures a coordinator.
type Config struct {
	// Run is the configuration of a new run; a resumed run keeps its own.
	Run gahpo.RunConfig
	// Problem resolves a problem name (the run's config names it).
	Problem func(name string) (Problem, error)
	// RunID resumes that run; empty resumes the latest unfinished run
	// unless NewRun is set.
	RunID string
	// NewRun starts a new run even when the file has an unfinished one.
	NewRun bool
	// Version is reported by the service, in SemVer form (default 0.0.0).
	Version string
	// Progress, when set, receives a line per finished generation and,
	// with ProgressBar, a bar redrawn in place (for a terminal).
	Progress    io.Writer
	ProgressBar bool
	// Logger (default slog.Default()).
	Logger *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Coordinator runs one search.
type Coordinator struct {
	cfg   Config
	id    string          // the run's id, fixed once opened
	rc    gahpo.RunConfig // the run's configuration, fixed once opened
	store *store.Store
	conn  *bus.Conn
	log   *slog.Logger
	space *ga.Space
	files []string

	mu       sync.Mutex
	engine   *ga.Engine
	run      gahpo.Run
	data     []gahpo.DataRef
	holders  map[int]gahpo.Holder
	final    []gahpo.EpochMetrics
	genStart time.Time
	evalTime time.Duration // summed durations of trained genomes
	evalN    int
	progress *progress
}

// ErrRunFinished is returned by New when asked to resume a finished run.
var ErrRunFinished = errors.New("coordinator: run already finished")

// New opens or resumes a run in st. It does not talk to NATS yet.
func New(st *store.Store, conn *bus.Conn, cfg Config) (*Coordinator, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Version == "" {
		cfg.Version = "0.0.0"
	}
	c := &Coordinator{cfg: cfg, store: st, conn: conn, holders: map[int]gahpo.Holder{}}
	if err := c.open(); err != nil {
		return nil, err
	}
	c.log = cfg.Logger.With("subsystem", "coordinator", "run", c.id)
	if cfg.Progress != nil {
		c.progress = newProgress(cfg.Progress, cfg.ProgressBar)
	}
	return c, nil
}

// RunID is the id of the coordinated run.
func (c *Coordinator) RunID() string { return c.id }

func (c *Coordinator) open() error {
	id := c.cfg.RunID
	if id == "" && !c.cfg.NewRun {
		runs, err := c.store.Runs()
		if err != nil {
			return fmt.Errorf("coordinator: list runs: %w", err)
		}
		for i := len(runs) - 1; i >= 0; i-- {
			if runs[i].Status == gahpo.RunRunning || runs[i].Status == gahpo.RunFinal {
				id = runs[i].ID
				break
			}
		}
	}
	if id != "" {
		return c.resume(id)
	}
	return c.create()
}

func (c *Coordinator) problem(name string) error {
	p, err := c.cfg.Problem(name)
	if err != nil {
		return fmt.Errorf("coordinator: %w", err)
	}
	c.space, c.files = p.Space, p.DataFiles
	return nil
}

func newRunID(now time.Time) string {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return now.UTC().Format("20060102-150405") + "-" + hex.EncodeToString(b)
}

func (c *Coordinator) create() error {
	rc := c.cfg.Run
	if err := rc.Validate(); err != nil {
		return err
	}
	if err := c.problem(rc.Problem); err != nil {
		return err
	}
	eng, err := ga.New(c.space, rc.GA)
	if err != nil {
		return fmt.Errorf("coordinator: %w", err)
	}
	now := c.cfg.Now()
	c.engine, c.id, c.rc = eng, newRunID(now), rc
	c.run = gahpo.Run{ID: c.id, Config: rc, Params: c.space.Names(), Status: gahpo.RunRunning, Started: now}
	state, err := eng.MarshalJSON()
	if err != nil {
		return fmt.Errorf("coordinator: checkpoint: %w", err)
	}
	if err := c.store.CreateRun(c.run, state, c.records(eng.Current(), nil)); err != nil {
		return fmt.Errorf("coordinator: %w", err)
	}
	c.genStart = now
	return nil
}

func (c *Coordinator) resume(id string) error {
	run, err := c.store.Run(id)
	if err != nil {
		return fmt.Errorf("coordinator: resume: %w", err)
	}
	if run.Status != gahpo.RunRunning && run.Status != gahpo.RunFinal {
		return fmt.Errorf("%w: %s is %s", ErrRunFinished, id, run.Status)
	}
	if err := c.problem(run.Config.Problem); err != nil {
		return err
	}
	state, err := c.store.Engine(id)
	if err != nil {
		return fmt.Errorf("coordinator: resume: %w", err)
	}
	eng, err := ga.Restore(c.space, state)
	if err != nil {
		return fmt.Errorf("coordinator: resume %s: %w", id, err)
	}
	// The checkpoint is taken when a generation starts: replay the results
	// stored since. Breeding does not depend on the order of results, and
	// the last result of a generation is stored with the next checkpoint,
	// so replay never completes a generation.
	if run.Status == gahpo.RunRunning {
		gs, err := c.store.Genomes(id, eng.Generation())
		if err != nil {
			return fmt.Errorf("coordinator: resume %s: %w", id, err)
		}
		for _, g := range gs {
			if g.Status != gahpo.GenomeDone && g.Status != gahpo.GenomeFailed {
				continue
			}
			if _, ok := eng.Fitness(g.ID); ok {
				continue
			}
			advanced, err := eng.Tell(g.ID, float64(g.Fitness))
			if err != nil {
				return fmt.Errorf("coordinator: resume %s: replay genome %d: %w", id, g.ID, err)
			}
			if advanced {
				return fmt.Errorf("coordinator: resume %s: replaying genome %d unexpectedly completed generation %d", id, g.ID, g.Generation)
			}
		}
	}
	run.Restarts++
	if err := c.store.Commit(id, store.Change{Run: &run}); err != nil {
		return fmt.Errorf("coordinator: resume: %w", err)
	}
	c.engine, c.run, c.id, c.rc, c.genStart = eng, run, id, run.Config, c.cfg.Now()
	c.cfg.Logger.Info("resuming run", "run", id, "generation", eng.Generation(), "pending", len(eng.Pending()), "status", run.Status, "restarts", run.Restarts)
	return nil
}

// record builds the stored form of a genome, with its fitness when known.
func (c *Coordinator) record(g ga.Genome, pending []gahpo.GenomeRecord) gahpo.GenomeRecord {
	r := gahpo.GenomeRecord{
		ID: g.ID, Generation: g.Generation, Params: c.space.ToMap(g.Genes), Genes: g.Genes,
		Parents: g.Parents, Ops: g.Ops, DuplicateOf: g.DuplicateOf,
		Seed: ga.TrainSeed(c.run.Config.GA.Seed, g.ID), Status: gahpo.GenomeQueued,
		Fitness: gahpo.Float(math.NaN()),
	}
	if g.DuplicateOf != 0 {
		if f, ok := c.engine.Fitness(g.ID); ok {
			r.Status, r.Fitness = gahpo.GenomeDuplicate, gahpo.Float(f)
			if math.IsInf(f, 1) || math.IsNaN(f) {
				r.Failure = fmt.Sprintf("duplicate of failed genome %d", g.DuplicateOf)
			}
			r.Accuracy = c.accuracy(g.DuplicateOf, pending)
		}
	}
	return r
}

// accuracy is the accuracy of genome id: from pending, the records of the
// change being built (newest first), else from the store.
func (c *Coordinator) accuracy(id int, pending []gahpo.GenomeRecord) float64 {
	for i := len(pending) - 1; i >= 0; i-- {
		if pending[i].ID == id {
			return pending[i].Accuracy
		}
	}
	if orig, err := c.store.Genome(c.id, id); err == nil {
		return orig.Accuracy
	}
	return 0
}

func (c *Coordinator) records(gs []ga.Genome, pending []gahpo.GenomeRecord) []gahpo.GenomeRecord {
	out := make([]gahpo.GenomeRecord, len(gs))
	for i, g := range gs {
		out[i] = c.record(g, pending)
	}
	return out
}

// Run coordinates until the run is done or ctx ends. The run record is
// returned in both cases; a cancelled run stays resumable.
func (c *Coordinator) Run(ctx context.Context) (gahpo.Run, error) {
	rc := c.run.Config
	if err := c.conn.EnsureStreams(ctx, rc.AckWait); err != nil {
		return c.run, err
	}
	for _, f := range c.files {
		ref, err := c.conn.PutFile(ctx, bus.BucketData, f)
		if err != nil {
			return c.run, fmt.Errorf("coordinator: upload data: %w", err)
		}
		c.data = append(c.data, ref)
	}
	if len(c.files) > 0 {
		c.log.Info("data set in the object store", "bucket", bus.BucketData, "files", len(c.files))
	}
	stopSvc, err := c.conn.Serve(ctx, c.id, c.cfg.Version, c.endpoints())
	if err != nil {
		return c.run, err
	}
	defer func() { _ = stopSvc() }()
	stopEvents, err := c.conn.SubscribeEvents(c.id, c.onEvent)
	if err != nil {
		return c.run, err
	}
	defer stopEvents()
	feed, err := c.conn.Results(ctx, c.id, rc.AckWait)
	if err != nil {
		return c.run, err
	}
	defer feed.Stop()

	if err := c.publishOutstanding(ctx, false); err != nil {
		return c.run, err
	}
	c.log.Info("run started", "problem", rc.Problem, "population", rc.GA.Population, "generations", rc.GA.Generations, "seed", rc.GA.Seed)

	done := make(chan struct{})
	defer close(done)
	go func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		watch := time.NewTicker(max(rc.AckWait, 5*time.Second))
		defer watch.Stop()
		for {
			select {
			case <-ctx.Done():
				feed.Stop()
				return
			case <-done:
				return
			case <-t.C:
				c.drawProgress()
			case <-watch.C:
				// A task can be lost: published just before a crash that
				// lost the record of it, or held back on resume by a result
				// that turned out to be malformed. Queue it again.
				if err := c.publishOutstanding(ctx, true); err != nil && ctx.Err() == nil {
					c.log.Warn("checking for lost tasks", "err", err)
				}
			}
		}
	}()
	for !c.finished() {
		d, err := feed.Next()
		if err != nil {
			if ctx.Err() != nil {
				c.log.Info("stopping; the run can be resumed", "generation", c.engine.Generation())
				return c.snapshot(), ctx.Err()
			}
			return c.snapshot(), fmt.Errorf("coordinator: %w", err)
		}
		if err := c.handle(ctx, d); err != nil {
			_ = d.Nak(time.Second)
			return c.snapshot(), err
		}
	}
	c.drawProgress()
	if c.progress != nil {
		c.progress.finish()
	}
	if err := c.conn.DeleteResults(context.WithoutCancel(ctx), c.id); err != nil {
		c.log.Warn("cleanup", "err", err)
	}
	return c.snapshot(), nil
}

func (c *Coordinator) snapshot() gahpo.Run {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.run
}

func (c *Coordinator) finished() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.run.Status != gahpo.RunRunning && c.run.Status != gahpo.RunFinal
}

// publishOutstanding queues every pending genome (or the final task) whose
// task is not in the queue already and whose result is not waiting: after a
// restart, tasks published before the crash are still there, results that
// came meanwhile wait in their stream, and only the tasks lost in between
// are queued again.
func (c *Coordinator) publishOutstanding(ctx context.Context, watchdog bool) error {
	c.mu.Lock()
	status := c.run.Status
	pending := c.engine.Pending()
	c.mu.Unlock()
	switch status {
	case gahpo.RunRunning:
		for _, g := range pending {
			queued, err := c.outstanding(ctx, g.ID)
			if err != nil {
				return err
			}
			if !queued && c.stillPending(g.ID) {
				if watchdog {
					c.log.Warn("queueing again a genome whose task was lost", "genome", g.ID)
				}
				if err := c.conn.PublishTask(ctx, c.task(g)); err != nil {
					return err
				}
			}
		}
	case gahpo.RunFinal:
		queued, err := c.outstanding(ctx, 0)
		if err != nil {
			return err
		}
		if !queued && c.snapshot().Status == gahpo.RunFinal {
			return c.publishFinal(ctx)
		}
	}
	return nil
}

func (c *Coordinator) stillPending(id int) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.run.Status != gahpo.RunRunning {
		return false
	}
	_, known := c.engine.Fitness(id)
	_, current := c.engine.Genome(id)
	return current && !known
}

// outstanding tells whether a genome's task (0: the final training) is
// still queued or held by a worker, or its result waits to be read.
func (c *Coordinator) outstanding(ctx context.Context, genome int) (bool, error) {
	queued, err := c.conn.TaskQueued(ctx, c.id, genome)
	if err != nil || queued {
		return queued, err
	}
	return c.conn.ResultWaiting(ctx, c.id, genome)
}

func (c *Coordinator) task(g ga.Genome) gahpo.Task {
	rc := c.rc
	return gahpo.Task{
		V: gahpo.MessageVersion, Kind: gahpo.KindFitness, RunID: c.id, GenomeID: g.ID, Generation: g.Generation,
		Problem: rc.Problem, Params: c.space.ToMap(g.Genes), Seed: ga.TrainSeed(rc.GA.Seed, g.ID),
		DataSeed: rc.GA.Seed | 1<<63 /* never 0, which means "none" */, TrainSubset: rc.TrainSubset, OnTest: rc.FitnessOnTest, MaxAttempts: rc.MaxAttempts, Data: c.data,
	}
}

func (c *Coordinator) publishFinal(ctx context.Context) error {
	rec, err := c.store.Genome(c.id, c.snapshot().Best)
	if err != nil {
		return fmt.Errorf("coordinator: best genome: %w", err)
	}
	t := gahpo.Task{
		V: gahpo.MessageVersion, Kind: gahpo.KindFinal, RunID: c.id, GenomeID: rec.ID, Generation: rec.Generation,
		Problem: c.rc.Problem, Params: rec.Params, Seed: rec.Seed, Epochs: c.rc.FinalEpochs,
		TrainSubset: c.rc.FinalSubset,
		MaxAttempts: c.rc.MaxAttempts, Data: c.data, WeightsTo: bus.BucketWeights,
	}
	c.log.Info("dispatching the final training", "genome", rec.ID, "fitness", float64(rec.Fitness), "epochs", t.Epochs)
	return c.conn.PublishTask(ctx, t)
}

func (c *Coordinator) onEvent(data []byte) {
	var e gahpo.Started
	if err := gahpo.Decode(data, &e); err != nil || e.RunID != c.id {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e.Epoch != nil {
		if n := len(c.final); n == 0 || c.final[n-1].Epoch < e.Epoch.Epoch {
			c.final = append(c.final, *e.Epoch)
			if c.progress != nil {
				c.progress.finalEpoch(*e.Epoch)
			}
		}
		return
	}
	c.holders[e.GenomeID] = gahpo.Holder{GenomeID: e.GenomeID, Worker: e.Worker, Attempt: e.Attempt, Since: e.At}
}
