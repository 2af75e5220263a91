package coordinator

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/gahpo/gahpo"
	"github.com/gahpo/gahpo/bus"
	"github.com/gahpo/gahpo/ga"
	"github.com/gahpo/gahpo/search"
	"github.com/gahpo/gahpo/store"
)

// Problem is what the coordinator needs of a problem.
type Problem struct {
	// Space is the GA's search space.
	Space *ga.Space
	// DataFiles are uploaded to the object store for remote workers.
	DataFiles []string
	// FitnessMin and FitnessMax bound the fitness the problem can produce
	// (both 0: no bound); a result outside fails its genome.
	FitnessMin, FitnessMax float64
	// Digest identifies a problem declared in a file (workers must hold
	// the same file); empty for a built-in problem.
	Digest string
	// Objective and Maximize name a problem file's metric and its goal
	// (gahpo.RunConfig's, stored with a new run for its views).
	Objective string
	Maximize  bool
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
	// Batch is the most results stored in one transaction (default 256):
	// results that arrive together are committed together, then
	// acknowledged.
	Batch int
	// Logger (default slog.Default()).
	Logger *slog.Logger
	// Serving, when set, is called once, when the coordinator first
	// answers on the bus (gahpo status, queries), before it takes results.
	Serving func()
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Coordinator runs one search.
type Coordinator struct {
	cfg     Config
	id      string          // the run's id, fixed once opened
	rc      gahpo.RunConfig // the run's configuration, fixed once opened
	store   *store.Store
	conn    *bus.Conn
	log     *slog.Logger
	problem Problem

	mu      sync.Mutex // guards what Status reads: the machine and the fields below
	machine *search.Machine
	data    []gahpo.DataRef
	holders map[training]gahpo.Holder
	final   []gahpo.EpochMetrics
	// finalObjective is the run's objective (a problem file's metric) at
	// the epochs of final whose report holds it, by epoch.
	finalObjective map[int]gahpo.Float
	reports        map[training]*liveCurve // epochs of the trainings under way
	genStart       time.Time
	evalTime       time.Duration // summed durations of trained genomes
	evalN          int
	// evalEpochs is the epochs of the trainings of evalTime.
	evalEpochs int
	printed    map[int]bool // generations whose summary was printed
	// proxyWarned holds, for each rung the log last called low, the
	// Spearman value it gave (proxyAlerts).
	proxyWarned map[int]float64
	// stopLogged is the Run.StoppedBy last logged; confirmLogged tells
	// whether the confirmation's start was.
	stopLogged    string
	confirmLogged bool
	progress      *progress
	// fault is the last fault a worker reported that it cannot get past
	// (a result it cannot publish), since when, and the last result
	// stored: a fault that lasts with no result stored ends the run.
	fault      string
	faultSince time.Time
	lastResult time.Time
	resumed    bool       // the run was resumed: its checkpoints may be gone
	restart    *gahpo.Run // a resumed run's record, stored once the run is this coordinator's
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
	if cfg.Batch <= 0 {
		cfg.Batch = 256
	}
	c := &Coordinator{cfg: cfg, store: st, conn: conn, holders: map[training]gahpo.Holder{}, reports: map[training]*liveCurve{}, printed: map[int]bool{},
		proxyWarned: map[int]float64{}}
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

// loadProblem resolves the problem of a run with configuration rc and
// returns the run's space: the problem's, without rc.BudgetGene.
func (c *Coordinator) loadProblem(rc gahpo.RunConfig) (*ga.Space, error) {
	p, err := c.cfg.Problem(rc.Problem)
	if err != nil {
		return nil, fmt.Errorf("coordinator: %w", err)
	}
	c.problem = p
	if rc.BudgetGene == "" {
		return p.Space, nil
	}
	s, err := p.Space.Without(rc.BudgetGene)
	if err != nil {
		return nil, fmt.Errorf("coordinator: the run's budget gene: %w", err)
	}
	return s, nil
}

func newRunID(now time.Time) string {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return now.UTC().Format("20060102-150405") + "-" + hex.EncodeToString(b)
}

func newSecret() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func (c *Coordinator) machineConfig(run gahpo.Run) search.Config {
	return search.Config{
		Run: run, Secret: run.Secret, FitnessMin: c.problem.FitnessMin, FitnessMax: c.problem.FitnessMax,
		CheckpointBucket: bus.BucketCheckpoints, WeightsBucket: bus.BucketWeights,
	}
}

func (c *Coordinator) create() error {
	rc := c.cfg.Run
	if err := rc.Validate(); err != nil {
		return err
	}
	space, err := c.loadProblem(rc)
	if err != nil {
		return err
	}
	rc.ProblemDigest = c.problem.Digest
	rc.Objective, rc.Maximize = c.problem.Objective, c.problem.Maximize
	now := c.cfg.Now()
	c.id, c.rc = newRunID(now), rc
	run := gahpo.Run{ID: c.id, Config: rc, Params: space.Names(), Space: space.Params, Status: gahpo.RunRunning, Started: now, Secret: newSecret()}
	m, err := search.New(c.machineConfig(run), space)
	if err != nil {
		return fmt.Errorf("coordinator: %w", err)
	}
	rd := m.Ready() // its tasks are published by Run, from Outstanding
	if rd.Run != nil {
		run = *rd.Run // with what the first breeding decided (epochs spent, a budget already reached)
	}
	if err := c.store.CreateRun(run, rd.Engine, rd.Genomes); err != nil {
		return fmt.Errorf("coordinator: %w", err)
	}
	c.machine, c.genStart = m, now
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
	space, err := c.loadProblem(run.Config)
	if err != nil {
		return err
	}
	if c.problem.Digest != run.Config.ProblemDigest {
		return fmt.Errorf("coordinator: resume %s: its problem file has changed (digest %.12s, the run was started with %.12s): restore the file, or start another run with --new", id, c.problem.Digest, run.Config.ProblemDigest)
	}
	var engine []byte
	if !run.Config.MultiFidelity() && !run.Config.SteadyState() {
		if engine, err = c.store.Engine(id); err != nil {
			return fmt.Errorf("coordinator: resume: %w", err)
		}
	}
	recs, err := c.store.Genomes(id, -1)
	if err != nil {
		return fmt.Errorf("coordinator: resume: %w", err)
	}
	run.Restarts++
	m, err := search.Restore(c.machineConfig(run), space, engine, recs)
	if err != nil {
		return fmt.Errorf("coordinator: resume %s: %w", id, err)
	}
	c.machine, c.id, c.rc, c.genStart, c.resumed = m, id, run.Config, c.cfg.Now(), true
	c.restart = &run
	c.timeStored(recs)
	return nil
}

// timeStored counts, for the ETA, the fitness trainings a resumed run
// timed before its restart, as each result that ends in this process is
// (handle): without them a resumed run had no ETA until one of its own
// ended. A multi-fidelity run's records time each rung apart (and a
// genome's curve spans its rungs): it waits for trainings of its own.
func (c *Coordinator) timeStored(recs []gahpo.GenomeRecord) {
	if c.rc.MultiFidelity() {
		return
	}
	for _, r := range recs {
		if r.DuplicateOf != 0 || r.Status != gahpo.GenomeDone || r.Failure != "" || r.Duration <= 0 {
			continue
		}
		c.evalTime += r.Duration
		c.evalN++
		c.evalEpochs += fitnessEpochs(gahpo.Result{Curve: r.Curve, EpochsDone: r.Epochs}, c.rc)
	}
}

// recordRestart stores the resumed run's restart count and says so, once
// the run is this coordinator's (a coordinator refused because another
// runs it leaves the history as it found it).
func (c *Coordinator) recordRestart() error {
	run := c.restart
	if run == nil {
		return nil
	}
	if err := c.store.Commit(c.id, store.Change{Run: run}); err != nil {
		return fmt.Errorf("coordinator: resume: %w", err)
	}
	c.restart = nil
	c.cfg.Logger.Info("resuming run", "run", c.id, "genomes", len(c.machine.Records()), "outstanding", len(c.machine.Outstanding()), "status", run.Status, "restarts", run.Restarts)
	if m := c.machine.Run(); m.StoppedBy == gahpo.StopFailures && m.Status == gahpo.RunRunning {
		// Its failures reach the --max-failures it resumes with: stopped
		// by the restore itself (search.Restore), before any result.
		c.stopLogged = m.StoppedBy
		c.cfg.Logger.Warn("the run's failures stop it: nothing more is bred; it ends failed once the trainings under way are back",
			"under_way", len(c.machine.Outstanding()), "why", search.FailuresError(c.rc, c.machine.Records()))
	}
	return nil
}

// Run coordinates until the run is done or ctx ends. The run record is
// returned in both cases; a cancelled run stays resumable.
func (c *Coordinator) Run(ctx context.Context) (gahpo.Run, error) {
	rc := c.rc
	if c.progress != nil {
		// Whatever ends the run (ctx, an error), the bar's line ends, so
		// that what the command prints next starts a line of its own.
		defer c.progress.finish()
	}
	feed, stop, err := c.openBus(ctx)
	if err != nil {
		return c.snapshot(), err
	}
	defer stop()
	defer func() { feed.Stop() }() // the last one reopenBus made
	if err := c.recordRestart(); err != nil {
		return c.snapshot(), err
	}
	if c.resumed {
		c.checkCheckpoints(ctx)
		c.sweepChunks(ctx)
	}
	if err := c.publishOutstanding(ctx, false); err != nil {
		return c.snapshot(), err
	}
	c.log.Info("run started", "problem", rc.Problem, "population", rc.GA.Population, "generations", rc.GA.Generations,
		"seed", rc.GA.Seed, "fidelity", cmp.Or(rc.Fidelity, gahpo.FidelityOneEpoch), "breeding", cmp.Or(rc.Breeding, gahpo.BreedingGenerational))
	for {
		err := c.loop(ctx, feed)
		var lost *feedLost
		if err == nil {
			break
		}
		if !errors.As(err, &lost) {
			return c.snapshot(), err
		}
		next, err := c.reopenBus(ctx, lost.err)
		if err != nil {
			return c.snapshot(), err
		}
		feed = next
	}
	c.drawProgress()
	if c.progress != nil {
		c.progress.finish()
	}
	c.cleanup(context.WithoutCancel(ctx))
	return c.snapshot(), nil
}

// openBus readies the bus for the run: the streams, the data files in the
// object store, the service endpoints, the events and the results feed;
// stop closes what it opened.
func (c *Coordinator) openBus(ctx context.Context) (feed *bus.ResultFeed, stop func(), err error) {
	// Answer as the run's coordinator before any slow step (the data
	// upload), then look again: of two coordinators of one run started at
	// once, at least one sees the other after both answer, and stops
	// before it takes the results (which would end the other).
	if err := c.alone(ctx); err != nil {
		return nil, nil, err
	}
	stopSvc, err := c.conn.Serve(ctx, c.id, c.cfg.Version, c.endpoints())
	if err != nil {
		return nil, nil, err
	}
	if err := c.stillAlone(ctx); err != nil {
		_ = stopSvc()
		return nil, nil, err
	}
	if c.cfg.Serving != nil {
		c.cfg.Serving()
	}
	if err := c.conn.EnsureStreams(ctx, c.rc.AckWait); err != nil {
		_ = stopSvc()
		return nil, nil, err
	}
	for _, f := range c.problem.DataFiles {
		// Under its content's digest (another run's file of its name is
		// another object), marked as this run's until it ends.
		ref, err := c.conn.PutRunData(ctx, f, c.id)
		if err != nil {
			_ = stopSvc()
			return nil, nil, fmt.Errorf("coordinator: upload data: %w", err)
		}
		c.data = append(c.data, ref)
	}
	if len(c.data) > 0 {
		objects := make([]string, len(c.data))
		for i, ref := range c.data {
			objects[i] = ref.Name
		}
		c.log.Info("data set in the object store", "bucket", bus.BucketData, "files", len(c.data), "objects", objects)
	}
	stopEvents, err := c.conn.SubscribeEvents(c.id, c.onEvent)
	if err != nil {
		_ = stopSvc()
		return nil, nil, err
	}
	feed, err = c.conn.Results(ctx, c.id, c.rc.AckWait)
	if err != nil {
		stopEvents()
		_ = stopSvc()
		return nil, nil, err
	}
	return feed, func() { stopEvents(); _ = stopSvc() }, nil // Run stops the feed, which it may replace
}

// feedLost is the error of a results feed that stopped, or of a task
// stream found missing, while the run went on: the NATS server came back
// without them (its store lost, emptied or replaced), or someone deleted
// them.
type feedLost struct{ err error }

func (e *feedLost) Error() string { return "coordinator: " + e.err.Error() }
func (e *feedLost) Unwrap() error { return e.err }

// reopenBus sets the bus up again after the results feed stopped, or the
// task stream went, with cause, most likely because the NATS server lost
// its store: the streams,
// the buckets and the data set are made again, the checkpoints gone are
// trained from scratch, the tasks lost are queued again, and a new feed
// delivers the results that wait. While the server is out of reach, it
// tries again with a backoff of up to 30 s, saying so each time, until ctx
// ends; another error (the connection closed for good, a permission the
// coordinator's user lacks) ends the run, which stays resumable.
func (c *Coordinator) reopenBus(ctx context.Context, cause error) (*bus.ResultFeed, error) {
	c.log.Warn("the task queue or the results feed is gone: setting the streams up again and queueing the lost tasks (was the NATS server's store lost?)", "err", cause)
	delay := time.Second
	for {
		feed, err := c.resetBus(ctx)
		switch {
		case err == nil:
			c.log.Info("streams set up again; the run goes on")
			return feed, nil
		case ctx.Err() != nil:
			c.log.Info("stopping; the run can be resumed")
			return nil, ctx.Err()
		case !c.conn.Unavailable(err):
			return nil, fmt.Errorf("coordinator: set the streams up again after %w: %w (the run can be resumed)", cause, err)
		}
		c.log.Warn("cannot set the streams up again; retrying", "err", err, "in", delay)
		select {
		case <-ctx.Done():
			c.log.Info("stopping; the run can be resumed")
			return nil, ctx.Err()
		case <-time.After(delay):
		}
		delay = min(2*delay, 30*time.Second)
	}
}

// resetBus is one attempt of reopenBus.
func (c *Coordinator) resetBus(ctx context.Context) (*bus.ResultFeed, error) {
	if err := c.conn.EnsureStreams(ctx, c.rc.AckWait); err != nil {
		return nil, err
	}
	for _, f := range c.problem.DataFiles {
		if _, err := c.conn.PutRunData(ctx, f, c.id); err != nil {
			return nil, fmt.Errorf("coordinator: upload data: %w", err)
		}
	}
	c.checkCheckpoints(ctx)
	feed, err := c.conn.Results(ctx, c.id, c.rc.AckWait)
	if err != nil {
		return nil, err
	}
	if err := c.publishOutstanding(ctx, true); err != nil {
		feed.Stop()
		return nil, err
	}
	return feed, nil
}

// alone refuses to resume a run whose coordinator answers on NATS: a
// second one, from a copy of the history file or a service started twice,
// would publish the run's tasks again and take its results, so that each
// history misses what the other recorded. A new run's id is its own. Only
// an answer refuses: a coordinator that was killed, or whose machine was
// cut off, answers nothing (the query times out while the server keeps its
// dead connection), and the run goes on, with a warning.
func (c *Coordinator) alone(ctx context.Context) error {
	if !c.resumed {
		return nil
	}
	qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var status json.RawMessage
	err := c.conn.Query(qctx, c.id, EndpointStatus, nil, &status)
	var qe *bus.QueryError
	switch {
	case errors.Is(err, bus.ErrNoService):
		return nil
	case err == nil || errors.As(err, &qe):
		return fmt.Errorf("coordinator: run %s already has a coordinator answering on NATS (another process resumed it, maybe from a copy of its history file): "+
			"stop that one first (Ctrl-C or SIGTERM keeps the run resumable), or start another run with --new", c.id)
	case ctx.Err() != nil:
		return ctx.Err()
	default:
		c.log.Warn("cannot tell whether another coordinator runs this run", "run", c.id, "err", err)
		return nil
	}
}

// stillAlone is alone once this coordinator answers: a resumed run with
// another coordinator answering (one that started at the same time and
// passed alone too) is refused. Both may be refused; a service that
// restarts tries again. A discovery that fails is logged, and the run goes
// on.
func (c *Coordinator) stillAlone(ctx context.Context) error {
	if !c.resumed {
		return nil
	}
	svcs, err := c.conn.Discover(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		c.log.Warn("cannot tell whether another coordinator runs this run", "run", c.id, "err", err)
		return nil
	}
	n := 0
	for _, s := range svcs {
		if s.RunID == c.id {
			n++
		}
	}
	if n > 1 {
		return fmt.Errorf("coordinator: run %s has %d coordinators answering on NATS, started at the same time (another process resumed it, maybe from a copy of its history file): "+
			"this one stops; run one only (Ctrl-C or SIGTERM keeps the run resumable), or start another run with --new", c.id, n)
	}
	return nil
}

// loop takes results from feed until the run is finished, ctx ends or
// something fails: one goroutine reads the feed and this one decides and
// stores, so the machine has a single owner and the results that wait are
// committed together.
func (c *Coordinator) loop(ctx context.Context, feed *bus.ResultFeed) error {
	feedCh := make(chan next, c.cfg.Batch)
	readerDone, quit := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(readerDone)
		for {
			d, err := feed.Next()
			select {
			case feedCh <- next{d, err}:
			case <-ctx.Done():
				return
			case <-quit: // the run is done with the channel full
				return
			}
			if err != nil {
				return
			}
		}
	}()
	defer func() { close(quit); feed.Stop(); <-readerDone }()
	feedErr := func(err error) error {
		if ctx.Err() != nil {
			c.log.Info("stopping; the run can be resumed")
			return ctx.Err()
		}
		return &feedLost{err}
	}

	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	watch := time.NewTicker(max(c.rc.AckWait, 5*time.Second))
	defer watch.Stop()
	for !c.finished() {
		select {
		case <-ctx.Done():
			c.log.Info("stopping; the run can be resumed")
			return ctx.Err()
		case <-tick.C:
			c.drawProgress()
			if err := c.stalled(); err != nil {
				return err
			}
		case <-watch.C:
			// A task can be lost: published just before a crash that lost
			// the record of it, or held back on resume by a result that
			// turned out to be refused. Queue it again.
			err := c.publishOutstanding(ctx, true)
			switch {
			case err == nil || ctx.Err() != nil:
			case bus.IsStreamMissing(err):
				return &feedLost{err} // the server lost the queue: the feed went with it
			default:
				c.log.Warn("checking for lost tasks", "err", err)
			}
		case n := <-feedCh:
			if n.err != nil {
				return feedErr(n.err)
			}
			batch, after := gather(n.d, feedCh, c.cfg.Batch)
			if err := c.step(ctx, batch); err != nil {
				return err
			}
			if after != nil && !c.finished() {
				return feedErr(after) // else the run is done: its clean-up follows
			}
		}
	}
	return nil
}

// next is what the feed's reader passes on: a delivery or, as its last
// word, the error that stopped it.
type next struct {
	d   *bus.Delivery
	err error
}

// gather takes first and the deliveries already waiting on ch behind it, up
// to limit in all, without waiting for more: the results that arrive
// together are decided and committed in one step. An error read among them
// (the reader's last word) is returned as after, for the loop to end with
// once the batch before it is stored; nothing is read past it.
func gather(first *bus.Delivery, ch <-chan next, limit int) (batch []*bus.Delivery, after error) {
	batch = []*bus.Delivery{first}
	for len(batch) < limit {
		select {
		case n := <-ch:
			if n.err != nil {
				return batch, n.err
			}
			batch = append(batch, n.d)
		default:
			return batch, nil
		}
	}
	return batch, nil
}

// cleanup removes the finished run's results and tasks from the streams
// and its checkpoints and weights from the object store, and releases its
// data set (deleted when no other run uses it); what fails is logged.
func (c *Coordinator) cleanup(ctx context.Context) {
	if err := c.conn.DeleteResults(ctx, c.id); err != nil {
		c.log.Warn("cleanup", "err", err)
	}
	if err := c.conn.PurgeTasks(ctx, c.id); err != nil {
		c.log.Warn("cleanup", "err", err)
	}
	if err := c.conn.PurgeResults(ctx, c.id); err != nil {
		c.log.Warn("cleanup", "err", err)
	}
	c.sweep(ctx, bus.BucketCheckpoints)
	c.sweep(ctx, bus.BucketWeights)
	if n, err := c.conn.ReleaseData(ctx, c.id); err != nil {
		c.log.Warn("cleanup: releasing the data set", "err", err)
	} else if n > 0 {
		c.log.Info("data set deleted from the object store: no other run uses it", "objects", n)
	}
	c.sweepChunks(ctx)
}

// chunkAge is how old the last chunk of an upload without its object must
// be before sweepChunks takes it for one cut off: far longer than any
// upload of a checkpoint or of weights takes.
const chunkAge = 10 * time.Minute

// sweepChunks removes the chunks of uploads cut off half-way (a worker
// killed while it stored a checkpoint or weights, a store that filled up)
// from the buckets the workers write, whichever run they were for: no
// object holds them, and a worker may not purge them.
func (c *Coordinator) sweepChunks(ctx context.Context) {
	for _, bucket := range []string{bus.BucketCheckpoints, bus.BucketWeights} {
		uploads, chunks, err := c.conn.SweepChunks(ctx, bucket, chunkAge)
		switch {
		case err != nil:
			c.log.Warn("cannot sweep the chunks of cut-off uploads", "bucket", bucket, "err", err)
		case uploads > 0:
			c.log.Info("removed the chunks of uploads cut off half-way", "bucket", bucket, "uploads", uploads, "chunks", chunks)
		}
	}
}

// stalled ends the run when workers have reported for a long while that
// they cannot publish results (a full JetStream store, say) and no result
// was stored meanwhile: progress is impossible, and the user must know.
func (c *Coordinator) stalled() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fault == "" {
		return nil
	}
	if c.lastResult.After(c.faultSince) {
		c.fault = "" // results got through since: it passed
		return nil
	}
	limit := max(2*c.rc.AckWait, time.Minute)
	if c.cfg.Now().Sub(c.faultSince) < limit {
		return nil
	}
	return fmt.Errorf("coordinator: no result stored for %s while workers report: %s (the run can be resumed once that is fixed)", limit, c.fault)
}

