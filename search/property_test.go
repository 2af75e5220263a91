package search

// A randomized property test of the machine: random configurations of
// every fidelity and breeding, fed results in adversarial orders
// (out of order, duplicated, forged, failed, beyond max attempts, handed
// back), restarted from what it stored at random points, with the
// invariants the README and the package documentation promise checked
// after every step. A shadow machine, fed the same inputs and never
// restarted, must decide exactly what the restarted one decides.
//
//	go test -run TestMachineProperties ./search/                 # GAHPO_PROPERTY_RUNS=N for more runs
//	GAHPO_PROPERTY_SEED=123 go test -run TestMachineProperties -v ./search/ # one run, traced

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gahpo/gahpo"
	"github.com/gahpo/gahpo/ga"
)

// propStats counts, over all runs, how often each invariant was checked.
type propStats struct {
	runs, steps, results, stale, refused, handbacks, restarts, losses int
	promotions, deletes, breeds, children, confirms, finals           int
	overBudget                                                        int
	// failureStops counts the runs stopped for failures, by rule.
	failureStops map[string]int
	byMode       map[string]int
}

type prop struct {
	t      *testing.T
	seed   uint64
	rng    *rand.Rand
	cfg    Config
	rc     gahpo.RunConfig
	rungs  []int
	sp     *ga.Space
	m      *Machine // restarted at random points
	shadow *Machine // never restarted
	trace  []string
	now    time.Time

	// What the coordinator would have stored.
	run    gahpo.Run
	engine []byte
	stored map[int]gahpo.GenomeRecord
	sums   map[int]gahpo.GenerationSummary
	final  *gahpo.FinalTraining

	out       map[string]gahpo.Task   // outstanding tasks by token
	published map[string]bool         // every token ever published
	answered  []gahpo.Result          // results the machine took
	alive     map[string]bool         // checkpoints in the object store
	lost      map[string]bool         // checkpoints lost at a restart
	lostW     map[string]bool         // weights lost at a restart
	redeliver map[string]gahpo.Result // results delivered before a crash, not stored: they come again
	nonce     int
	// budget bookkeeping
	stopSpent int // epochs spent when breeding stopped (-1: not yet)
	stopBound int // the documented bound on what may follow
	// finishPromoted: the run's end promoted from below (top-rung
	// failures): documented, and not bounded by the budget.
	finishPromoted bool
	failP          float64
	// crashP is how often a training fails for a cause of its own (a
	// command that exits in error), which a stop for failures counts;
	// 1: a broken trainer.
	crashP float64
	// stopFailed is the run's failures when it stopped for them (-1: it
	// has not).
	stopFailed int
	tieP       bool
	st         *propStats
}

func (h *prop) logf(format string, a ...any) {
	h.trace = append(h.trace, fmt.Sprintf(format, a...))
}

func (h *prop) fail(format string, a ...any) {
	h.t.Helper()
	msg := fmt.Sprintf(format, a...)
	tail := h.trace
	if len(tail) > 60 && os.Getenv("GAHPO_PROPERTY_TRACE") == "" {
		tail = tail[len(tail)-60:]
	}
	h.t.Fatalf("seed %d (GAHPO_PROPERTY_SEED=%d), config %s:\n%s\n--- last inputs ---\n%s", h.seed, h.seed, h.describe(), msg, strings.Join(tail, "\n"))
}

func (h *prop) describe() string {
	rc := h.rc
	maxFailures := "default"
	if rc.MaxFailures != nil {
		maxFailures = strconv.Itoa(*rc.MaxFailures)
	}
	return fmt.Sprintf("fidelity=%s breeding=%s pop=%d gens=%d eta=%d min=%d max=%d rungs=%v inflight=%d budget-epochs=%d time-budget=%v confirm=%d/%d final-epochs=%d max-attempts=%d enqueued=%d max-failures=%s failP=%v crashP=%v",
		rc.Fidelity, rc.Breeding, rc.GA.Population, rc.GA.Generations, rc.Eta, rc.MinEpochs, rc.MaxEpochs, h.rungs, rc.InFlight,
		rc.BudgetEpochs, rc.TimeBudget, rc.ConfirmSeeds, rc.ConfirmTop, rc.FinalEpochs, rc.MaxAttempts, len(rc.GA.Initial), maxFailures, h.failP, h.crashP)
}

// randomConfig draws a configuration that Validate accepts.
func randomConfig(rng *rand.Rand, sp *ga.Space) gahpo.RunConfig {
	g := ga.DefaultConfig()
	fid := []string{gahpo.FidelityOneEpoch, gahpo.FidelityHalving, gahpo.FidelityPBT}[rng.IntN(3)]
	g.Population = 2 + rng.IntN(9)
	if fid == gahpo.FidelityPBT {
		g.Population = 4 + rng.IntN(7)
	}
	g.Generations = 1 + rng.IntN(4)
	g.Elites = min(rng.IntN(3), g.Population-1)
	g.TournamentSize = min(1+rng.IntN(3), g.Population)
	g.Seed = rng.Uint64()
	if rng.IntN(3) == 0 {
		n := 1 + rng.IntN(g.Population)
		for range n {
			if len(g.Initial) > 0 && rng.IntN(4) == 0 {
				g.Initial = append(g.Initial, slices.Clone(g.Initial[rng.IntN(len(g.Initial))])) // the same genome twice
				continue
			}
			genes := sp.Canonical([]float64{rng.Float64(), math.Pow(10, -4*rng.Float64())})
			g.Initial = append(g.Initial, genes)
		}
	}
	rc := gahpo.RunConfig{Problem: "synthetic", GA: g, MaxAttempts: 1 + rng.IntN(3), AckWait: time.Minute, Fidelity: fid}
	switch fid {
	case gahpo.FidelityOneEpoch:
		rc.Breeding = []string{gahpo.BreedingGenerational, gahpo.BreedingSteadyState, gahpo.BreedingRandom}[rng.IntN(3)]
		if rng.IntN(2) == 0 {
			rc.FinalEpochs = 1 + rng.IntN(3)
		}
		if rng.IntN(3) == 0 {
			rc.FitnessEpochs = 1 + rng.IntN(2)
		}
	case gahpo.FidelityHalving:
		rc.Breeding = []string{gahpo.BreedingGenerational, gahpo.BreedingSteadyState, gahpo.BreedingRandom}[rng.IntN(3)]
		rc.Eta = 2 + rng.IntN(3)
		rc.MinEpochs = 1 + rng.IntN(3)
		rc.MaxEpochs = rc.MinEpochs * (1 + rng.IntN(rc.Eta*rc.Eta*rc.Eta))
	case gahpo.FidelityPBT:
		rc.MinEpochs = 1 + rng.IntN(2)
		rc.MaxEpochs = rc.MinEpochs * (1 + rng.IntN(5))
	}
	if fid != gahpo.FidelityPBT && (fid == gahpo.FidelityHalving || rc.SteadyState()) {
		if rng.IntN(3) == 0 {
			rc.BudgetEpochs = 1 + rng.IntN(60)
		}
		if rng.IntN(4) == 0 {
			rc.TimeBudget = time.Duration(10+rng.IntN(300)) * time.Second
		}
	}
	if rc.SteadyState() && rng.IntN(2) == 0 {
		rc.InFlight = 1 + rng.IntN(5)
	}
	if rc.MultiFidelity() && rng.IntN(2) == 0 {
		rc.ConfirmSeeds, rc.ConfirmTop = 2+rng.IntN(2), 1+rng.IntN(3)
	}
	switch rng.IntN(3) {
	case 0: // the default rule
	case 1:
		rc.MaxFailures = new(int) // never
	case 2:
		n := 1 + rng.IntN(8)
		rc.MaxFailures = &n
	}
	return rc
}

