package search

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/gahpo/gahpo"
	"github.com/gahpo/gahpo/ga"
)

// Space is what the machine needs of a problem's search space.
type Space interface {
	ga.Problem
	Names() []string
	ToMap(genes []float64) map[string]float64
}

// Config is what a machine needs besides the run's own configuration.
type Config struct {
	// Run is the run's record; its Config decides everything.
	Run gahpo.Run
	// Secret keys the tokens of the run's tasks (kept with the run, never
	// sent): a result must carry the token of a task the machine issued.
	Secret string
	// FitnessMin and FitnessMax bound what the problem can produce (a
	// negative NLL cannot be): a result outside fails its genome with the
	// reason. Zero values: no bound (both 0 mean none).
	FitnessMin, FitnessMax float64
	// CheckpointBucket and WeightsBucket name the object store buckets for
	// checkpoints kept between rungs and for trained models.
	CheckpointBucket, WeightsBucket string
	// Problem, ProblemDigest, TrainSubset etc. are copied into tasks from
	// Run.Config.
}

// Errors of Result and Final. A refused result changes nothing.
var (
	// ErrRefused is returned (wrapped, with the reason) for a result that
	// answers no task the machine issued: another run, an unknown genome, a
	// wrong rung or token. The coordinator drops it.
	ErrRefused = errors.New("search: result refused")
	// ErrStale is returned for a result the machine already has (a
	// redelivery): dropping it is expected, not suspicious.
	ErrStale = errors.New("search: result already recorded")
)

// Ready is what the machine decided since the last Ready: store Run,
// Engine, Genomes, Summaries and Final in one transaction; then publish
// Publish and delete Delete from the object store.
type Ready struct {
	Run       *gahpo.Run
	Engine    []byte
	Genomes   []gahpo.GenomeRecord
	Summaries []gahpo.GenerationSummary
	// Final, when set, is the run's final training; its weights are the
	// object FinalWeights names (the coordinator fetches and stores them).
	Final        *gahpo.FinalTraining
	FinalWeights *gahpo.ObjectRef
	Publish      []gahpo.Task
	Delete       []gahpo.ObjectRef
}

// Empty reports whether there is nothing to do.
func (r Ready) Empty() bool {
	return r.Run == nil && r.Engine == nil && len(r.Genomes) == 0 && len(r.Summaries) == 0 && r.Final == nil &&
		len(r.Publish) == 0 && len(r.Delete) == 0
}

// Machine decides a run. It is not safe for concurrent use: one goroutine
// (the coordinator's loop) feeds it.
type Machine struct {
	cfg    Config
	rc     gahpo.RunConfig
	run    gahpo.Run
	space  Space
	rungs  []int // epochs of each rung
	engine *ga.Engine
	pool   *ga.Pool
	recs   []gahpo.GenomeRecord // recs[id-1]
	final  bool                 // the final task is outstanding (finalTask)
	ckpt   uint64               // bytes of kept checkpoints
	issued int                  // tasks issued so far (GenomeRecord.Issued)
	now    time.Time            // the time of the last result (TimeBudget)

	ready      Ready
	runChanged bool
	changed    map[int]bool // genome ids whose record changed since Ready
	gens       map[int]bool // generations whose summary must be rewritten
	// open holds the genomes queued or in training (the records' status,
	// brought up to date from changed when read): counting them must not
	// walk the whole history on every result.
	open map[int]bool
	// orders[k] is rankAtRung(recs, k), kept as results come in (a
	// genome's result at a rung never changes): promotion reads it on
	// every result.
	orders [][]int
	// lost holds the checkpoints the records name that are gone from the
	// object store (CheckpointsLost): tasks train from scratch instead.
	lost map[string]bool
	// lostWeights holds the top-rung weights the records name that are
	// gone (WeightsLost): the run's best is trained again for its model.
	lostWeights map[string]bool
	// failures counts the genomes failed for a cause other than their own
	// divergence, and worked tells whether any result was not such a
	// failure (failures.go): a stop for failures reads them on every
	// result.
	failures int
	worked   bool
	// resumeFailures and resumeWorked are the same of the trainings that
	// went on from a checkpoint (resumption, resumeStop).
	resumeFailures int
	resumeWorked   bool
}

// New starts a new run: its first genomes are bred and their tasks are in
// the first Ready.
func New(cfg Config, space Space) (*Machine, error) {
	m, err := newMachine(cfg, space)
	if err != nil {
		return nil, err
	}
	if m.generationalEngine() {
		eng, err := ga.New(space, m.rc.GA)
		if err != nil {
			return nil, fmt.Errorf("search: %w", err)
		}
		m.engine = eng
		for _, g := range eng.Current() {
			m.addGenome(g)
		}
		m.publishPending()
		if err := m.checkpointEngine(); err != nil {
			return nil, err
		}
	} else {
		pool, err := ga.NewPool(space, m.rc.GA)
		if err != nil {
			return nil, fmt.Errorf("search: %w", err)
		}
		if m.rc.Breeding == gahpo.BreedingRandom {
			pool.RandomSearch()
		}
		m.pool = pool
		if err := m.breed(); err != nil {
			return nil, err
		}
	}
	m.touchRun()
	return m, nil
}

func newMachine(cfg Config, space Space) (*Machine, error) {
	if space == nil {
		return nil, errors.New("search: no space")
	}
	rc := cfg.Run.Config
	if err := rc.Validate(); err != nil {
		return nil, fmt.Errorf("search: %w", err)
	}
	if _, ok := space.(perturber); rc.PBT() && !ok {
		return nil, errors.New("search: population based training needs a space that perturbs genes (ga.Space does)")
	}
	m := &Machine{cfg: cfg, rc: rc, run: cfg.Run, space: space, rungs: rc.RungEpochs(), changed: map[int]bool{}, gens: map[int]bool{},
		open: map[int]bool{}}
	return m, nil
}

// generationalEngine tells whether the run is the paper's: ga.Engine, one
// epoch, a generation barrier and a final training.
func (m *Machine) generationalEngine() bool { return !m.rc.MultiFidelity() && !m.rc.SteadyState() }