func (c *Coordinator) snapshot() gahpo.Run {
	c.mu.Lock()
	defer c.mu.Unlock()
	run := c.machine.Run()
	run.Secret = ""
	return run
}

func (c *Coordinator) finished() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.machine.Done()
}

// publishOutstanding queues every outstanding task that is not in the
// queue already and whose result is not waiting: after a restart, tasks
// published before the crash are still there, results that came meanwhile
// wait in their stream, and only the tasks lost in between are queued
// again. A task of a new run is published for the first time; any other
// was lost (by a crash, `gahpo purge`, the NATS store) and gets a message
// id of its own, or the stream would drop it as a duplicate of the lost
// one for its duplicate window.
func (c *Coordinator) publishOutstanding(ctx context.Context, watchdog bool) error {
	c.mu.Lock()
	tasks := c.machine.Outstanding()
	c.mu.Unlock()
	publish := c.conn.PublishLostTask
	if !watchdog && !c.resumed {
		publish = c.conn.PublishTask
	}
	for _, t := range tasks {
		queued, err := c.conn.TaskWaiting(ctx, t)
		if err != nil {
			return err
		}
		if queued || !c.stillOutstanding(t) {
			continue
		}
		if watchdog {
			c.log.Warn("queueing again a task that was lost", "genome", t.GenomeID, "rung", t.Rung)
		}
		if err := publish(ctx, c.complete(t)); err != nil {
			return err
		}
	}
	return nil
}