func propSpace(t testing.TB) *ga.Space { return space(t) }

// describeRule names the run's rule of a stop for failures and its mode.
func (h *prop) describeRule() string {
	rule := "default"
	if h.rc.MaxFailures != nil {
		rule = "explicit"
	}
	return cmp.Or(h.rc.Fidelity, gahpo.FidelityOneEpoch) + "/" + rule
}

// answerTask is what a worker sends for task t: a fitness that depends on
// the genome's params and the epochs (with noise), sometimes a failure.
func (h *prop) answerTask(t gahpo.Task) gahpo.Result {
	e := max(t.Epochs, 1)
	r := gahpo.Result{V: gahpo.MessageVersion, Kind: t.Kind, RunID: t.RunID, GenomeID: t.GenomeID, Worker: "w" + strconv.Itoa(h.rng.IntN(3)),
		Attempt: 1 + h.rng.IntN(h.rc.MaxAttempts), Token: t.Token, Rung: t.Rung, EpochsDone: t.Epochs, Replicate: t.Replicate,
		ScheduleSteps: len(t.Schedule), Duration: time.Second}
	f := curve(t.Params, e) + 0.02*h.rng.Float64()
	if h.tieP {
		f = math.Round(f*10) / 10 // ties
	}
	r.Fitness = gahpo.Float(f)
	for ep := t.FromEpochs + 1; ep <= e; ep++ {
		r.Curve = append(r.Curve, gahpo.EpochReport{Epoch: ep, Metrics: map[string]gahpo.Float{"val_loss": gahpo.Float(curve(t.Params, ep)), "test_loss": 0.1}})
	}
	h.nonce++
	if t.CheckpointTo != "" {
		r.Checkpoint = &gahpo.ObjectRef{Bucket: t.CheckpointTo, Name: fmt.Sprintf("%s-%d-e%d-%d", t.RunID, t.GenomeID, e, h.nonce), Size: 1000}
	}
	if t.WeightsTo != "" {
		r.WeightsBucket, r.WeightsObject = t.WeightsTo, fmt.Sprintf("%s-%d-weights-%d", t.RunID, t.GenomeID, h.nonce)
		if t.Kind == gahpo.KindFinal {
			r.WeightsObject = fmt.Sprintf("%s-final-%d-%d", t.RunID, t.GenomeID, h.nonce)
		}
	}
	if h.rng.Float64() < h.crashP { // the training's own fault
		r.Failure = "the command failed: exit status 1" + stderrEnds + "Traceback (most recent call last):\nModuleNotFoundError: No module named 'torch'"
		r.Fitness, r.Checkpoint, r.Curve, r.WeightsObject, r.WeightsBucket = gahpo.Float(math.NaN()), nil, nil, "", ""
		return r
	}
	switch x := h.rng.Float64(); {
	case x < h.failP: // diverged
		r.Failure, r.Fitness, r.Checkpoint = "diverged: NaN loss", gahpo.Float(math.NaN()), nil
	case x < h.failP+0.03: // every worker that took it died
		r.Attempt = h.rc.MaxAttempts + 1
		r.Failure, r.Fitness, r.Checkpoint, r.Curve, r.WeightsObject, r.WeightsBucket = "gave up after deliveries", 0, nil, nil, "", ""
	case x < h.failP+0.05: // a fitness that is not finite, no failure said
		r.Fitness = gahpo.Float(math.Inf(1))
	case x < h.failP+0.06: // trained to other epochs than asked
		r.EpochsDone = t.Epochs + 1
	}
	return r
}

func propErrClass(err error) string {
	switch {
	case err == nil:
		return "nil"
	case errors.Is(err, ErrStale):
		return "stale"
	case errors.Is(err, ErrRefused):
		return "refused"
	}
	return "error: " + err.Error()
}

// feed gives r to both machines and returns the error class; the Readys
// must agree.
func (h *prop) feed(r gahpo.Result, final bool) (string, Ready) {
	h.t.Helper()
	call := func(m *Machine) error {
		if final {
			return m.Final(r, h.now)
		}
		return m.Result(r, h.now)
	}
	e1, e2 := call(h.m), call(h.shadow)
	c1, c2 := propErrClass(e1), propErrClass(e2)
	rd1, rd2 := h.m.Ready(), h.shadow.Ready()
	if c1 != c2 {
		h.fail("the restarted machine says %s (%v), the uninterrupted one %s (%v)", c1, e1, c2, e2)
	}
	h.sameReady(rd1, rd2)
	return c1, rd1
}

func (h *prop) sameReady(a, b Ready) {
	h.t.Helper()
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	if string(ja) != string(jb) {
		h.fail("the restarted machine decided otherwise than the uninterrupted one:\nrestarted:     %s\nuninterrupted: %s", ja, jb)
	}
}

// records returns what is stored, as a fresh read from bbolt would: it
// shares nothing with the store or the machines.
func (h *prop) records() []gahpo.GenomeRecord {
	out := make([]gahpo.GenomeRecord, len(h.stored))
	for id, g := range h.stored {
		b, err := json.Marshal(g)
		if err != nil {
			h.fail("marshal: %v", err)
		}
		if err := json.Unmarshal(b, &out[id-1]); err != nil {
			h.fail("unmarshal: %v", err)
		}
	}
	return out
}