// Restore rebuilds the machine of a stored run from its genome records (in
// id order) and, for a generational one-epoch run, the engine's checkpoint.
// Tasks outstanding when the run stopped are in Outstanding, not in Ready.
func Restore(cfg Config, space Space, engine []byte, recs []gahpo.GenomeRecord) (*Machine, error) {
	m, err := newMachine(cfg, space)
	if err != nil {
		return nil, err
	}
	for i, r := range recs {
		if r.ID != i+1 {
			return nil, fmt.Errorf("search: restore: genome %d found where %d belongs", r.ID, i+1)
		}
	}
	m.recs = slices.Clone(recs)
	rungs := len(m.rungs)
	for _, r := range m.recs {
		rungs = max(rungs, len(r.RungFitness))
	}
	for k := range rungs {
		m.orders = append(m.orders, rankAtRung(m.recs, k))
	}
	seen := map[string]bool{}
	for _, r := range m.recs {
		if isOpen(r) {
			m.open[r.ID] = true
		}
		if r.Checkpoint != nil && !seen[r.Checkpoint.Name] {
			seen[r.Checkpoint.Name] = true // shared by a genome and those exploiting it
			m.ckpt += r.Checkpoint.Size
		}
		m.issued = max(m.issued, r.Issued)
		m.countResult(r)
	}
	// A run resumed with a lower --max-failures than its failures stops
	// now, before anything more is published: not at its next result.
	m.noteFailures()
	if m.generationalEngine() {
		// The engine's head is stored when a generation starts; its
		// genomes, and the fitness told since, are the records (a run
		// stored before heads existed has the whole state, whose genomes
		// are the same).
		untold := 0
		if m.Done() && m.stoppedForFailures() {
			// It failed as its last generation completed, the next one
			// never bred nor its head stored: that generation is given
			// back incomplete, as its head was stored (the engine decides
			// nothing more).
			for _, r := range m.recs {
				if r.DuplicateOf == 0 {
					untold = r.ID
				}
			}
		}
		told := make([]ga.Told, len(m.recs))
		for i, r := range m.recs {
			told[i].Genome = ga.Genome{ID: r.ID, Generation: r.Generation, Genes: r.Genes, Parents: r.Parents, Ops: r.Ops, DuplicateOf: r.DuplicateOf}
			orig := r
			if r.DuplicateOf >= 1 && r.DuplicateOf < r.ID {
				orig = m.recs[r.DuplicateOf-1] // any other is refused by the engine
			}
			if orig.ID == untold {
				continue
			}
			if orig.Status == gahpo.GenomeDone || orig.Status == gahpo.GenomeFailed {
				told[i].Fitness, told[i].Known = float64(orig.Fitness), true
			}
		}
		eng, err := ga.RestoreWith(space, engine, told)
		if err != nil {
			return nil, fmt.Errorf("search: restore: %w", err)
		}
		m.engine = eng
		m.final = m.run.Status == gahpo.RunFinal
		return m, nil
	}
	pool, err := ga.NewPool(space, m.rc.GA)
	if err != nil {
		return nil, fmt.Errorf("search: restore: %w", err)
	}
	if m.rc.Breeding == gahpo.BreedingRandom {
		pool.RandomSearch()
	}
	for _, r := range m.recs {
		if r.Exploited != 0 {
			continue // bred by PBT's exploit and explore, not by the pool
		}
		g := ga.Genome{ID: r.ID, Generation: r.Generation, Genes: r.Genes, Parents: r.Parents, Ops: r.Ops, DuplicateOf: r.DuplicateOf}
		if err := pool.Adopt(g); err != nil {
			return nil, fmt.Errorf("search: restore: %w", err)
		}
		if r.DuplicateOf == 0 && len(r.RungFitness) > 0 && !m.rc.PBT() {
			if err := pool.Score(r.ID, ga.Score{Rung: len(r.RungFitness) - 1, Fitness: float64(r.RungFitness[len(r.RungFitness)-1])}); err != nil {
				return nil, fmt.Errorf("search: restore: %w", err)
			}
		}
	}
	m.pool = pool
	m.final = m.run.Status == gahpo.RunFinal
	return m, nil
}

// Generation returns the generation being bred or evaluated: the engine's,
// or that of the newest genome of a pool.
func (m *Machine) Generation() int {
	if m.engine != nil {
		return m.engine.Generation()
	}
	if n := len(m.recs); n > 0 {
		return m.recs[n-1].Generation
	}
	return 0
}

// Run returns the run record as the machine knows it.
func (m *Machine) Run() gahpo.Run { return m.run }

// Done reports whether the run is over (done or failed).
func (m *Machine) Done() bool {
	return m.run.Status != gahpo.RunRunning && m.run.Status != gahpo.RunFinal
}

// Genome returns the record of genome id.
func (m *Machine) Genome(id int) (gahpo.GenomeRecord, bool) {
	if id < 1 || id > len(m.recs) {
		return gahpo.GenomeRecord{}, false
	}
	return m.recs[id-1], true
}

// Records returns every genome record, in id order (shared: do not modify).
func (m *Machine) Records() []gahpo.GenomeRecord { return m.recs }

// Outstanding returns the tasks that must be queued or in training now:
// after a restart, those the queue lost must be published again.
func (m *Machine) Outstanding() []gahpo.Task {
	m.syncOpen()
	var recs []gahpo.GenomeRecord
	for id := range m.open {
		recs = append(recs, m.recs[id-1])
	}
	slices.SortFunc(recs, func(a, b gahpo.GenomeRecord) int { return cmp.Or(a.Issued-b.Issued, a.ID-b.ID) })
	var out []gahpo.Task
	for _, r := range recs {
		out = append(out, m.task(r))
	}
	out = append(out, m.openReplicates()...)
	if m.final {
		out = append(out, m.finalTask())
	}
	return out
}

// HandedBack returns the outstanding task a result of kind
// gahpo.KindHandBack hands back: the one of its run, genome and replicate
// with its token. false: no such task is outstanding (answered since, or
// never issued), and nothing is to be queued again.
func (m *Machine) HandedBack(r gahpo.Result) (gahpo.Task, bool) {
	if r.Kind != gahpo.KindHandBack || r.RunID != m.run.ID || r.Token == "" {
		return gahpo.Task{}, false
	}
	for _, t := range m.Outstanding() {
		if t.Token == r.Token && t.GenomeID == r.GenomeID && t.Replicate == r.Replicate && t.Kind == r.HandBack {
			return t, true
		}
	}
	return gahpo.Task{}, false
}

// Outstands reports whether task t is still outstanding: Outstanding
// would return it.
func (m *Machine) Outstands(t gahpo.Task) bool {
	if m.final && t.Replicate == 0 && t.GenomeID == m.run.Best && t.Token == m.finalTask().Token {
		return true
	}
	if t.Kind == gahpo.KindFinal {
		return false
	}
	if t.Replicate > 0 {
		return m.replicateOutstands(t)
	}
	if t.GenomeID < 1 || t.GenomeID > len(m.recs) {
		return false
	}
	r := m.recs[t.GenomeID-1]
	return isOpen(r) && m.task(r).Token == t.Token
}