func (c *Coordinator) stillOutstanding(t gahpo.Task) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.machine.Outstands(t)
}

// complete adds to a task what only the coordinator knows: where the data
// set is and which problem file it comes from.
func (c *Coordinator) complete(t gahpo.Task) gahpo.Task {
	t.Data, t.ProblemDigest = c.data, c.problem.Digest
	return t
}

func (c *Coordinator) onEvent(data []byte) {
	var e gahpo.Started
	if err := gahpo.Decode(data, &e); err != nil || e.RunID != c.id {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.machine.Answers(e.GenomeID, e.Replicate, e.Token) {
		// Anyone who may publish events could send it, for any genome: only
		// the trainings of tasks outstanding are shown, and a fault of one
		// alone can end the run (stalled). A worker of a version before
		// events carried the token goes unseen in the status; its results
		// count as ever.
		if e.Problem != "" {
			c.log.Warn("ignoring a fault reported for no task outstanding", "worker", e.Worker, "genome", e.GenomeID, "problem", e.Problem)
		}
		return
	}
	if e.Epoch != nil {
		c.onFinalEpoch(*e.Epoch, e.Report)
		return
	}
	k := training{e.GenomeID, e.Replicate}
	if e.Report != nil {
		curve := c.reports[k]
		if curve == nil {
			curve = &liveCurve{}
			c.reports[k] = curve
		}
		curve.add(*e.Report, maxLiveReports)
		return
	}
	if e.Problem != "" {
		if c.fault == "" {
			c.faultSince = c.cfg.Now()
			c.log.Warn("a worker cannot get past a fault", "worker", e.Worker, "genome", e.GenomeID, "problem", e.Problem)
		}
		c.fault = e.Worker + ": " + e.Problem
		return
	}
	c.holders[k] = gahpo.Holder{GenomeID: e.GenomeID, Replicate: e.Replicate, Worker: e.Worker, Attempt: e.Attempt, Since: e.At}
}

// onFinalEpoch keeps an epoch of the final training (a one-epoch run's)
// that a worker reported, in the fixed form and, when its report holds
// the run's objective, the objective's value; an epoch reported again
// (another attempt's) is not kept twice. c.mu is held.
func (c *Coordinator) onFinalEpoch(e gahpo.EpochMetrics, rep *gahpo.EpochReport) {
	if n := len(c.final); n > 0 && c.final[n-1].Epoch >= e.Epoch {
		return
	}
	c.final = append(c.final, e)
	if v, ok := objectiveOf(rep, c.rc.Objective); ok {
		if c.finalObjective == nil {
			c.finalObjective = map[int]gahpo.Float{}
		}
		c.finalObjective[e.Epoch] = v
	}
	if c.progress != nil {
		c.progress.finalEpoch(e, rep, c.rc.Objective)
	}
}

// maxLiveReports bounds the epochs kept of one training under way for the
// status's learning curves: a trainer that reports every batch as an epoch
// would otherwise grow the coordinator's memory, and the status past what
// a NATS message carries.
const maxLiveReports = 1000

// liveCurve is the learning curve of a training under way, kept within a
// bound: every stride-th report from the first, and the newest. When the
// kept ones pass the bound, every second goes and the stride doubles, so
// that the curve keeps its whole length, evenly spaced, at half the detail.
type liveCurve struct {
	kept   []gahpo.EpochReport
	newest *gahpo.EpochReport // the newest report, when it is not kept
	stride int
	seen   int
}

// add adds the next report r, keeping at most max (≥ 1) of them and the
// newest.
func (c *liveCurve) add(r gahpo.EpochReport, max int) {
	if c.stride == 0 {
		c.stride = 1
	}
	c.seen++
	if (c.seen-1)%c.stride != 0 {
		c.newest = &r
		return
	}
	c.newest = nil
	c.kept = append(c.kept, r)
	if len(c.kept) > max {
		n := 0
		for i := 0; i < len(c.kept); i += 2 {
			c.kept[n] = c.kept[i]
			n++
		}
		clear(c.kept[n:])
		c.kept = c.kept[:n]
		c.stride *= 2
		if (c.seen-1)%c.stride != 0 {
			c.newest = &r // thinned away, still the newest
		}
	}
}

// reports returns the curve: the kept reports, then the newest.
func (c *liveCurve) reports() []gahpo.EpochReport {
	out := slices.Clone(c.kept)
	if c.newest != nil {
		out = append(out, *c.newest)
	}
	return out
}

// training names one training of a genome: its own (replicate 0) or one
// of its confirmation trainings, which run at once on several workers.
type training struct{ genome, replicate int }

// checkCheckpoints tells the machine which checkpoints of a resumed run are
// gone from the object store (its NATS server's files were lost or
// replaced): their genomes train from scratch again instead of failing on
// a checkpoint no worker can fetch. A failure to list is logged, and the
// run goes on as if every checkpoint were there.
func (c *Coordinator) checkCheckpoints(ctx context.Context) {
	if have, err := c.objects(ctx, bus.BucketCheckpoints); err != nil {
		c.log.Warn("cannot list the checkpoints to check them", "err", err)
	} else {
		c.mu.Lock()
		lost := c.machine.CheckpointsLost(func(name string) bool { return have[name] })
		rd := c.machine.Ready() // the epochs spent: those trained again from scratch
		c.mu.Unlock()
		if len(lost) > 0 {
			c.log.Warn("checkpoints of this run are gone from the object store (was the NATS server's store lost?): their genomes train from scratch again",
				"checkpoints", len(lost), "first", lost[0])
		}
		if err := c.commit(ctx, rd); err != nil {
			c.log.Warn("cannot store the epochs spent after the checkpoints were lost; the next result stores them", "err", err)
		}
	}
	// The weights of genomes trained to the top rung: if the run's result
	// is one of those lost, it is trained again for its model.
	have, err := c.objects(ctx, bus.BucketWeights)
	if err != nil {
		c.log.Warn("cannot list the weights to check them", "err", err)
		return
	}
	c.mu.Lock()
	gone := c.machine.WeightsLost(func(name string) bool { return have[name] })
	c.mu.Unlock()
	if len(gone) > 0 {
		c.log.Warn("the weights of genomes trained to the top rung are gone from the object store: if the run's result is one of them, it is trained again from scratch for its model",
			"genomes", gone)
	}
}

// objects returns the names of the objects in bucket, as a set.
func (c *Coordinator) objects(ctx context.Context, bucket string) (map[string]bool, error) {
	names, err := c.conn.ListObjects(ctx, bucket)
	if err != nil {
		return nil, err
	}
	have := make(map[string]bool, len(names))
	for _, n := range names {
		have[n] = true
	}
	return have, nil
}

// sweep deletes what is left of the run's objects in bucket: checkpoints
// a coordinator decided to delete just before it was killed, those of
// results it refused or dropped as stale, and the weights of every genome
// trained to the top rung (the final's are in the history by now).
func (c *Coordinator) sweep(ctx context.Context, bucket string) {
	if _, err := c.conn.DeleteRunObjects(ctx, bucket, c.id); err != nil {
		c.log.Warn("deleting the run's objects", "bucket", bucket, "err", err)
	}
}