// apply stores a Ready as the coordinator would and checks what it
// publishes and deletes.
func (h *prop) apply(rd Ready) {
	h.t.Helper()
	if rd.Run != nil {
		b, _ := json.Marshal(*rd.Run)
		h.run = gahpo.Run{}
		if err := json.Unmarshal(b, &h.run); err != nil {
			h.fail("unmarshal run: %v", err)
		}
	}
	if rd.Engine != nil {
		h.engine = slices.Clone(rd.Engine)
	}
	for _, g := range rd.Genomes {
		// Stored as bbolt would: a copy that shares nothing with the machine.
		b, err := json.Marshal(g)
		if err != nil {
			h.fail("marshal genome %d: %v", g.ID, err)
		}
		g = gahpo.GenomeRecord{}
		if err := json.Unmarshal(b, &g); err != nil {
			h.fail("unmarshal: %v", err)
		}
		if _, ok := h.stored[g.ID]; !ok {
			h.st.breeds++
			if g.Exploited != 0 {
				h.st.children++
			}
		}
		h.stored[g.ID] = g
	}
	for _, s := range rd.Summaries {
		h.sums[s.Generation] = s
		h.logf("  summary of generation %d: best %d failed %d", s.Generation, s.Best, s.Failed)
	}
	if rd.Final != nil {
		if h.final != nil {
			h.fail("a second final training: genome %d after genome %d", rd.Final.GenomeID, h.final.GenomeID)
		}
		h.final = rd.Final
		h.st.finals++
	}
	for _, t := range rd.Publish {
		if h.published[t.Token] {
			h.fail("genome %d replicate %d is published again at rung %d (kind %s): trained twice", t.GenomeID, t.Replicate, t.Rung, t.Kind)
		}
		if t.Checkpoint != nil && !h.alive[t.Checkpoint.Name] {
			h.fail("genome %d rung %d goes on from checkpoint %s, which is gone", t.GenomeID, t.Rung, t.Checkpoint.Name)
		}
		if r, ok := h.m.Genome(t.GenomeID); ok && h.rc.PBT() && r.Stopped != "" && t.Replicate == 0 {
			h.fail("genome %d, stopped by PBT (%s), trains again to rung %d", t.GenomeID, r.Stopped, t.Rung)
		}
		h.published[t.Token] = true
		h.out[t.Token] = t
		h.logf("  publish genome %d rung %d epochs %d from %d replicate %d kind %s ckpt=%v", t.GenomeID, t.Rung, t.Epochs, t.FromEpochs, t.Replicate, t.Kind, t.Checkpoint != nil)
	}
	for _, d := range rd.Delete {
		h.st.deletes++
		if !h.alive[d.Name] && !strings.Contains(d.Name, "-weights-") {
			h.fail("deleting checkpoint %s that is not alive", d.Name)
		}
		delete(h.alive, d.Name)
		for _, t := range h.out {
			if t.Checkpoint != nil && t.Checkpoint.Name == d.Name {
				h.fail("deleting checkpoint %s that outstanding task genome %d rung %d goes on from", d.Name, t.GenomeID, t.Rung)
			}
		}
		h.logf("  delete %s", d.Name)
	}
}

func (h *prop) outList() []gahpo.Task {
	var ts []gahpo.Task
	for _, t := range h.out {
		ts = append(ts, t)
	}
	slices.SortFunc(ts, func(a, b gahpo.Task) int { return strings.Compare(a.Token, b.Token) })
	return ts
}

// restart rebuilds the machine from what was stored, sometimes with
// checkpoints (and weights) lost, as a resume on a new NATS server.
func (h *prop) restart() {
	h.t.Helper()
	h.st.restarts++
	c := h.cfg
	c.Run = h.run
	m, err := Restore(c, h.sp, h.engine, h.records())
	if err != nil {
		h.fail("restore: %v", err)
	}
	h.m = m
	h.logf("restart")
	gone := map[string]bool{}
	loseWeights := false
	if h.rng.IntN(4) == 0 {
		// The store's checkpoints the records name (a checkpoint of a
		// result not yet stored comes back with its redelivery, which a
		// lost store would have lost too).
		var names []string
		for _, r := range h.stored {
			if r.Checkpoint != nil && h.alive[r.Checkpoint.Name] {
				names = append(names, r.Checkpoint.Name)
			}
		}
		slices.Sort(names)
		names = slices.Compact(names)
		for _, n := range names {
			if h.rng.IntN(2) == 0 {
				gone[n] = true
			}
		}
		loseWeights = h.rng.IntN(3) == 0
	}
	for n := range gone {
		delete(h.alive, n)
		h.lost[n] = true
	}
	if loseWeights {
		for _, r := range h.m.Records() {
			if r.Weights != nil {
				h.lostW[r.Weights.Name] = true
			}
		}
	}
	// A resume tells the machine what the object store holds, every time.
	exists := func(n string) bool { return !h.lost[n] }
	l1 := h.m.CheckpointsLost(exists)
	h.shadow.CheckpointsLost(exists)
	// Stored as the coordinator does: the epochs spent may change.
	rd1, rd2 := h.m.Ready(), h.shadow.Ready()
	h.sameReady(rd1, rd2)
	h.apply(rd1)
	wexists := func(n string) bool { return !h.lostW[n] }
	w1 := h.m.WeightsLost(wexists)
	h.shadow.WeightsLost(wexists)
	if len(gone) > 0 || loseWeights {
		h.st.losses++
		h.logf("  lost checkpoints %v, weights of genomes %v", l1, w1)
	}
	// What the restarted machine has outstanding is what was.
	var got, want []string
	for _, t := range h.m.Outstanding() {
		got = append(got, t.Token)
		if t.Checkpoint != nil && !h.alive[t.Checkpoint.Name] {
			h.fail("after the restart genome %d rung %d goes on from checkpoint %s, which is gone", t.GenomeID, t.Rung, t.Checkpoint.Name)
		}
		h.out[t.Token] = t // the queue after a restart: the tasks as the machine gives them now
	}
	for tok := range h.out {
		want = append(want, tok)
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		h.fail("after a restart the machine has %d tasks outstanding %v, %d were published and not answered %v", len(got), got, len(want), want)
	}
}

// check verifies the invariants that hold after every step.
func (h *prop) check(step string) {
	h.t.Helper()
	m := h.m
	// Outstanding is what was published and not answered.
	var got, want []string
	for _, t := range m.Outstanding() {
		got = append(got, t.Token)
	}
	for tok, t := range h.out {
		want = append(want, tok)
		if !m.Outstands(t) {
			h.fail("%s: genome %d rung %d replicate %d was published and not answered, but is not outstanding", step, t.GenomeID, t.Rung, t.Replicate)
		}
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		h.fail("%s: outstanding %v, published and not answered %v", step, got, want)
	}
	if !m.Done() && len(h.out) == 0 {
		h.fail("%s: deadlock: the run is %s with nothing outstanding", step, m.Run().Status)
	}
	if m.Done() && len(h.out) > 0 {
		h.fail("%s: the run is %s with %d tasks outstanding: %v", step, m.Run().Status, len(h.out), want)
	}
	// The stored run says what the records say.
	recs := h.records()
	if len(recs) != len(m.Records()) {
		h.fail("%s: %d records stored, the machine has %d", step, len(recs), len(m.Records()))
	}
	if spent := h.spent(recs); spent != h.run.EpochsSpent && spent != 0 {
		h.fail("%s: the run says %d epochs spent, its records %d", step, h.run.EpochsSpent, spent)
	}
	for _, r := range recs {
		if r.Attempts > h.rc.MaxAttempts {
			h.fail("%s: genome %d recorded with %d attempts, max %d", step, r.ID, r.Attempts, h.rc.MaxAttempts)
		}
		if r.Status == gahpo.GenomePromoted && r.Rung+1 >= len(h.rungs) {
			h.fail("%s: genome %d promoted beyond the top rung", step, r.ID)
		}
		if r.Status == gahpo.GenomeDone && !finite(float64(r.Fitness)) {
			h.fail("%s: genome %d done with fitness %v", step, r.ID, r.Fitness)
		}
	}
	checkOrdersProp(h, m)
	h.checkFailures(step, recs)
	// ASHA: every genome among the best ⌊n/η⌋ of its rung has gone on
	// (none goes on once the run stopped for failures).
	if h.rc.Halving() && m.Run().StoppedBy != gahpo.StopFailures {
		for k := 0; k < len(h.rungs)-1; k++ {
			order := m.rungOrder(k)
			for _, id := range order[:len(order)/h.rc.Eta] {
				if r := m.recs[id-1]; r.Rung == k && r.Status == gahpo.GenomeDone {
					h.fail("%s: genome %d is at position %d of %d at rung %d (quota %d) and was not promoted", step, id, slices.Index(order, id), len(order), k, len(order)/h.rc.Eta)
				}
			}
		}
	}
	// PBT: the population stays the population.
	if h.rc.PBT() {
		live := 0
		for _, r := range recs {
			if r.DuplicateOf == 0 && r.Stopped == "" {
				live++
			}
		}
		if live > h.rc.GA.Population {
			h.fail("%s: %d genomes train in a population of %d", step, live, h.rc.GA.Population)
		}
		// Each genome stopped is replaced, but for a failure with no genome
		// to exploit (documented); a duplicate never trains.
		dups, unreplaced := 0, 0
		replaced := map[int]bool{}
		for _, r := range recs {
			if r.Replaces != 0 {
				replaced[r.Replaces] = true
			}
		}
		for _, r := range recs {
			if r.DuplicateOf != 0 {
				dups++
			}
			if r.Stopped != "" && !replaced[r.ID] {
				unreplaced++
				if r.Status != gahpo.GenomeFailed {
					h.fail("%s: genome %d stopped (%s) and replaced by nobody, but it did not fail", step, r.ID, r.Stopped)
				}
			}
		}
		if live != h.rc.GA.Population-dups-unreplaced {
			h.fail("%s: %d genomes train: population %d, %d duplicates, %d failures not replaced", step, live, h.rc.GA.Population, dups, unreplaced)
		}
		// The worst quarter is a quarter, whatever the order results
		// arrive in: at each rung, at most quantileSize(population)
		// genomes that did not fail lose their place (Jaderberg et al.'s
		// truncation selection; a failure is always replaced).
		byRank := map[int][]int{}
		for _, r := range recs {
			if r.Stopped != "" && r.Status != gahpo.GenomeFailed {
				byRank[r.Rung] = append(byRank[r.Rung], r.ID)
			}
		}
		for k, ids := range byRank {
			if q := quantileSize(h.rc.GA.Population); len(ids) > q {
				h.fail("%s: %d genomes %v lost their place at rung %d, more than the worst quarter (%d) of a population of %d", step, len(ids), ids, k, q, h.rc.GA.Population)
			}
		}
	}
}