// Answers tells whether token is that of a task outstanding for genome
// (replicate 0: its own training or the final): a worker's report about a
// task must carry it.
func (m *Machine) Answers(genome, replicate int, token string) bool {
	if token == "" {
		return false
	}
	return m.Outstands(gahpo.Task{Kind: gahpo.KindFitness, GenomeID: genome, Replicate: replicate, Token: token}) ||
		m.Outstands(gahpo.Task{Kind: gahpo.KindFinal, GenomeID: genome, Token: token})
}

// isOpen tells whether r's genome is queued or in training.
func isOpen(r gahpo.GenomeRecord) bool {
	return r.Status == gahpo.GenomeQueued || r.Status == gahpo.GenomePromoted
}

// syncOpen brings open up to date with the records changed since Ready:
// every change of a record's status is among them (Ready stores only
// those).
func (m *Machine) syncOpen() {
	for id := range m.changed {
		if isOpen(m.recs[id-1]) {
			m.open[id] = true
		} else {
			delete(m.open, id)
		}
	}
}

// Ready returns what was decided since the last call and clears it.
func (m *Machine) Ready() Ready {
	m.syncOpen()
	m.ready.Genomes = slices.Grow(m.ready.Genomes, len(m.changed)) // one copy of each record, not one per doubling
	for id := range m.changed {
		m.ready.Genomes = append(m.ready.Genomes, m.recs[id-1])
	}
	slices.SortFunc(m.ready.Genomes, func(a, b gahpo.GenomeRecord) int { return a.ID - b.ID })
	gens := make([]int, 0, len(m.gens))
	for g := range m.gens {
		gens = append(gens, g)
	}
	slices.Sort(gens)
	for _, g := range gens {
		if sum, ok := m.summary(g); ok {
			m.ready.Summaries = append(m.ready.Summaries, sum)
		}
	}
	if spent := m.EpochsSpent(); spent != m.run.EpochsSpent {
		m.run.EpochsSpent = spent
		m.runChanged = true
	}
	if m.runChanged {
		run := m.run
		m.ready.Run = &run
	}
	r := m.ready
	m.ready, m.changed, m.gens, m.runChanged = Ready{}, map[int]bool{}, map[int]bool{}, false
	return r
}

// touchRun marks the run record for storing (as it is at Ready).
func (m *Machine) touchRun() { m.runChanged = true }

func (m *Machine) touch(id int) {
	m.changed[id] = true
	m.gens[m.recs[id-1].Generation] = true
}

// addGenome records a bred genome; a duplicate takes its original's
// figures, the others are queued.
func (m *Machine) addGenome(g ga.Genome) {
	r := gahpo.GenomeRecord{
		ID: g.ID, Generation: g.Generation, Params: m.space.ToMap(g.Genes), Genes: g.Genes,
		Parents: g.Parents, Ops: g.Ops, DuplicateOf: g.DuplicateOf,
		Seed: ga.TrainSeed(m.rc.GA.Seed, g.ID), Status: gahpo.GenomeQueued, Fitness: gahpo.Float(math.NaN()),
	}
	r.Choices = m.choices(r.Params)
	if m.rc.PBT() {
		r.Schedule = []gahpo.ScheduleStep{{Epoch: 1, Genome: g.ID, Params: r.Params, Choices: r.Choices}}
	}
	if g.ID != len(m.recs)+1 {
		panic(fmt.Sprintf("search: genome %d bred after %d records", g.ID, len(m.recs)))
	}
	m.recs = append(m.recs, r)
	if g.DuplicateOf != 0 {
		m.copyOriginal(g.ID)
	}
	m.touch(g.ID)
}

// choices returns the value of each choice parameter of params (nil
// without any).
func (m *Machine) choices(params map[string]float64) map[string]string {
	rd, ok := m.space.(interface {
		Readable(map[string]float64) map[string]any
	})
	if !ok {
		return nil
	}
	var out map[string]string
	for name, v := range rd.Readable(params) {
		if s, ok := v.(string); ok {
			if out == nil {
				out = map[string]string{}
			}
			out[name] = s
		}
	}
	return out
}

// copyOriginal gives duplicate id its original's figures.
func (m *Machine) copyOriginal(id int) {
	d := &m.recs[id-1]
	o := m.recs[d.DuplicateOf-1]
	d.Status = gahpo.GenomeDuplicate
	d.Fitness, d.Accuracy, d.Rung, d.Epochs = o.Fitness, o.Accuracy, o.Rung, o.Epochs
	d.RungFitness = slices.Clone(o.RungFitness)
	d.Failure = ""
	if o.Status == gahpo.GenomeFailed {
		d.Failure = fmt.Sprintf("duplicate of failed genome %d", o.ID)
	}
	if m.engine != nil {
		// The engine knows a duplicate's fitness from breeding on.
		if f, ok := m.engine.Fitness(id); ok {
			d.Fitness = gahpo.Float(f)
			if !finite(f) && d.Failure == "" {
				d.Failure = fmt.Sprintf("duplicate of failed genome %d", o.ID)
			}
		}
	}
	m.touch(id)
}

func (m *Machine) updateDuplicates(orig int) {
	for i := orig; i < len(m.recs); i++ {
		if m.recs[i].DuplicateOf == orig {
			m.copyOriginal(m.recs[i].ID)
		}
	}
}

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

// Token returns the token of genome id's task at rung (the final task is
// rung -1): a keyed digest that only the holder of the run's secret makes.
func (m *Machine) Token(id, rung int) string {
	h := sha256.Sum256([]byte(m.cfg.Secret + "\x00" + m.run.ID + "\x00" + strconv.Itoa(id) + "\x00" + strconv.Itoa(rung)))
	return hex.EncodeToString(h[:12])
}

// task builds the task of a queued or promoted genome.
func (m *Machine) task(r gahpo.GenomeRecord) gahpo.Task {
	rung := 0
	if r.Status == gahpo.GenomePromoted {
		rung = r.Rung + 1
	}
	return m.rungTask(r, rung)
}

// rungTask builds the task that trains genome r to rung (its only one in a
// one-epoch run).
func (m *Machine) rungTask(r gahpo.GenomeRecord, rung int) gahpo.Task {
	rc := m.rc
	t := gahpo.Task{
		V: gahpo.MessageVersion, Kind: gahpo.KindFitness, RunID: m.run.ID, GenomeID: r.ID, Generation: r.Generation,
		Problem: rc.Problem, Params: r.Params, Seed: r.Seed,
		DataSeed:    rc.GA.Seed | 1<<63, // never 0, which means "none"
		TrainSubset: rc.TrainSubset, OnTest: rc.FitnessOnTest, MaxAttempts: rc.MaxAttempts,
	}
	t.Token = m.Token(r.ID, rung)
	if !rc.MultiFidelity() {
		t.Epochs = rc.FitnessEpochs // 0: the trainer's one-epoch fitness
		return t
	}
	t.Rung, t.Epochs, t.MaxEpochs = rung, m.rungs[rung], m.rungs[len(m.rungs)-1]
	if rung > 0 {
		t.FromEpochs, t.Checkpoint = m.rungs[rung-1], r.Checkpoint
		t.Test = true
	}
	if r.Exploited != 0 && rung == r.Inherited {
		// The first rung of a genome that exploited another: it goes on
		// from that genome's checkpoint, trained with that genome's
		// hyperparameters.
		src := m.recs[r.Exploited-1]
		t.FromGenome, t.FromParams, t.FromSeed = src.ID, src.Params, src.Seed
	}
	if m.redone(r, rung) > 0 {
		// Its checkpoint is lost, or was dropped once the genome could
		// no longer be promoted by its rank (finish promotes it all the
		// same when those above it failed): it trains from scratch.
		t = fromScratch(t, r, m.seedOf)
	}
	if rung < len(m.rungs)-1 {
		t.CheckpointTo = m.cfg.CheckpointBucket
	} else {
		t.WeightsTo = m.cfg.WeightsBucket
	}
	return t
}

// redone is the epochs genome r's training to rung trains a second time:
// those of the checkpoint it would go on from, when that is lost or was
// dropped and it trains from scratch instead (rungTask); 0 when it goes on
// from its checkpoint or starts from scratch anyway (the first rung, a
// one-epoch run).
func (m *Machine) redone(r gahpo.GenomeRecord, rung int) int {
	if !m.rc.MultiFidelity() || rung == 0 || r.Checkpoint != nil && !m.lost[r.Checkpoint.Name] {
		return 0
	}
	return m.rungs[rung-1]
}

// finalTask is the task of the final training: the best genome's full
// training in a one-epoch run; in a halving or pbt run, whose final is the
// best genome's own training to the top rung, that training again from
// scratch when its weights were lost (retrainTask).
func (m *Machine) finalTask() gahpo.Task {
	r := m.recs[m.run.Best-1]
	if m.rc.MultiFidelity() {
		return m.retrainTask(r)
	}
	return gahpo.Task{
		V: gahpo.MessageVersion, Kind: gahpo.KindFinal, RunID: m.run.ID, GenomeID: r.ID, Generation: r.Generation,
		Problem: m.rc.Problem, Params: r.Params, Seed: r.Seed, Epochs: m.rc.FinalEpochs,
		TrainSubset: m.rc.FinalSubset, MaxAttempts: m.rc.MaxAttempts, WeightsTo: m.cfg.WeightsBucket,
		Token: m.Token(r.ID, -1),
	}
}

// publish issues the task of genome id (queued or promoted).
func (m *Machine) publish(id int) {
	m.issued++
	m.recs[id-1].Issued = m.issued
	m.touch(id)
	m.ready.Publish = append(m.ready.Publish, m.task(m.recs[id-1]))
}

// publishPending publishes the engine's pending genomes.
func (m *Machine) publishPending() {
	for _, g := range m.engine.Pending() {
		m.publish(g.ID)
	}
}

func (m *Machine) checkpointEngine() error {
	state, err := m.engine.MarshalHead()
	if err != nil {
		return fmt.Errorf("search: checkpoint: %w", err)
	}
	m.ready.Engine = state
	return nil
}

// Result takes a worker's result of a fitness task. It returns ErrRefused
// or ErrStale (wrapped, with the reason) for a result to drop, or another
// error when the machine cannot go on (breeding failed): the coordinator
// must then stop, and a restart resumes from the store.
func (m *Machine) Result(r gahpo.Result, now time.Time) error {
	if r.Replicate > 0 {
		return m.replicateResult(r, now)
	}
	if m.retraining(r) {
		return m.retrained(r, now)
	}
	if err := m.accept(r); err != nil {
		return err
	}
	m.now = now
	rec := &m.recs[r.GenomeID-1]
	rung := 0
	if rec.Status == gahpo.GenomePromoted {
		rung = rec.Rung + 1
	}
	epochs := m.rc.FitnessEpochs // 0: a one-epoch fitness is not checked
	if m.rc.MultiFidelity() {
		epochs = m.rungs[rung]
	}
	fitness, failure := m.checkFitness(r, epochs)

	// The record.
	rec.Retrained += m.redone(*rec, rung) // before its checkpoint is replaced
	old := rec.Checkpoint
	rec.Rung, rec.Fitness, rec.Failure = rung, gahpo.Float(fitness), failure
	rec.RungFitness = append(rec.RungFitness, gahpo.Float(fitness))
	m.order(rec)
	rec.RungFinished = append(rungFinished(rec), now)
	if len(rec.RungDuration) == len(rec.RungFitness)-1 && len(rec.RungWorker) == len(rec.RungFitness)-1 {
		rec.RungDuration, rec.RungWorker = append(rec.RungDuration, r.Duration), append(rec.RungWorker, r.Worker)
	}
	rec.Accuracy, rec.Worker, rec.Attempts, rec.Device = r.Accuracy, r.Worker, m.attempts(r), r.Device
	rec.Duration += r.Duration
	rec.ImagesPerSec = r.ImagesPerSec
	if len(r.Curve) > 0 {
		rec.Curve = curveUpTo(rec.Curve, r.Curve[0].Epoch) // all of it, after a lost checkpoint
	}
	rec.Curve = append(rec.Curve, r.Curve...)
	if len(r.Log) > 0 {
		rec.Log = r.Log
	}
	rec.Epochs = m.rungs[rung]
	rec.Finished = now
	rec.Status = gahpo.GenomeDone
	if failure != "" {
		rec.Status = gahpo.GenomeFailed
	}
	rec.Checkpoint = nil
	if r.Checkpoint != nil && failure == "" && rung < len(m.rungs)-1 {
		rec.Checkpoint = r.Checkpoint
		m.ckpt += r.Checkpoint.Size
		if m.ckpt > m.run.CheckpointPeak {
			m.run.CheckpointPeak = m.ckpt
			m.touchRun()
		}
	} else if r.Checkpoint != nil {
		m.ready.Delete = append(m.ready.Delete, *r.Checkpoint)
	}
	if old != nil {
		m.release(old)
	}
	if r.WeightsObject != "" {
		rec.Weights = &gahpo.ObjectRef{Bucket: r.WeightsBucket, Name: r.WeightsObject, Digest: r.WeightsDigest}
	}
	m.touch(rec.ID)
	m.updateDuplicates(rec.ID)
	m.countResult(*rec)
	m.noteFailures()

	if m.engine != nil {
		return m.tellEngine(rec.ID, fitness, now)
	}
	if m.rc.PBT() {
		for k := rung; k < len(m.rungs); k++ {
			m.gens[k] = true // this result may be the last that rung k waited for
		}
		m.exploitAndExplore()
		m.finish(now)
		return nil
	}
	if err := m.pool.Score(rec.ID, ga.Score{Rung: rung, Fitness: fitness}); err != nil {
		return fmt.Errorf("search: %w", err)
	}
	if m.rc.Halving() {
		m.promote(rung)
		m.collect(rung)
		if rung == len(m.rungs)-1 {
			m.updateProxy() // it ranks the genomes of the top rung only
		}
	}
	if err := m.breed(); err != nil {
		return err
	}
	m.finish(now)
	return nil
}