// checkFailures checks the stop for failures against the stored records:
// the run stops exactly when the rule of RunConfig.FailureStop first
// holds while it runs, and it then ends failed once what was under way is
// back, with no genome bred, promoted or exploited after the stop.
func (h *prop) checkFailures(step string, recs []gahpo.GenomeRecord) {
	h.t.Helper()
	failed, worked := 0, false
	for _, r := range recs {
		if r.DuplicateOf == 0 && r.Status == gahpo.GenomeFailed && !Diverged(r.Failure) {
			failed++
		}
		if r.DuplicateOf == 0 && len(r.RungFitness) > 0 && (r.Status != gahpo.GenomeFailed || Diverged(r.Failure) || len(r.RungFitness) > 1) {
			worked = true
		}
	}
	// The default's second rule: the trainings above a genome's first
	// rung (its own, after the rungs it inherited) all failed, as many as
	// the population, none succeeded.
	resumedFailed, resumedWorked := 0, false
	for _, r := range recs {
		own := len(r.RungFitness) - max(1, r.Inherited)
		if r.DuplicateOf != 0 || own <= 0 {
			continue
		}
		bad := r.Status == gahpo.GenomeFailed && !Diverged(r.Failure)
		if bad {
			resumedFailed++
		}
		if !bad || own > 1 {
			resumedWorked = true
		}
	}
	n, whileNone := h.rc.FailureStop()
	holds := n > 0 && failed >= n && !(whileNone && worked) ||
		whileNone && h.rc.MultiFidelity() && resumedFailed >= h.rc.GA.Population && !resumedWorked
	stopped := h.run.StoppedBy == gahpo.StopFailures
	switch {
	case stopped && h.stopFailed < 0:
		// It stopped at this step: the rule holds now.
		if !holds {
			h.fail("%s: the run stopped for failures with %d failed (worked %v; resumed: %d failed, worked %v), the rule (n %d, while none %v) does not hold", step, failed, worked, resumedFailed, resumedWorked, n, whileNone)
		}
		h.stopFailed = failed
		h.logf("  stopped for failures: %d failed", failed)
	case !stopped && holds && (h.run.Status == gahpo.RunRunning || h.stopFailed >= 0):
		h.fail("%s: %d genomes failed (worked %v; resumed: %d failed, worked %v) with max failures n %d (while none %v), and the run did not stop for failures (stopped by %q, %s)", step, failed, worked, resumedFailed, resumedWorked, n, whileNone, h.run.StoppedBy, h.run.Status)
	case !stopped && h.stopFailed >= 0:
		h.fail("%s: the run stopped for failures, now it says %q", step, h.run.StoppedBy)
	}
	if stopped && h.run.Status != gahpo.RunRunning && h.run.Status != gahpo.RunFailed {
		h.fail("%s: a run stopped for failures is %s", step, h.run.Status)
	}
}

func checkOrdersProp(h *prop, m *Machine) {
	for k := range len(m.rungs) + 1 {
		if got, want := m.rungOrder(k), rankAtRung(m.recs, k); !slices.Equal(got, want) {
			h.fail("rung %d's order %v, from the records %v", k, got, want)
		}
	}
}