// attempts is how many deliveries of r's task trained it: the delivery
// after the last one --max-attempts allows only reports that every worker
// that took the task died or lost it.
func (m *Machine) attempts(r gahpo.Result) int {
	if n := m.rc.MaxAttempts; n > 0 && r.Attempt > n {
		return n
	}
	return r.Attempt
}

func (m *Machine) bounded() bool { return m.cfg.FitnessMin != 0 || m.cfg.FitnessMax != 0 }

// checkFitness returns a result's fitness and failure as recorded: +Inf
// with the reason for a failed training, a fitness that is not finite or
// one outside what the problem can produce, or a training to other epochs
// than the task's (when epochs is not 0 and the result says).
func (m *Machine) checkFitness(r gahpo.Result, epochs int) (float64, string) {
	fitness, failure := float64(r.Fitness), r.Failure
	switch {
	case failure != "":
		fitness = math.Inf(1)
	case !finite(fitness):
		failure = fmt.Sprintf("fitness %v", fitness)
		fitness = math.Inf(1)
	case m.bounded() && (fitness < m.cfg.FitnessMin || fitness > m.cfg.FitnessMax):
		failure = fmt.Sprintf("refused: fitness %g outside what the problem can produce [%g, %g]", fitness, m.cfg.FitnessMin, m.cfg.FitnessMax)
		fitness = math.Inf(1)
	case epochs != 0 && r.EpochsDone != 0 && r.EpochsDone != epochs:
		failure = fmt.Sprintf("refused: trained to %d epochs, the task asked for %d (GAHPO_EPOCHS: a training command trains to that epoch, counted from the genome's first, and stops)", r.EpochsDone, epochs)
		if len(r.Curve) > 0 && r.Curve[0].Epoch == 0 && r.EpochsDone == epochs-1 {
			failure = fmt.Sprintf(`refused: trained to %d epochs, the task asked for %d: its reports number the epochs from 0, and the first epoch trained is "epoch": 1, the last GAHPO_EPOCHS (a report of epoch 0 is one before training)`, r.EpochsDone, epochs)
		}
		fitness = math.Inf(1)
	}
	return fitness, failure
}

// accept checks that r answers an outstanding task of this run.
func (m *Machine) accept(r gahpo.Result) error {
	if r.RunID != m.run.ID {
		return fmt.Errorf("%w: result of run %q, this is %q", ErrRefused, r.RunID, m.run.ID)
	}
	if r.Kind != gahpo.KindFitness {
		return fmt.Errorf("%w: a %q result where a fitness was expected", ErrRefused, r.Kind)
	}
	if r.GenomeID < 1 || r.GenomeID > len(m.recs) {
		return fmt.Errorf("%w: genome %d was never bred (bred: 1 to %d)", ErrRefused, r.GenomeID, len(m.recs))
	}
	rec := m.recs[r.GenomeID-1]
	rung := 0
	switch rec.Status {
	case gahpo.GenomeQueued:
	case gahpo.GenomePromoted:
		rung = rec.Rung + 1
	default:
		if r.Token != "" && r.Token == m.Token(r.GenomeID, r.Rung) && r.Rung <= rec.Rung {
			return fmt.Errorf("%w: genome %d rung %d", ErrStale, r.GenomeID, r.Rung)
		}
		if r.Token != "" && r.Token == m.Token(r.GenomeID, -1) && m.rc.MultiFidelity() && !m.final {
			return fmt.Errorf("%w: genome %d trained again", ErrStale, r.GenomeID)
		}
		return fmt.Errorf("%w: genome %d has no task outstanding (it is %s)", ErrRefused, r.GenomeID, rec.Status)
	}
	if r.Rung != rung && m.rc.MultiFidelity() {
		if r.Rung < rung && r.Token == m.Token(r.GenomeID, r.Rung) {
			return fmt.Errorf("%w: genome %d rung %d", ErrStale, r.GenomeID, r.Rung)
		}
		return fmt.Errorf("%w: genome %d trains at rung %d, the result is for rung %d", ErrRefused, r.GenomeID, rung, r.Rung)
	}
	if r.Token != m.Token(r.GenomeID, rung) {
		return fmt.Errorf("%w: genome %d: the result does not carry the token of its task", ErrRefused, r.GenomeID)
	}
	return m.checkObjects(r)
}

// tellEngine is the paper's path: tell the generational engine and, when
// a generation completes, store and publish the next (or the final task).
func (m *Machine) tellEngine(id int, fitness float64, now time.Time) error {
	prevGen := m.engine.Generation()
	advanced, err := m.engine.Tell(id, fitness)
	if err != nil {
		return fmt.Errorf("search: tell genome %d: %w", id, err)
	}
	if m.stoppedForFailures() {
		// No generation after this one: the run ends once the genomes
		// under way are back (the generation is then complete), and the
		// engine's next generation is neither recorded nor stored.
		if advanced {
			m.gens[prevGen] = true
			m.failRun(now)
		}
		return nil
	}
	if !advanced {
		return nil
	}
	// Every generation completed by this result: usually one, more when a
	// bred generation held only known duplicates.
	for _, g := range m.engine.HistoryFrom(len(m.recs) + 1) {
		m.addGenome(g)
	}
	for gen := prevGen; gen <= m.engine.Generation(); gen++ {
		m.gens[gen] = true
	}
	if m.engine.Done() {
		best, _, ok := m.engine.Best()
		m.run.Best, m.run.StoppedBy = best.ID, gahpo.StopGenerations
		if m.rc.FinalEpochs > 0 && ok {
			m.run.Status = gahpo.RunFinal
			m.final = true
			m.ready.Publish = append(m.ready.Publish, m.finalTask())
		} else {
			m.run.Status, m.run.Ended = gahpo.RunDone, now
		}
	} else {
		m.publishPending()
	}
	m.touchRun()
	return m.checkpointEngine()
}

// finalTestLoss is a final training's test loss: its last epoch's
// "test_loss"; NaN when its epochs report none (a problem file's command
// reports its own metrics, and its fitness is the objective, negated when
// maximised: no loss); the fitness of a result without epochs (a worker
// of the first round's protocol, whose final fitness was the test loss).
func finalTestLoss(r gahpo.Result) gahpo.Float {
	if len(r.Curve) == 0 {
		return r.Fitness
	}
	if v, ok := r.Curve[len(r.Curve)-1].Metrics["test_loss"]; ok {
		return v
	}
	return gahpo.Float(math.NaN())
}

// Final takes the result of the final training (one-epoch runs).
func (m *Machine) Final(r gahpo.Result, now time.Time) error {
	switch {
	case r.RunID != m.run.ID:
		return fmt.Errorf("%w: final result of run %q, this is %q", ErrRefused, r.RunID, m.run.ID)
	case !m.final:
		return fmt.Errorf("%w: no final training is outstanding", ErrStale)
	case r.GenomeID != m.run.Best || r.Token != m.Token(r.GenomeID, -1):
		return fmt.Errorf("%w: final result of genome %d does not answer the final task (genome %d)", ErrRefused, r.GenomeID, m.run.Best)
	}
	if err := m.checkObjects(r); err != nil {
		return err
	}
	rec := m.recs[r.GenomeID-1]
	ft := gahpo.FinalTraining{
		GenomeID: r.GenomeID, Params: rec.Params, Choices: rec.Choices, Epochs: r.Epochs, TestLoss: finalTestLoss(r), TestAccuracy: r.TestAccuracy,
		Duration: r.Duration, Worker: r.Worker, Finished: now, Curve: r.Curve, Log: r.Log,
	}
	if len(r.Curve) > 0 && (len(r.Epochs) == 0 || len(r.Epochs) == len(r.Curve)) {
		// From the curve, by one rule whatever the worker's version (an
		// older one gave 0 for a loss its trainer did not report).
		ft.Epochs = make([]gahpo.EpochMetrics, len(r.Curve))
		for i, e := range r.Curve {
			ft.Epochs[i] = e.Fixed()
		}
	}
	m.final = false
	m.run.Status, m.run.Ended = gahpo.RunDone, now
	if r.Failure != "" {
		m.run.Status, m.run.Error = gahpo.RunFailed, "final training failed: "+r.Failure
	}
	m.ready.Final = &ft
	if r.WeightsObject != "" {
		m.ready.FinalWeights = &gahpo.ObjectRef{Bucket: r.WeightsBucket, Name: r.WeightsObject, Digest: r.WeightsDigest}
	}
	m.touchRun()
	return nil
}

// outstanding counts the genomes queued or in training.
func (m *Machine) outstanding() int {
	m.syncOpen()
	return len(m.open)
}

// breed breeds what the breeding mode allows now (pool runs).
func (m *Machine) breed() error {
	if m.pool == nil || m.Done() {
		return nil
	}
	defer m.noteStop()
	if m.rc.PBT() {
		for m.canBreed() {
			if err := m.breedOne(); err != nil {
				return err
			}
		}
		return nil
	}
	if m.rc.SteadyState() {
		limit := m.rc.InFlight
		if limit <= 0 {
			limit = m.rc.GA.Population
		}
		for m.outstanding() < limit && m.canBreed() {
			if err := m.breedOne(); err != nil {
				return err
			}
		}
		return nil
	}
	// Generational: the next generation once the last one has its
	// first-rung results.
	p := m.rc.GA.Population
	for m.canBreed() {
		if n := len(m.recs); n > 0 {
			for _, r := range m.recs[n-min(n, p):] {
				if r.Status == gahpo.GenomeQueued {
					return nil
				}
			}
		}
		for range p {
			if !m.canBreed() {
				return nil // a budget spent within the generation cuts it short
			}
			if err := m.breedOne(); err != nil {
				return err
			}
		}
	}
	return nil
}

// canBreed tells whether the budget allows another genome: genomes left
// of Population × Generations and, with BudgetEpochs, epochs left and,
// with TimeBudget, time left at the last result; never once the run
// stopped for failures.
func (m *Machine) canBreed() bool {
	if m.stoppedForFailures() {
		return false
	}
	if m.rc.PBT() {
		return m.pool.Bred() < m.rc.GA.Population
	}
	return m.stopReason() == ""
}

// stopReason says which budget allows no more genome in a pool run that
// is not a population based training (gahpo.StopGenerations,
// StopTimeBudget, StopBudgetEpochs), "" when none does.
func (m *Machine) stopReason() string {
	switch {
	case m.pool.Bred() >= m.pool.Budget():
		return gahpo.StopGenerations
	case m.rc.TimeBudget > 0 && !m.now.IsZero() && !m.now.Before(m.run.Started.Add(m.rc.TimeBudget)):
		return gahpo.StopTimeBudget
	case m.rc.BudgetEpochs > 0 && m.EpochsSpent() >= m.rc.BudgetEpochs:
		return gahpo.StopBudgetEpochs
	}
	return ""
}

// noteStop records in the run why breeding stopped, the first time it
// finds it stopped (a population based training's is recorded when it
// ends: its population fills at once).
func (m *Machine) noteStop() {
	if m.run.StoppedBy != "" || m.pool == nil || m.rc.PBT() {
		return
	}
	if why := m.stopReason(); why != "" {
		m.run.StoppedBy = why
		m.touchRun()
		if n := len(m.recs); n > 0 {
			m.gens[m.recs[n-1].Generation] = true // complete now: cut short
		}
		if m.rc.Halving() {
			for k := range m.rungs {
				m.collect(k) // the rungs can hold fewer results now
			}
		}
	}
}

// EpochsSpent counts the epoch-trainings of the run: trained, and under
// way (queued, training or promoted), by the rule of the package's
// EpochsSpent. A training under way from scratch where a checkpoint is
// lost counts the epochs it trains again, as its result will, and so does
// the run's best trained again for its lost weights.
func (m *Machine) EpochsSpent() int {
	n := EpochsSpent(m.rungs, m.recs)
	for _, r := range m.recs {
		if r.Status == gahpo.GenomePromoted && r.DuplicateOf == 0 {
			n += m.redone(r, r.Rung+1)
		}
	}
	if m.final && m.rc.MultiFidelity() { // retrainTask
		n += m.rungs[len(m.rungs)-1]
	}
	return n
}