// checkDecisions checks what one accepted result decided: promotions by
// quota, breeding within the budgets, PBT's exploits.
func (h *prop) checkDecisions(rd Ready, before []gahpo.GenomeRecord, res gahpo.Result) {
	h.t.Helper()
	m := h.m
	recs := m.Records()
	if h.run.StoppedBy == gahpo.StopFailures && (len(rd.Publish) > 0 || len(recs) > len(before)) {
		h.fail("a run stopped for failures published %d tasks and bred %d genomes", len(rd.Publish), len(recs)-len(before))
	}
	if h.rc.Halving() {
		for _, t := range rd.Publish {
			if t.Replicate > 0 || t.Rung == 0 || t.Token == m.Token(t.GenomeID, -1) {
				continue
			}
			h.st.promotions++
			k := t.Rung - 1
			order := m.rungOrder(k)
			pos := slices.Index(order, t.GenomeID)
			quota := len(order) / h.rc.Eta
			if pos >= 0 && pos < quota {
				if t.Checkpoint == nil && !h.lostCkpt(before[t.GenomeID-1]) {
					h.fail("genome %d promoted by its rank (%d of %d at rung %d) trains from scratch: its checkpoint was deleted while it could still be promoted", t.GenomeID, pos, len(order), k)
				}
				continue
			}
			// The documented exception: the run's end promotes the best of
			// the highest rung when nothing reached the top.
			top := len(h.rungs) - 1
			reached := false
			for _, id := range m.rungOrder(top) {
				if finite(float64(recs[id-1].RungFitness[top])) {
					reached = true
				}
			}
			h.finishPromoted = true
			if reached || len(rd.Publish) != 1 {
				h.fail("genome %d promoted to rung %d at position %d of %d at rung %d (quota %d), not by the run's end", t.GenomeID, t.Rung, pos, len(order), k, quota)
			}
		}
	}
	// Breeding within the budgets (pool runs, not PBT).
	if !h.rc.PBT() && m.pool != nil {
		for id := len(before) + 1; id <= len(recs); id++ {
			if b := h.rc.BudgetEpochs; b > 0 {
				if spent := EpochsSpent(h.rungs, recs[:id-1]); spent >= b {
					h.fail("genome %d bred with %d epochs spent of a budget of %d", id, spent, b)
				}
			}
			if tb := h.rc.TimeBudget; tb > 0 && !h.now.Before(h.run.Started.Add(tb)) {
				h.fail("genome %d bred at %v, the time budget ended at %v", id, h.now.Sub(h.run.Started), tb)
			}
			if id > h.rc.GA.Population*h.rc.GA.Generations {
				h.fail("genome %d bred beyond population × generations", id)
			}
		}
	}
	// PBT: a child exploits the best quarter and replaces one of the worst
	// quarter (or a failure).
	if h.rc.PBT() {
		for id := len(before) + 1; id <= len(recs); id++ {
			c := recs[id-1]
			if c.Exploited == 0 {
				continue
			}
			x := recs[c.Replaces-1]
			k := len(x.RungFitness) - 1
			order := m.rungOrder(k)
			q := quantileSize(len(order))
			if !slices.Contains(order[:q], c.Exploited) {
				h.fail("genome %d exploits genome %d, not in the best quarter %v of rung %d (order %v)", id, c.Exploited, order[:q], k, order)
			}
			pos := slices.Index(order, x.ID)
			if x.Status != gahpo.GenomeFailed && pos < len(order)-q {
				h.fail("genome %d replaced genome %d at position %d of %d at rung %d: not in the worst quarter", id, x.ID, pos, len(order), k)
			}
			if x.Stopped == "" {
				h.fail("genome %d replaced genome %d, which was not stopped", id, x.ID)
			}
		}
	}
}

// spent is the epochs spent by the records, with those a training under
// way trains again: a promotion whose checkpoint is lost or was dropped
// trains from scratch, a best whose weights were lost its top rung.
func (h *prop) spent(recs []gahpo.GenomeRecord) int {
	n := EpochsSpent(h.rungs, recs)
	if !h.rc.MultiFidelity() {
		return n
	}
	for _, r := range recs {
		if r.Status == gahpo.GenomePromoted && r.DuplicateOf == 0 && (r.Checkpoint == nil || h.lostCkpt(r)) {
			n += h.rungs[r.Rung]
		}
	}
	if h.run.Status == gahpo.RunFinal {
		n += h.rungs[len(h.rungs)-1]
	}
	return n
}

func (h *prop) lostCkpt(r gahpo.GenomeRecord) bool {
	return r.Checkpoint != nil && h.lost[r.Checkpoint.Name]
}

// budgetNote tracks the epochs spent after breeding stopped against the
// documented bound: the trainings under way and their promotions to the
// top rung, then the confirmation.
func (h *prop) budgetNote() {
	if h.stopSpent >= 0 || h.run.StoppedBy == "" || h.rc.PBT() {
		return
	}
	h.stopSpent = h.run.EpochsSpent
	top := h.rungs[len(h.rungs)-1]
	// Every genome under way may go on to the top rung.
	bound := h.stopSpent
	for _, r := range h.m.Records() {
		if r.DuplicateOf == 0 && isOpen(r) {
			e := h.rungs[0]
			if r.Status == gahpo.GenomePromoted {
				e = h.rungs[r.Rung+1]
			}
			bound += top - e
		}
	}
	h.stopBound = bound + top // and one genome's way to the top rung
}

// step does one adversarial input.
func (h *prop) step() {
	h.t.Helper()
	h.st.steps++
	h.now = h.now.Add(time.Duration(1+h.rng.IntN(20)) * time.Second)
	outs := h.outList()
	x := h.rng.Float64()
	switch {
	case x < 0.05 && len(h.answered) > 0: // a result again (a redelivery)
		r := h.answered[h.rng.IntN(len(h.answered))]
		h.logf("again: genome %d rung %d replicate %d kind %s", r.GenomeID, r.Rung, r.Replicate, r.Kind)
		c, rd := h.feed(r, r.Kind == gahpo.KindFinal)
		if c == "nil" || !rd.Empty() {
			h.fail("a result already taken was taken again (%s): %+v", c, rd)
		}
		h.st.stale++
	case x < 0.10: // a forged result
		id := h.rng.IntN(len(h.m.Records())+3) - 1
		rung := h.rng.IntN(len(h.rungs)+1) - 1
		r := gahpo.Result{V: gahpo.MessageVersion, Kind: gahpo.KindFitness, RunID: h.run.ID, GenomeID: id, Rung: max(rung, 0), Attempt: 1, Fitness: 0.01, Worker: "evil"}
		switch h.rng.IntN(4) {
		case 0:
			r.Token = h.m.Token(id, rung) // a token the machine made, for a task maybe never published
		case 1:
			r.Token = "00112233"
		case 2:
			r.RunID, r.Token = "other", h.m.Token(id, rung)
		case 3:
			if len(outs) > 0 { // an outstanding task's token, another genome
				t := outs[h.rng.IntN(len(outs))]
				r.Token = t.Token
				if r.GenomeID == t.GenomeID && r.Rung == t.Rung {
					r.GenomeID = -5
				}
			}
		}
		if rung == -1 {
			r.Kind = gahpo.KindFinal
		}
		if t, ok := h.out[r.Token]; ok && t.GenomeID == r.GenomeID && r.RunID == h.run.ID {
			return // it answers a real task: not a forgery
		}
		h.logf("forged: genome %d rung %d kind %s token %.8s run %s", r.GenomeID, r.Rung, r.Kind, r.Token, r.RunID)
		c, rd := h.feed(r, r.Kind == gahpo.KindFinal)
		if c == "nil" || !rd.Empty() {
			h.fail("a forged result was taken (%s): %+v", c, rd)
		}
		h.st.refused++
	case x < 0.17 && len(outs) > 0: // a hand-back
		t := outs[h.rng.IntN(len(outs))]
		hb := gahpo.Result{V: gahpo.MessageVersion, Kind: gahpo.KindHandBack, HandBack: t.Kind, RunID: t.RunID, GenomeID: t.GenomeID, Replicate: t.Replicate, Token: t.Token, Attempt: 1}
		h.logf("hand-back: genome %d rung %d replicate %d", t.GenomeID, t.Rung, t.Replicate)
		got, ok := h.m.HandedBack(hb)
		if !ok || got.Token != t.Token {
			h.fail("the hand-back of outstanding genome %d rung %d replicate %d is not taken (%v)", t.GenomeID, t.Rung, t.Replicate, ok)
		}
		h.st.handbacks++
	case x < 0.19 && len(h.answered) > 0: // a hand-back of a task answered
		r := h.answered[h.rng.IntN(len(h.answered))]
		if _, ok := h.out[r.Token]; ok {
			return
		}
		hb := gahpo.Result{V: gahpo.MessageVersion, Kind: gahpo.KindHandBack, HandBack: r.Kind, RunID: r.RunID, GenomeID: r.GenomeID, Replicate: r.Replicate, Token: r.Token}
		if _, ok := h.m.HandedBack(hb); ok {
			h.fail("the hand-back of answered genome %d rung %d is queued again", r.GenomeID, r.Rung)
		}
	case x < 0.23: // a restart
		h.restart()
	case x < 0.26 && len(outs) > 0: // a crash after a result, before its step is stored
		t := outs[h.rng.IntN(len(outs))]
		r, ok := h.redeliver[t.Token]
		if !ok {
			r = h.answerTask(t)
			h.redeliver[t.Token] = r // the same message comes back
		}
		if r.Checkpoint != nil {
			h.alive[r.Checkpoint.Name] = true
		}
		h.logf("crash after the result of genome %d rung %d replicate %d (fitness %v failure %q), before it is stored", t.GenomeID, t.Rung, t.Replicate, r.Fitness, r.Failure)
		h.feed(r, t.Kind == gahpo.KindFinal) // decided, never stored
		c := h.cfg
		c.Run = h.run
		sh, err := Restore(c, h.sp, h.engine, h.records())
		if err != nil {
			h.fail("restore: %v", err)
		}
		h.shadow = sh
		h.restart()
	default: // a result: any outstanding task, out of order
		if len(outs) == 0 {
			return
		}
		t := outs[h.rng.IntN(len(outs))]
		if h.rng.IntN(3) == 0 { // the oldest
			slices.SortFunc(outs, func(a, b gahpo.Task) int {
				ra, _ := h.m.Genome(a.GenomeID)
				rb, _ := h.m.Genome(b.GenomeID)
				return ra.Issued - rb.Issued
			})
			t = outs[0]
		}
		r, again := h.redeliver[t.Token]
		if !again {
			r = h.answerTask(t)
		}
		delete(h.redeliver, t.Token)
		if r.Checkpoint != nil {
			h.alive[r.Checkpoint.Name] = true
		}
		h.logf("result: genome %d rung %d epochs %d replicate %d kind %s fitness %v failure %q attempt %d epochsDone %d t=%v",
			t.GenomeID, t.Rung, t.Epochs, t.Replicate, t.Kind, r.Fitness, r.Failure, r.Attempt, r.EpochsDone, h.now.Sub(h.run.Started))
		before := slices.Clone(h.m.Records())
		c, rd := h.feed(r, t.Kind == gahpo.KindFinal)
		if c != "nil" {
			h.fail("the result of outstanding genome %d rung %d replicate %d was not taken: %s", t.GenomeID, t.Rung, t.Replicate, c)
		}
		h.st.results++
		delete(h.out, t.Token)
		h.answered = append(h.answered, r)
		h.apply(rd)
		h.checkDecisions(rd, before, r)
		h.budgetNote()
	}
}