func (m *Machine) breedOne() error {
	g, err := m.pool.Breed()
	if err != nil {
		return fmt.Errorf("search: breed genome %d: %w", m.pool.Bred()+1, err)
	}
	m.addGenome(g)
	if g.DuplicateOf == 0 {
		m.publish(g.ID)
	}
	return nil
}

// rungOrder returns the genomes with a result of their own at rung k
// (see rankAtRung), best first. The slice is the machine's: read only.
func (m *Machine) rungOrder(k int) []int {
	if k >= len(m.orders) {
		return nil
	}
	return m.orders[k]
}

// order puts r's newest rung result in its place among the rung's.
func (m *Machine) order(r *gahpo.GenomeRecord) {
	k := len(r.RungFitness) - 1
	if r.DuplicateOf != 0 || k < r.Inherited {
		return
	}
	for len(m.orders) <= k {
		m.orders = append(m.orders, nil)
	}
	f := ga.Score{Fitness: float64(r.RungFitness[k])}
	at, _ := slices.BinarySearchFunc(m.orders[k], r.ID, func(id, _ int) int {
		if ga.Ahead(ga.Score{Fitness: float64(m.recs[id-1].RungFitness[k])}, id, f, r.ID) {
			return -1
		}
		return 1
	})
	m.orders[k] = slices.Insert(m.orders[k], at, r.ID)
}

// rankAtRung returns the ids of the records with a result of their own at
// rung k (not a duplicate, not a rung taken over from an exploited
// genome), best first by that result (ga.Ahead; ties to the lower id).
func rankAtRung(recs []gahpo.GenomeRecord, k int) []int {
	var ids []int
	for _, r := range recs {
		if r.DuplicateOf == 0 && len(r.RungFitness) > k && k >= r.Inherited {
			ids = append(ids, r.ID)
		}
	}
	slices.SortFunc(ids, func(a, b int) int {
		fa, fb := float64(recs[a-1].RungFitness[k]), float64(recs[b-1].RungFitness[k])
		if ga.Ahead(ga.Score{Fitness: fa}, a, ga.Score{Fitness: fb}, b) {
			return -1
		}
		return 1
	})
	return ids
}

// promote sends on to rung k+1 every genome that the results of rung k put
// among its best ⌊n/η⌋ and that has not gone on yet (none once the run
// stopped for failures).
func (m *Machine) promote(k int) {
	if k >= len(m.rungs)-1 || m.stoppedForFailures() {
		return
	}
	order := m.rungOrder(k)
	quota := len(order) / m.rc.Eta
	for _, id := range order[:quota] {
		r := m.recs[id-1]
		if r.Rung == k && r.Status == gahpo.GenomeDone {
			m.promoteOne(id)
		}
	}
}

func (m *Machine) promoteOne(id int) {
	r := &m.recs[id-1]
	r.Status = gahpo.GenomePromoted
	m.touch(id)
	m.updateDuplicates(id)
	m.publish(id)
}

// capacity bounds the results rung k can ever hold: every genome of the
// budget at rung 0 (those bred, once a budget stopped breeding); above, those it holds or trains now, plus two for each
// result still to come at the rung below (one result can promote itself
// and, raising the quota, one more), plus the promotion that ends a run.
func (m *Machine) capacity(k int) int {
	n := m.rc.GA.Population * m.rc.GA.Generations
	if m.run.StoppedBy != "" {
		n = len(m.recs) // a budget stopped breeding: no more will come
	}
	m.syncOpen()
	for j := 1; j <= k; j++ {
		// Successive halving inherits no rung: the genomes with a result
		// at a rung are its order.
		have, below := len(m.rungOrder(j)), len(m.rungOrder(j-1))
		coming := 0
		for id := range m.open {
			if r := m.recs[id-1]; r.DuplicateOf == 0 && r.Status == gahpo.GenomePromoted && r.Rung+1 == j {
				coming++
			}
		}
		n = have + coming + 2*max(n-below, 0) + 1
	}
	return n
}

// collect deletes the checkpoints of rung k that can no longer be promoted:
// ranked after the most genomes the rung can ever promote (never the best,
// which a run's end may still promote).
func (m *Machine) collect(k int) {
	order := m.rungOrder(k)
	keep := max(m.capacity(k)/m.rc.Eta, 1)
	for i, id := range order {
		r := &m.recs[id-1]
		if i >= keep && r.Rung == k && r.Checkpoint != nil && r.Status != gahpo.GenomePromoted {
			m.dropCheckpoint(r.Checkpoint)
			r.Checkpoint = nil
			m.touch(id)
		}
	}
}

// release deletes checkpoint ref, which a record has just let go of,
// unless another record still holds it (a genome and those that exploit it
// share one).
func (m *Machine) release(ref *gahpo.ObjectRef) {
	for _, r := range m.recs {
		if r.Checkpoint != nil && r.Checkpoint.Name == ref.Name && r.Checkpoint.Bucket == ref.Bucket {
			return
		}
	}
	m.dropCheckpoint(ref)
}

func (m *Machine) dropCheckpoint(ref *gahpo.ObjectRef) {
	if !m.lost[ref.Name] {
		m.ready.Delete = append(m.ready.Delete, *ref)
	}
	m.ckpt -= min(m.ckpt, ref.Size)
}

// finish ends a pool run when nothing is left to breed or train: first
// promoting the best genome of the highest rung until one has reached the
// top rung (halving), then choosing the best as the run's result. A run
// stopped for failures ends failed, choosing none.
func (m *Machine) finish(now time.Time) {
	if m.canBreed() || m.outstanding() > 0 {
		return
	}
	if m.stoppedForFailures() {
		m.releaseCheckpoints()
		m.failRun(now)
		return
	}
	top := len(m.rungs) - 1
	if m.rc.MultiFidelity() {
		if order := m.rungOrder(top); len(order) == 0 || !finite(float64(m.recs[order[0]-1].RungFitness[top])) {
			for k := top - 1; k >= 0; k-- {
				for _, id := range m.rungOrder(k) {
					if r := m.recs[id-1]; finite(float64(r.RungFitness[k])) && r.Rung == k && r.Status == gahpo.GenomeDone && r.Stopped == "" {
						m.promoteOne(id) // from scratch when its checkpoint is gone (rungTask)
						return
					}
				}
			}
		}
	}
	m.releaseCheckpoints()
	if m.confirming() && m.confirm() {
		return // the choice waits for the confirmation trainings
	}
	best := 0
	for _, r := range m.recs {
		if r.DuplicateOf == 0 && r.Status == gahpo.GenomeDone && (!m.rc.MultiFidelity() || r.Rung == top) && (best == 0 || gahpo.Better(r, m.recs[best-1])) {
			best = r.ID
		}
	}
	if m.confirming() {
		if b := m.confirmedBest(); b != 0 {
			best = b
		}
	}
	m.run.Best = best
	m.run.Status, m.run.Ended = gahpo.RunDone, now
	if m.rc.PBT() {
		m.run.StoppedBy = gahpo.StopMaxEpochs
	}
	if best != 0 && !m.rc.MultiFidelity() && m.rc.FinalEpochs > 0 {
		m.run.Status, m.run.Ended = gahpo.RunFinal, time.Time{}
		m.final = true
		m.ready.Publish = append(m.ready.Publish, m.finalTask())
	} else if best != 0 && m.rc.MultiFidelity() {
		if w := m.recs[best-1].Weights; w != nil && m.lostWeights[w.Name] {
			// Its model went with the object store: trained again.
			m.run.Status, m.run.Ended = gahpo.RunFinal, time.Time{}
			m.final = true
			m.ready.Publish = append(m.ready.Publish, m.finalTask())
		} else {
			m.ready.Final = m.topFinal(m.recs[best-1], now)
			m.ready.FinalWeights = m.recs[best-1].Weights
		}
	}
	m.touchRun()
}

// releaseCheckpoints deletes every checkpoint the records hold: nothing
// goes on from one now.
func (m *Machine) releaseCheckpoints() {
	for i := range m.recs {
		if r := &m.recs[i]; r.Checkpoint != nil {
			ref := r.Checkpoint
			r.Checkpoint = nil
			m.release(ref)
			m.touch(r.ID)
		}
	}
}

// topFinal is the final training of a halving or population based run:
// the best genome's own training to the top rung, epoch by epoch (its
// lineage's, under population based training), with the time and the
// workers of every rung of it.
func (m *Machine) topFinal(r gahpo.GenomeRecord, now time.Time) *gahpo.FinalTraining {
	ft := &gahpo.FinalTraining{
		GenomeID: r.ID, Params: r.Params, Choices: r.Choices, TestLoss: gahpo.Float(math.NaN()), Duration: r.Duration, Worker: r.Worker,
		Finished: now, Curve: r.Curve, Schedule: r.Schedule, Log: r.Log,
	}
	if d, workers, ok := r.RungsTime(); ok {
		// Every rung that trained its weights, those of the genomes it
		// exploited included (their durations are not in r.Duration).
		ft.Duration, ft.Workers = d, workers
	}
	for _, e := range r.Curve {
		ft.Epochs = append(ft.Epochs, e.Fixed())
	}
	if n := len(ft.Epochs); n > 0 {
		ft.TestLoss, ft.TestAccuracy = ft.Epochs[n-1].TestLoss, ft.Epochs[n-1].TestAccuracy
	}
	if r.ConfirmedFitness != nil {
		ft.Seeds, ft.ConfirmedFitness = 1+len(r.Replicates), r.ConfirmedFitness
	}
	return ft
}

// summary describes generation gen once it is complete and each of its
// genomes has a first result: the best by the search's ranking, the mean and median of the
// first-rung fitnesses that are finite, the failures.
func (m *Machine) summary(gen int) (gahpo.GenerationSummary, bool) {
	if m.rc.PBT() {
		return m.pbtSummary(gen)
	}
	// Bred by the engine or the pool, a generation's genomes follow those
	// of the one before.
	byGen := func(r gahpo.GenomeRecord, g int) int { return r.Generation - g }
	lo, _ := slices.BinarySearchFunc(m.recs, gen, byGen)
	hi, _ := slices.BinarySearchFunc(m.recs, gen+1, byGen)
	members := m.recs[lo:hi]
	for _, r := range members {
		if r.Status == gahpo.GenomeQueued || (r.Status == gahpo.GenomeDuplicate && len(r.RungFitness) == 0 && m.engine == nil) {
			return gahpo.GenerationSummary{}, false
		}
	}
	// A generation is complete when it has its population, or, bred by
	// the pool, when breeding has stopped (a budget may cut the last one
	// short); a steady state's first results must not summarise it.
	full := len(members) >= m.rc.GA.Population || (m.pool != nil && !m.canBreed())
	if len(members) == 0 || !full {
		return gahpo.GenerationSummary{}, false
	}
	if m.engine != nil && gen >= m.engine.Generation() && !m.engine.Done() {
		return gahpo.GenerationSummary{}, false
	}
	sum := gahpo.GenerationSummary{Generation: gen, Fitness: gahpo.Float(math.Inf(1)), Mean: gahpo.Float(math.NaN()), Median: gahpo.Float(math.NaN())}
	var first []float64
	for _, r := range members {
		f := float64(r.Fitness)
		if len(r.RungFitness) > 0 {
			f = float64(r.RungFitness[0])
		}
		if !finite(f) {
			sum.Failed++
		} else {
			first = append(first, f)
		}
		if at := finishedAt(r, 0); at.After(sum.Finished) {
			sum.Finished = at
		}
		if sum.Best == 0 || gahpo.Better(r, m.recs[sum.Best-1]) {
			sum.Best = r.ID
		}
	}
	sum.Fitness = m.recs[sum.Best-1].Fitness
	sum.Mean, sum.Median = meanMedian(first)
	return sum, true
}

// meanMedian returns the mean and the median of fs (NaN for none); it
// sorts fs.
func meanMedian(fs []float64) (mean, median gahpo.Float) {
	n := len(fs)
	if n == 0 {
		return gahpo.Float(math.NaN()), gahpo.Float(math.NaN())
	}
	var total float64
	for _, f := range fs {
		total += f
	}
	slices.Sort(fs)
	med := fs[n/2]
	if n%2 == 0 {
		med = (fs[n/2-1] + fs[n/2]) / 2
	}
	return gahpo.Float(total / float64(n)), gahpo.Float(med)
}

// finishedAt is when r's result at rung k came back: its RungFinished, or
// its Finished for a record stored before RungFinished was kept.
func finishedAt(r gahpo.GenomeRecord, k int) time.Time {
	if k < len(r.RungFinished) {
		return r.RungFinished[k]
	}
	return r.Finished
}

// rungFinished is r.RungFinished for its rungs before the last result:
// padded with its Finished for a record stored before RungFinished was
// kept, so that the times stay beside their fitnesses.
func rungFinished(r *gahpo.GenomeRecord) []time.Time {
	t := r.RungFinished
	for len(t) < len(r.RungFitness)-1 {
		t = append(t, r.Finished)
	}
	return t[:len(r.RungFitness)-1]
}