// checkEnd checks a finished run.
func (h *prop) checkEnd() {
	h.t.Helper()
	recs := h.records()
	run := h.run
	top := len(h.rungs) - 1
	if run.Status != gahpo.RunDone && run.Status != gahpo.RunFailed {
		h.fail("the run ended %s", run.Status)
	}
	if len(h.alive) > 0 {
		var names []string
		for n := range h.alive {
			names = append(names, n)
		}
		h.fail("checkpoints left at the end: %v", names)
	}
	if run.StoppedBy == "" {
		h.fail("the run does not say why breeding stopped")
	}
	if run.StoppedBy == gahpo.StopFailures {
		h.st.failureStops[h.describeRule()]++
		if run.Status != gahpo.RunFailed || run.Best != 0 || h.final != nil {
			h.fail("a run stopped for failures ended %s, best %d, final %+v", run.Status, run.Best, h.final)
		}
		if !strings.HasPrefix(run.Error, "stopped for failures (--max-failures") || !strings.Contains(run.Error, "shows it whole)") {
			h.fail("a run stopped for failures says %q: want the count and the commonest cause with a genome to look at", run.Error)
		}
		return // neither a result nor a confirmation to check
	}
	if h.rc.MultiFidelity() {
		if run.Best == 0 {
			for _, r := range recs {
				if r.DuplicateOf == 0 && r.Status == gahpo.GenomeDone && r.Stopped == "" {
					h.fail("the run chose no genome, but genome %d is done at rung %d with %v", r.ID, r.Rung, r.Fitness)
				}
			}
		} else {
			b := recs[run.Best-1]
			if b.Rung != top || b.Status != gahpo.GenomeDone || !finite(float64(b.Fitness)) {
				h.fail("the run's result genome %d is %s at rung %d (top %d), fitness %v: not fully trained", b.ID, b.Status, b.Rung, top, b.Fitness)
			}
			if h.final == nil || h.final.GenomeID != b.ID {
				h.fail("the run's result is genome %d, the final training %+v", b.ID, h.final)
			}
			// The best fully trained genome, or the best confirmed mean.
			confirmed := 0
			for _, r := range recs {
				if len(r.Replicates) > 0 {
					confirmed++
				}
			}
			if confirmed == 0 {
				for _, r := range recs {
					if r.DuplicateOf == 0 && r.Status == gahpo.GenomeDone && gahpo.Better(r, b) {
						h.fail("genome %d (%v at rung %d) beats the run's result genome %d (%v)", r.ID, r.Fitness, r.Rung, b.ID, b.Fitness)
					}
				}
			}
		}
		if h.rc.ConfirmSeeds > 1 {
			h.st.confirms++
			confirmed, reached := ConfirmCounts(h.rc, recs)
			if want := min(h.rc.ConfirmTop, reached); confirmed != want && run.Best != 0 {
				h.fail("%d genomes confirmed, %d reached the top rung, confirm-top %d", confirmed, reached, h.rc.ConfirmTop)
			}
			bestMean := math.Inf(1)
			for _, r := range recs {
				if len(r.Replicates) == 0 {
					continue
				}
				if len(r.Replicates) != h.rc.ConfirmSeeds-1 {
					h.fail("genome %d has %d replicates, want %d", r.ID, len(r.Replicates), h.rc.ConfirmSeeds-1)
				}
				for _, rep := range r.Replicates {
					if rep.Status == gahpo.GenomeQueued {
						h.fail("genome %d has a replicate still queued at the end", r.ID)
					}
				}
				mean, _, _ := r.TrainingsMean()
				bestMean = min(bestMean, mean)
				if r.ConfirmedFitness == nil {
					h.fail("confirmed genome %d has no confirmed fitness", r.ID)
				}
			}
			if confirmed > 0 && run.Best != 0 {
				mean, _, _ := recs[run.Best-1].TrainingsMean()
				if len(recs[run.Best-1].Replicates) == 0 || (mean != bestMean && !(math.IsInf(mean, 1) && math.IsInf(bestMean, 1))) {
					h.fail("the run chose genome %d (mean %v), the best confirmed mean is %v", run.Best, mean, bestMean)
				}
			}
		}
	} else if run.Best != 0 {
		b := recs[run.Best-1]
		for _, r := range recs {
			if r.DuplicateOf == 0 && (r.Status == gahpo.GenomeDone) && gahpo.Better(r, b) {
				h.fail("genome %d (%v) beats the run's result genome %d (%v)", r.ID, r.Fitness, b.ID, b.Fitness)
			}
		}
		if h.rc.FinalEpochs > 0 && (h.final == nil || h.final.GenomeID != b.ID) {
			h.fail("one-epoch run: final training %+v for best genome %d", h.final, b.ID)
		}
	}
	// Summaries: one for each generation (rung, under PBT) and what the
	// records say.
	if h.rc.PBT() {
		for k := range h.rungs {
			sum, n := rungSummary(recs, k)
			got, ok := h.sums[k]
			if n == 0 {
				continue
			}
			if !ok {
				h.fail("no summary of rung %d (%d results)", k, n)
				continue
			}
			if got.Best != sum.Best || got.Failed != sum.Failed {
				h.fail("rung %d's summary: best %d failed %d, the records: best %d failed %d", k, got.Best, got.Failed, sum.Best, sum.Failed)
			}
		}
	} else {
		gens := map[int][]gahpo.GenomeRecord{}
		for _, r := range recs {
			gens[r.Generation] = append(gens[r.Generation], r)
		}
		for g, members := range gens {
			got, ok := h.sums[g]
			if !ok {
				if h.rc.BudgetEpochs > 0 || h.rc.TimeBudget > 0 {
					h.fail("no summary of generation %d (%d genomes)", g, len(members))
					continue
				}
				h.fail("no summary of generation %d (%d genomes)", g, len(members))
			}
			failed, best := 0, 0
			for _, r := range members {
				f := float64(r.Fitness)
				if len(r.RungFitness) > 0 {
					f = float64(r.RungFitness[0])
				}
				if !finite(f) {
					failed++
				}
				if best == 0 || gahpo.Better(r, recs[best-1]) {
					best = r.ID
				}
			}
			if got.Failed != failed || got.Best != best {
				h.fail("generation %d's summary: best %d failed %d, the records: best %d failed %d", g, got.Best, got.Failed, best, failed)
			}
		}
	}
	if h.stopSpent >= 0 && !h.rc.PBT() && h.rc.BudgetEpochs > 0 && !h.finishPromoted {
		spent := EpochsSpent(h.rungs, recs)
		for _, r := range recs {
			spent -= len(r.Replicates)*h.rungs[top] + r.Retrained // trained again after a loss: beyond any bound
		}
		if spent > h.stopBound {
			h.st.overBudget++
			h.logf("budget: %d spent at the stop, %d at the end (confirmation left out), documented bound %d", h.stopSpent, spent, h.stopBound)
			h.fail("epochs spent %d beyond the documented bound %d (%d when breeding stopped, budget %d)", spent, h.stopBound, h.stopSpent, h.rc.BudgetEpochs)
		}
	}
}

func runProperties(t *testing.T, seed uint64, st *propStats) {
	rng := rand.New(rand.NewPCG(seed, 0x68756e74))
	sp := propSpace(t)
	rc := randomConfig(rng, sp)
	h := &prop{t: t, seed: seed, rng: rng, rc: rc, rungs: rc.RungEpochs(), sp: sp, now: t0,
		stored: map[int]gahpo.GenomeRecord{}, sums: map[int]gahpo.GenerationSummary{}, out: map[string]gahpo.Task{},
		published: map[string]bool{}, alive: map[string]bool{}, lost: map[string]bool{}, lostW: map[string]bool{}, redeliver: map[string]gahpo.Result{}, stopSpent: -1,
		failP: []float64{0, 0.05, 0.2, 0.5}[rng.IntN(4)], tieP: rng.IntN(4) == 0, st: st, stopFailed: -1}
	h.crashP = []float64{0, 0, 0.1, 0.3, 1}[rng.IntN(5)]
	h.cfg = Config{Run: gahpo.Run{ID: "run1", Config: rc, Status: gahpo.RunRunning, Started: t0}, Secret: "s3cret",
		CheckpointBucket: "ckpt", WeightsBucket: "weights", FitnessMax: 1e9}
	if err := rc.Validate(); err != nil {
		t.Fatalf("seed %d: drew an invalid config: %v", seed, err)
	}
	m, err := New(h.cfg, sp)
	if err != nil {
		t.Fatalf("seed %d: %v", seed, err)
	}
	h.m = m
	h.shadow, _ = New(h.cfg, sp)
	rd1, rd2 := h.m.Ready(), h.shadow.Ready()
	h.sameReady(rd1, rd2)
	h.apply(rd1)
	h.check("start")
	st.byMode[rc.Fidelity+"/"+rc.Breeding]++
	for i := 0; !h.m.Done(); i++ {
		if i > 20000 {
			h.fail("no end after %d steps", i)
		}
		h.step()
		h.check(fmt.Sprintf("step %d", i))
	}
	// Redeliveries and forgeries after the end change nothing.
	for range 5 {
		h.step()
		h.check("after the end")
	}
	h.checkEnd()
	st.runs++
}

func TestMachineProperties(t *testing.T) {
	st := &propStats{byMode: map[string]int{}, failureStops: map[string]int{}}
	if s := os.Getenv("GAHPO_PROPERTY_SEED"); s != "" {
		seed, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		runProperties(t, seed, st)
		return
	}
	runs := 300
	if testing.Short() {
		runs = 60
	}
	if s := os.Getenv("GAHPO_PROPERTY_RUNS"); s != "" {
		runs, _ = strconv.Atoi(s)
	}
	base := uint64(1)
	if s := os.Getenv("GAHPO_PROPERTY_BASE"); s != "" {
		base, _ = strconv.ParseUint(s, 10, 64)
	}
	for i := range runs {
		seed := base + uint64(i)
		if !t.Run(strconv.FormatUint(seed, 10), func(t *testing.T) { runProperties(t, seed, st) }) && os.Getenv("GAHPO_PROPERTY_ALL") == "" {
			break
		}
	}
	t.Logf("runs %d, steps %d, results taken %d, stale %d, forged %d, hand-backs %d, restarts %d (checkpoints lost %d), promotions %d, deletes %d, genomes %d (pbt children %d), confirmations %d, finals %d, runs over the documented epoch bound %d, stopped for failures %v; modes %v",
		st.runs, st.steps, st.results, st.stale, st.refused, st.handbacks, st.restarts, st.losses, st.promotions, st.deletes, st.breeds, st.children, st.confirms, st.finals, st.overBudget, st.failureStops, st.byMode)
}

// What the random runs found, as short deterministic traces.

// propStep answers task t with fitness f (NaN: a diverged training) at
// second sec, and returns what the machine decided.
func propStep(t *testing.T, m *Machine, task gahpo.Task, f float64, sec int) Ready {
	t.Helper()
	r := answer(task)
	r.Fitness = gahpo.Float(f)
	if math.IsNaN(f) {
		r.Failure, r.Checkpoint = "diverged", nil
	}
	if err := m.Result(r, t0.Add(time.Duration(sec)*time.Second)); err != nil {
		t.Fatal(err)
	}
	return m.Ready()
}

// TestPBTRungSummarisedWhenALowerRungEndsIt: a population based training's
// rung is summarised when the result that completes it is at a lower rung
// (the last genome queued there failing); it was never summarised.
func TestPBTRungSummarisedWhenALowerRungEndsIt(t *testing.T) {
	rc := runConfig(4, 1)
	rc.Fidelity, rc.MinEpochs, rc.MaxEpochs = gahpo.FidelityPBT, 1, 2 // rungs 1, 2
	m, _ := testMachine(t, rc)
	tasks := map[int]gahpo.Task{}
	var sums []gahpo.GenerationSummary
	take := func(rd Ready) {
		for _, tk := range rd.Publish {
			tasks[tk.GenomeID] = tk
		}
		sums = append(sums, rd.Summaries...)
	}
	take(m.Ready())
	take(propStep(t, m, tasks[1], 0.1, 1))
	take(propStep(t, m, tasks[2], 0.2, 2))
	take(propStep(t, m, tasks[3], 0.3, 3)) // quorum 3: 3 replaced by 5 (exploits 1), 1 and 2 go on
	for _, id := range []int{1, 2, 5} {
		take(propStep(t, m, tasks[id], 0.05, 4)) // the top rung's results
	}
	take(propStep(t, m, tasks[4], math.NaN(), 5)) // genome 4 fails at rung 0: nobody to exploit, stopped
	if !m.Done() {
		t.Fatalf("run %s", m.Run().Status)
	}
	got := map[int]bool{}
	for _, s := range sums {
		got[s.Generation] = true
	}
	if !got[1] {
		t.Errorf("summaries of rungs %v: the top rung (1), with 3 results, was never summarised", got)
	}
}

// TestBudgetStopSummarisesTheLastGeneration: a pool run's last generation,
// cut short by the time budget after its genomes were all back, is
// summarised (it was not).
func TestBudgetStopSummarisesTheLastGeneration(t *testing.T) {
	rc := halving(runConfig(2, 2), gahpo.BreedingSteadyState)
	rc.MaxEpochs, rc.InFlight, rc.TimeBudget = 3, 1, 10*time.Second // rungs 1, 3
	rc.GA.Elites, rc.GA.TournamentSize = 1, 2
	m, _ := testMachine(t, rc)
	tasks := map[string]gahpo.Task{}
	var sums []gahpo.GenerationSummary
	take := func(rd Ready) {
		for _, tk := range rd.Publish {
			tasks[fmt.Sprint(tk.GenomeID, "/", tk.Rung)] = tk
		}
		sums = append(sums, rd.Summaries...)
	}
	take(m.Ready())
	take(propStep(t, m, tasks["1/0"], 0.1, 1))
	take(propStep(t, m, tasks["2/0"], 0.5, 2))        // generation 0 complete
	take(propStep(t, m, tasks["3/0"], math.NaN(), 3)) // generation 1's first genome; 1 goes on to rung 1
	take(propStep(t, m, tasks["1/1"], 0.05, 11))      // past the time budget: breeding stops, the run ends
	if !m.Done() || m.Run().StoppedBy != gahpo.StopTimeBudget {
		t.Fatalf("run %s stopped by %q", m.Run().Status, m.Run().StoppedBy)
	}
	got := map[int]bool{}
	for _, s := range sums {
		got[s.Generation] = true
	}
	if !got[1] {
		t.Errorf("summaries of generations %v: generation 1 (genome 3, back before the budget ran out) was never summarised", got)
	}
}

// TestPBTNeverTrainsAStoppedGenomeAgain: when every genome that reaches a
// population based training's top rung fails, the run ends without a
// result; its end promoted genomes that PBT had stopped (and replaced),
// training them again from scratch.
func TestPBTNeverTrainsAStoppedGenomeAgain(t *testing.T) {
	rc := runConfig(4, 1)
	rc.Fidelity, rc.MinEpochs, rc.MaxEpochs = gahpo.FidelityPBT, 1, 2 // rungs 1, 2
	m, _ := testMachine(t, rc)
	tasks := map[int]gahpo.Task{}
	take := func(rd Ready) []gahpo.Task {
		for _, tk := range rd.Publish {
			tasks[tk.GenomeID] = tk
		}
		return rd.Publish
	}
	take(m.Ready())
	take(propStep(t, m, tasks[1], 0.1, 1))
	take(propStep(t, m, tasks[2], 0.2, 2))
	take(propStep(t, m, tasks[3], 0.3, 3))
	take(propStep(t, m, tasks[4], 0.4, 4)) // 4 replaced too (worst quarter of 4)
	for i, g := range m.Records() {
		t.Logf("genome %d: %s rung %d stopped %q", i+1, g.Status, g.Rung, g.Stopped)
	}
	var last []gahpo.Task
	for _, id := range []int{1, 2, 5, 6} { // every top-rung training fails
		if _, ok := tasks[id]; !ok {
			continue
		}
		if p := take(propStep(t, m, tasks[id], math.NaN(), 5)); len(p) > 0 {
			last = p
		}
	}
	for _, tk := range last {
		if g, _ := m.Genome(tk.GenomeID); g.Stopped != "" {
			t.Errorf("genome %d, stopped by PBT (%q), is trained again to rung %d (from scratch: %v)", tk.GenomeID, g.Stopped, tk.Rung, tk.Checkpoint == nil)
		}
	}
}

// TestBudgetStopReleasesCheckpoints: once a budget stops breeding, rung 0
// can hold only the genomes bred, so the checkpoints of those that can no
// longer be promoted are deleted then, not kept until the run's end (as
// if the population × generations still to come could push them up).
func TestBudgetStopReleasesCheckpoints(t *testing.T) {
	rc := halving(runConfig(3, 10), gahpo.BreedingSteadyState)
	rc.MaxEpochs, rc.InFlight, rc.TimeBudget = 9, 3, 10*time.Second // rungs 1, 3, 9
	rc.GA.Elites, rc.GA.TournamentSize = 1, 2
	m, _ := testMachine(t, rc)
	tasks := map[string]gahpo.Task{}
	deleted := map[string]bool{}
	take := func(rd Ready) {
		for _, tk := range rd.Publish {
			tasks[fmt.Sprint(tk.GenomeID, "/", tk.Rung)] = tk
		}
		for _, d := range rd.Delete {
			deleted[d.Name] = true
		}
	}
	take(m.Ready())
	take(propStep(t, m, tasks["1/0"], 0.1, 1))
	take(propStep(t, m, tasks["2/0"], 0.2, 2))
	take(propStep(t, m, tasks["3/0"], 0.3, 3)) // genome 1 goes on to rung 1
	if len(deleted) != 0 {
		t.Fatalf("deleted %v while breeding goes on", deleted)
	}
	take(propStep(t, m, tasks["4/0"], 0.4, 11)) // past the time budget: breeding stops
	if m.Run().StoppedBy != gahpo.StopTimeBudget {
		t.Fatalf("stopped by %q, want the time budget", m.Run().StoppedBy)
	}
	// Rung 0 holds at most the genomes bred, fewer than 6: one of them
	// goes on, genome 1, already promoted; the others back never will.
	for _, name := range []string{"run1-3-e1", "run1-4-e1"} {
		if !deleted[name] {
			t.Errorf("deleted %v; want %s, whose genome can no longer be promoted", deleted, name)
		}
	}
	if deleted["run1-1-e1"] {
		t.Errorf("deleted %v: genome 1's checkpoint, which its rung-1 training goes on from", deleted)
	}
}
