package search

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gahpo/gahpo"
	"github.com/gahpo/gahpo/ga"
)

var t0 = time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)

func space(t testing.TB) *ga.Space {
	t.Helper()
	s, err := ga.NewSpace(ga.FloatParam("x", 0, 1, ga.Linear), ga.FloatParam("lr", 1e-4, 1, ga.Log))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func runConfig(pop, gens int) gahpo.RunConfig {
	g := ga.DefaultConfig()
	g.Population, g.Generations, g.Seed = pop, gens, 42
	return gahpo.RunConfig{Problem: "synthetic", GA: g, MaxAttempts: 3, AckWait: time.Minute}
}

func halving(rc gahpo.RunConfig, breeding string) gahpo.RunConfig {
	rc.Fidelity, rc.Breeding, rc.MinEpochs, rc.MaxEpochs, rc.Eta = gahpo.FidelityHalving, breeding, 1, 9, 3
	return rc
}

func testMachine(t testing.TB, rc gahpo.RunConfig) (*Machine, Config) {
	t.Helper()
	cfg := Config{Run: gahpo.Run{ID: "run1", Config: rc, Status: gahpo.RunRunning, Started: t0}, Secret: "s3cret",
		CheckpointBucket: "ckpt", WeightsBucket: "weights", FitnessMax: 1e9}
	m, err := New(cfg, space(t))
	if err != nil {
		t.Fatal(err)
	}
	return m, cfg
}

// curve is a synthetic learning curve with a known answer: the loss after e
// epochs is a floor that depends on x plus a decay that depends on lr, so a
// genome that learns fast early (large lr) is not the best at the end.
func curve(p map[string]float64, epochs int) float64 {
	floor := (p["x"] - 0.3) * (p["x"] - 0.3)
	speed := math.Log10(p["lr"]) + 5 // 1..5
	return floor + 1/(speed*float64(epochs)) + 0.05*math.Log10(p["lr"]+1e-4)*-0.1
}

// answer is what a worker would send for a task.
func answer(t gahpo.Task) gahpo.Result {
	e := max(t.Epochs, 1)
	r := gahpo.Result{V: gahpo.MessageVersion, Kind: t.Kind, RunID: t.RunID, GenomeID: t.GenomeID, Worker: "w", Attempt: 1,
		Token: t.Token, Rung: t.Rung, EpochsDone: t.Epochs, Fitness: gahpo.Float(curve(t.Params, e)), Duration: time.Second}
	for ep := t.FromEpochs + 1; ep <= e; ep++ {
		r.Curve = append(r.Curve, gahpo.EpochReport{Epoch: ep, Metrics: map[string]gahpo.Float{"val_loss": gahpo.Float(curve(t.Params, ep))}})
	}
	if t.CheckpointTo != "" {
		r.Checkpoint = &gahpo.ObjectRef{Bucket: t.CheckpointTo, Name: fmt.Sprintf("%s-%d-e%d", t.RunID, t.GenomeID, e), Size: 1000}
	}
	if t.WeightsTo != "" {
		r.WeightsBucket, r.WeightsObject = t.WeightsTo, fmt.Sprintf("%s-%d-weights-n", t.RunID, t.GenomeID)
	}
	return r
}

// sim runs a machine to its end with one FIFO worker, applying every Ready.
// before, when set, may replace the machine (a restore) before each result.
type sim struct {
	queue   []gahpo.Task
	stored  map[int]gahpo.GenomeRecord
	engine  []byte
	run     gahpo.Run
	final   *gahpo.FinalTraining
	weights *gahpo.ObjectRef
	created map[string]bool // checkpoints alive
	// edit, when set, changes each result before the machine takes it.
	edit    func(*gahpo.Result)
	peak    int
	results int
	// summarised[i] is the number of genomes of the generation of the
	// i-th summary when it came out.
	summarised []int
	// state is the trained state of each checkpoint (PBT's synthetic
	// training, trainPBT).
	state map[string]float64
	// failAbove fails trainPBT's genomes whose x is above it.
	failAbove float64
	// wholeEngine stores the engine's whole state where the machine
	// gives its head, as runs stored before heads existed did.
	wholeEngine bool
	m           *Machine // the machine being driven
	// noise, when set, is added to the fitness of each answer (a seed's
	// luck); seen, when set, sees each task answered.
	noise func(gahpo.Task) float64
	seen  func(gahpo.Task)
	// noReplay answers as a worker that predates schedules would.
	noReplay bool
	// loseAt, when above 0, loses every checkpoint after that many
	// results: the machine is restored from the records and told none of
	// its checkpoints exists (CheckpointsLost), and the queue is what it
	// has outstanding, as after a resume on a new NATS server.
	loseAt int
	lost   []string
	// loseWeights loses the top-rung weights at loseAt too (WeightsLost).
	loseWeights bool
	lostWeights []int
	// trained counts the epochs the fitness tasks answered trained (from
	// their checkpoint's epochs, or from scratch): the compute spent.
	trained int
}

func (s *sim) apply(t testing.TB, rd Ready) {
	t.Helper()
	if rd.Run != nil {
		s.run = *rd.Run
	}
	if rd.Engine != nil {
		// A head, the same size whatever the history: a generation does
		// not store the whole run again.
		if len(s.engine) > 0 && len(rd.Engine) > len(s.engine)+8 {
			t.Fatalf("the engine's checkpoint grew from %d to %d bytes", len(s.engine), len(rd.Engine))
		}
		s.engine = rd.Engine
		if s.wholeEngine {
			var err error
			if s.engine, err = s.m.engine.MarshalJSON(); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, g := range rd.Genomes {
		s.stored[g.ID] = g
	}
	for _, sum := range rd.Summaries {
		n := 0
		for _, g := range s.stored {
			if g.Generation == sum.Generation {
				n++
			}
		}
		s.summarised = append(s.summarised, n)
	}
	if rd.Final != nil {
		s.final, s.weights = rd.Final, rd.FinalWeights
	}
	s.queue = append(s.queue, rd.Publish...)
	for _, d := range rd.Delete {
		if !s.created[d.Name] {
			t.Fatalf("deleting checkpoint %s that is not alive", d.Name)
		}
		delete(s.created, d.Name)
	}
}

func (s *sim) records() []gahpo.GenomeRecord {
	out := make([]gahpo.GenomeRecord, len(s.stored))
	for id, g := range s.stored {
		out[id-1] = g
	}
	return out
}

func drive(t *testing.T, m *Machine, cfg Config, restoreEvery int) *sim {
	t.Helper()
	return driveSim(t, &sim{stored: map[int]gahpo.GenomeRecord{}, created: map[string]bool{}, failAbove: math.Inf(1)}, m, cfg, restoreEvery)
}

// checkOutstanding checks that m's outstanding tasks are those in queue,
// in the order they were issued, that each of them Outstands, and that
// the task just answered does not.
func checkOutstanding(t *testing.T, m *Machine, queue []gahpo.Task, answered gahpo.Task) {
	t.Helper()
	tokens := func(ts []gahpo.Task) []string {
		var out []string
		for _, x := range ts {
			out = append(out, x.Token)
		}
		return out
	}
	if got, want := tokens(m.Outstanding()), tokens(queue); !slices.Equal(got, want) {
		t.Fatalf("outstanding tasks %v, the queue %v", got, want)
	}
	for _, x := range queue {
		if !m.Outstands(x) {
			t.Fatalf("genome %d rung %d is queued, but not outstanding", x.GenomeID, x.Rung)
		}
	}
	if m.Outstands(answered) && !slices.ContainsFunc(queue, func(x gahpo.Task) bool { return x.Token == answered.Token }) {
		t.Fatalf("genome %d rung %d was answered, and is still outstanding", answered.GenomeID, answered.Rung)
	}
}

// checkOrders checks what the machine keeps as results come in against
// the same computed from every record: each rung's order and, with
// successive halving, the proxy check's correlations.
func checkOrders(t *testing.T, m *Machine) {
	t.Helper()
	for k := range len(m.rungs) + 1 {
		if got, want := m.rungOrder(k), rankAtRung(m.recs, k); !slices.Equal(got, want) {
			t.Fatalf("rung %d's order %v, from the records %v", k, got, want)
		}
	}
	if !m.rc.Halving() {
		return
	}
	top := len(m.rungs) - 1
	var want []gahpo.RungCorrelation
	for k := range top {
		var x, y []float64
		for _, r := range m.recs {
			if r.DuplicateOf != 0 || len(r.RungFitness) <= top {
				continue
			}
			if a, b := float64(r.RungFitness[k]), float64(r.RungFitness[top]); finite(a) && finite(b) {
				x, y = append(x, a), append(y, b)
			}
		}
		if len(x) >= 2 {
			want = append(want, gahpo.RungCorrelation{Rung: k, Epochs: m.rungs[k], Genomes: len(x), Spearman: gahpo.Float(Spearman(x, y))})
		}
	}
	if got := m.Run().Proxy; !slices.EqualFunc(got, want, func(a, b gahpo.RungCorrelation) bool {
		return a.Rung == b.Rung && a.Epochs == b.Epochs && a.Genomes == b.Genomes && sameFloat(a.Spearman, b.Spearman)
	}) {
		t.Fatalf("proxy %v, from the records %v", got, want)
	}
}

// restore replaces the machine by one restored from what s stored, as a
// coordinator's restart does.
func (s *sim) restore(t *testing.T, cfg Config) *Machine {
	t.Helper()
	c := cfg
	c.Run = s.run
	m, err := Restore(c, space(t), s.engine, s.records())
	if err != nil {
		t.Fatalf("restore after %d results: %v", s.results, err)
	}
	s.m = m
	return m
}

// driveSim runs m to its end in s (see sim).
func driveSim(t *testing.T, s *sim, m *Machine, cfg Config, restoreEvery int) *sim {
	t.Helper()
	s.m = m
	s.apply(t, m.Ready())
	for len(s.queue) > 0 {
		if s.loseAt > 0 && s.results == s.loseAt && s.lost == nil {
			m = s.restore(t, cfg)
			s.lost = m.CheckpointsLost(func(string) bool { return false })
			if s.loseWeights {
				s.lostWeights = m.WeightsLost(func(string) bool { return false })
			}
			s.created, s.queue = map[string]bool{}, m.Outstanding()
		}
		task := s.queue[0]
		s.queue = s.queue[1:]
		if restoreEvery > 0 && s.results%restoreEvery == restoreEvery-1 {
			m = s.restore(t, cfg)
			if got, want := len(m.Outstanding()), len(s.queue)+1; got != want {
				t.Fatalf("restored machine has %d tasks outstanding, the queue %d", got, want)
			}
		}
		if task.Checkpoint != nil && !s.created[task.Checkpoint.Name] {
			t.Fatalf("genome %d rung %d trains from checkpoint %s, which is gone", task.GenomeID, task.Rung, task.Checkpoint.Name)
		}
		r := answer(task)
		r.Replicate, r.ScheduleSteps = task.Replicate, len(task.Schedule)
		if s.noReplay {
			r.ScheduleSteps = 0 // a worker that predates schedules
		}
		if cfg.Run.Config.PBT() {
			r = s.trainPBT(task, r)
		}
		if s.noise != nil {
			r.Fitness += gahpo.Float(s.noise(task))
		}
		if s.edit != nil {
			s.edit(&r)
		}
		if s.seen != nil {
			s.seen(task)
		}
		if task.Kind == gahpo.KindFitness {
			s.trained += task.Epochs - task.FromEpochs
		}
		if r.Checkpoint != nil {
			s.created[r.Checkpoint.Name] = true
			s.peak = max(s.peak, len(s.created))
		}
		var err error
		if task.Kind == gahpo.KindFinal {
			err = m.Final(r, t0.Add(time.Duration(s.results)*time.Second))
		} else {
			err = m.Result(r, t0.Add(time.Duration(s.results)*time.Second))
		}
		if err != nil {
			t.Fatalf("result %d (genome %d rung %d): %v", s.results, task.GenomeID, task.Rung, err)
		}
		s.results++
		s.apply(t, m.Ready())
		checkOutstanding(t, m, s.queue, task)
		checkOrders(t, m)
	}
	if !m.Done() {
		t.Fatalf("queue empty but the run is %s", m.Run().Status)
	}
	return s
}

func TestHalvingRunsToTheTopRung(t *testing.T) {
	for _, breeding := range []string{gahpo.BreedingSteadyState, gahpo.BreedingGenerational} {
		t.Run(breeding, func(t *testing.T) {
			rc := halving(runConfig(9, 3), breeding)
			rc.InFlight = 3
			m, cfg := testMachine(t, rc)
			s := drive(t, m, cfg, 0)
			recs := s.records()
			if len(recs) != 27 {
				t.Fatalf("%d genomes bred, want 27", len(recs))
			}
			perRung := make([]int, 3)
			for _, r := range recs {
				if r.DuplicateOf != 0 {
					continue
				}
				if len(r.RungFitness) == 0 || r.Status == gahpo.GenomeQueued || r.Status == gahpo.GenomePromoted {
					t.Fatalf("genome %d ended %s with %d rung results", r.ID, r.Status, len(r.RungFitness))
				}
				for k := range r.RungFitness {
					perRung[k]++
				}
				if want := []int{1, 3, 9}[r.Rung]; r.Epochs != want {
					t.Errorf("genome %d at rung %d has %d epochs, want %d", r.ID, r.Rung, r.Epochs, want)
				}
				if len(r.Curve) != r.Epochs {
					t.Errorf("genome %d: %d curve points for %d epochs", r.ID, len(r.Curve), r.Epochs)
				}
			}
			// Fewer results at each rung (ASHA may promote more than ⌊n/η⌋
			// in all: early results are compared with fewer others).
			if perRung[1] >= perRung[0] || perRung[2] >= perRung[1] || perRung[2] < 1 {
				t.Errorf("results per rung %v: not successive halving by 3", perRung)
			}
			if s.run.Status != gahpo.RunDone || s.final == nil || s.weights == nil {
				t.Fatalf("run %s, final %v, weights %v", s.run.Status, s.final, s.weights)
			}
			best := recs[s.run.Best-1]
			if best.Rung != 2 || s.final.GenomeID != best.ID || len(s.final.Epochs) != 9 {
				t.Fatalf("final genome %d at rung %d with %d epochs: the best must be fully trained", best.ID, best.Rung, len(s.final.Epochs))
			}
			for _, r := range recs {
				if r.DuplicateOf == 0 && r.Rung == 2 && gahpo.Better(r, best) {
					t.Fatalf("genome %d (%v) beats the final genome %d (%v) at the top rung", r.ID, r.Fitness, best.ID, best.Fitness)
				}
			}
			if len(s.created) != 0 {
				t.Fatalf("checkpoints left at the end: %v", s.created)
			}
			if s.run.CheckpointPeak == 0 || s.run.CheckpointPeak > uint64(1000*s.peak) {
				t.Fatalf("checkpoint peak %d bytes, %d checkpoints of 1000 alive at most", s.run.CheckpointPeak, s.peak)
			}
			if len(s.run.Proxy) == 0 {
				t.Fatal("no proxy correlation reported")
			}
		})
	}
}

func TestPromotionIsImmediateAndByQuota(t *testing.T) {
	rc := halving(runConfig(6, 1), gahpo.BreedingGenerational)
	m, _ := testMachine(t, rc)
	rd := m.Ready()
	if len(rd.Publish) != 6 {
		t.Fatalf("%d first tasks, want 6", len(rd.Publish))
	}
	// Fitness by genome id: 1 is best.
	fits := map[int]float64{1: 0.1, 2: 0.5, 3: 0.3, 4: 0.05, 5: 0.9, 6: 0.2}
	order := []int{2, 3, 1, 5, 4, 6}
	// ASHA promotes whatever the results so far put in the best ⌊n/η⌋:
	// after 5 results genome 4 is the best and goes on too.
	want := [][]int{{}, {}, {1}, {}, {4}, {}}
	tasks := map[int]gahpo.Task{}
	for _, tk := range rd.Publish {
		tasks[tk.GenomeID] = tk
	}
	for i, id := range order {
		r := answer(tasks[id])
		r.Fitness = gahpo.Float(fits[id])
		if err := m.Result(r, t0); err != nil {
			t.Fatal(err)
		}
		var got []int
		for _, tk := range m.Ready().Publish {
			if tk.Rung != 1 || tk.Epochs != 3 || tk.FromEpochs != 1 || tk.Checkpoint == nil || !tk.Test {
				t.Fatalf("promotion task %+v", tk)
			}
			got = append(got, tk.GenomeID)
		}
		if !slices.Equal(got, want[i]) && !(len(got) == 0 && len(want[i]) == 0) {
			t.Fatalf("after result %d (genome %d): promoted %v, want %v", i+1, id, got, want[i])
		}
	}
}

func TestRestoreContinuesIdentically(t *testing.T) {
	for _, rc := range []gahpo.RunConfig{
		halving(runConfig(6, 3), gahpo.BreedingSteadyState),
		halving(runConfig(6, 3), gahpo.BreedingGenerational),
		runConfig(6, 3), // the paper's: ga.Engine and a final training
		pbt(runConfig(8, 1)),
		func() gahpo.RunConfig {
			c := runConfig(6, 3)
			c.Breeding = gahpo.BreedingSteadyState
			c.FinalEpochs = 2
			return c
		}(),
	} {
		rc.FinalEpochs = max(rc.FinalEpochs, 2)
		t.Run(rc.Fidelity+"/"+rc.Breeding, func(t *testing.T) {
			m1, cfg := testMachine(t, rc)
			want := drive(t, m1, cfg, 0)
			for _, every := range []int{1, 4, 7} {
				m2, cfg := testMachine(t, rc)
				got := drive(t, m2, cfg, every)
				if !reflect.DeepEqual(got.records(), want.records()) {
					t.Fatalf("restoring every %d results changed the history", every)
				}
				gf, _ := json.Marshal(got.final)
				wf, err := json.Marshal(want.final)
				if err != nil {
					t.Fatal(err)
				}
				if got.run.Best != want.run.Best || !bytes.Equal(gf, wf) {
					t.Fatalf("restoring every %d results changed the result: best %d %+v, want %d %+v", every, got.run.Best, got.final, want.run.Best, want.final)
				}
			}
			if m1.engine == nil {
				return
			}
			// A run stored before heads existed: the engine's whole state.
			m3, cfg := testMachine(t, rc)
			got := driveSim(t, &sim{stored: map[int]gahpo.GenomeRecord{}, created: map[string]bool{}, failAbove: math.Inf(1), wholeEngine: true}, m3, cfg, 3)
			if !reflect.DeepEqual(got.records(), want.records()) {
				t.Fatal("restoring from the whole engine state changed the history")
			}
		})
	}
}

func TestResultsRefused(t *testing.T) {
	rc := halving(runConfig(6, 2), gahpo.BreedingSteadyState)
	m, _ := testMachine(t, rc)
	tasks := m.Ready().Publish
	good := answer(tasks[0])
	tests := []struct {
		name string
		mod  func(*gahpo.Result)
		want error
	}{
		{"another run", func(r *gahpo.Result) { r.RunID = "other" }, ErrRefused},
		{"unknown genome", func(r *gahpo.Result) { r.GenomeID = 999 }, ErrRefused},
		{"no token", func(r *gahpo.Result) { r.Token = "" }, ErrRefused},
		{"token of another genome", func(r *gahpo.Result) { r.Token = tasks[1].Token }, ErrRefused},
		{"wrong rung", func(r *gahpo.Result) { r.Rung = 1 }, ErrRefused},
		{"final kind", func(r *gahpo.Result) { r.Kind = gahpo.KindFinal }, ErrRefused},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := good
			tt.mod(&r)
			if err := m.Result(r, t0); !errors.Is(err, tt.want) {
				t.Fatalf("got %v, want %v", err, tt.want)
			}
			if rd := m.Ready(); !rd.Empty() {
				t.Fatalf("a refused result changed something: %+v", rd)
			}
		})
	}
	if err := m.Result(good, t0); err != nil {
		t.Fatal(err)
	}
	m.Ready()
	if err := m.Result(good, t0); !errors.Is(err, ErrStale) {
		t.Fatalf("a repeated result: %v, want ErrStale", err)
	}
}

func TestImpossibleFitnessFailsTheGenome(t *testing.T) {
	for _, f := range []float64{-5, math.Inf(-1), math.NaN(), 2e9} {
		t.Run(fmt.Sprint(f), func(t *testing.T) {
			m, _ := testMachine(t, runConfig(4, 1))
			tk := m.Ready().Publish[0]
			r := answer(tk)
			r.Fitness = gahpo.Float(f)
			if err := m.Result(r, t0); err != nil {
				t.Fatal(err)
			}
			g, _ := m.Genome(tk.GenomeID)
			if g.Status != gahpo.GenomeFailed || !math.IsInf(float64(g.Fitness), 1) || g.Failure == "" {
				t.Fatalf("fitness %v: genome %s, fitness %v, failure %q", f, g.Status, g.Fitness, g.Failure)
			}
		})
	}
}

func TestSpearman(t *testing.T) {
	tests := []struct {
		x, y []float64
		want float64
	}{
		{[]float64{1, 2, 3, 4}, []float64{10, 20, 30, 40}, 1},
		{[]float64{1, 2, 3, 4}, []float64{4, 3, 2, 1}, -1},
		{[]float64{1, 2, 3}, []float64{1, 3, 2}, 0.5},
		{[]float64{1, 1, 2}, []float64{1, 2, 3}, math.Sqrt(3) / 2},
	}
	for _, tt := range tests {
		if got := Spearman(tt.x, tt.y); math.Abs(got-tt.want) > 1e-12 {
			t.Errorf("Spearman(%v, %v) = %v, want %v", tt.x, tt.y, got, tt.want)
		}
	}
	if !math.IsNaN(Spearman([]float64{1}, []float64{2})) || !math.IsNaN(Spearman([]float64{1, 1}, []float64{1, 2})) {
		t.Error("Spearman of one pair or a constant side is not NaN")
	}
	if got := Spearman([]float64{1, math.NaN(), 3}, []float64{1, 2, 3}); !math.IsNaN(got) {
		t.Errorf("Spearman with a NaN = %v, want NaN", got)
	}
}

func TestBudgetAndRandomSearch(t *testing.T) {
	rc := halving(runConfig(6, 10), gahpo.BreedingRandom)
	rc.BudgetEpochs, rc.InFlight = 40, 2
	m, cfg := testMachine(t, rc)
	s := drive(t, m, cfg, 0)
	recs := s.records()
	if len(recs) >= 60 {
		t.Fatalf("%d genomes bred: the budget of 40 epochs did not stop breeding", len(recs))
	}
	spent := 0
	for _, r := range recs {
		if r.DuplicateOf != 0 {
			continue
		}
		spent += r.Epochs
		if !slices.Equal(r.Ops, []string{"random"}) {
			t.Errorf("genome %d of a random search has ops %v", r.ID, r.Ops)
		}
	}
	// Breeding stops at the budget; what was under way and its
	// promotions (at most a top-rung training per genome) finish.
	if spent < 40 || spent > 40+9*len(recs)/3 {
		t.Errorf("%d epochs spent for a budget of 40", spent)
	}
	if s.final == nil {
		t.Fatal("a budgeted run ended without its final training")
	}
}

// TestSummariesWaitForFullGenerations: a generation is summarised only
// once all its genomes are bred and have a first result, in every
// breeding; a steady state, which breeds one genome at a time, must not
// summarise a generation on its first result.
func TestSummariesWaitForFullGenerations(t *testing.T) {
	const pop = 6
	for _, breeding := range []string{gahpo.BreedingGenerational, gahpo.BreedingSteadyState, gahpo.BreedingRandom} {
		t.Run(breeding, func(t *testing.T) {
			rc := halving(runConfig(pop, 4), breeding)
			rc.InFlight = 2
			m, cfg := testMachine(t, rc)
			s := drive(t, m, cfg, 0)
			if len(s.summarised) < 4 {
				t.Fatalf("%d summaries for 4 generations", len(s.summarised))
			}
			for i, n := range s.summarised {
				if n != pop {
					t.Errorf("summary %d came out with %d genomes of its generation bred, want %d", i, n, pop)
				}
			}
		})
	}
}

// TestTimeBudget: breeding stops at the first result that comes after the
// run's time budget (the simulated results come a second apart); what is
// under way and its promotions finish, and the run ends with its final
// training. A machine restored on the way decides the same.
func TestTimeBudget(t *testing.T) {
	rc := halving(runConfig(6, 10), gahpo.BreedingSteadyState)
	rc.TimeBudget, rc.InFlight = 15*time.Second, 2
	var runs [][]gahpo.GenomeRecord
	for _, restoreEvery := range []int{0, 4} {
		m, cfg := testMachine(t, rc)
		s := drive(t, m, cfg, restoreEvery)
		recs := s.records()
		// Results 0..15 may breed (one each, and the first InFlight).
		if len(recs) > 16+rc.InFlight+1 {
			t.Errorf("restore every %d: %d genomes bred: the time budget of 15 results did not stop breeding", restoreEvery, len(recs))
		}
		if s.final == nil || s.run.Status != gahpo.RunDone {
			t.Fatalf("restore every %d: the run ended %s without its final training", restoreEvery, s.run.Status)
		}
		runs = append(runs, recs)
	}
	if len(runs[0]) != len(runs[1]) {
		t.Fatalf("restored: %d genomes, uninterrupted %d", len(runs[1]), len(runs[0]))
	}
	for i := range runs[0] {
		if a, b := runs[0][i], runs[1][i]; a.Fitness != b.Fitness || a.Rung != b.Rung || !slices.Equal(a.Genes, b.Genes) {
			t.Errorf("genome %d differs once restored: %+v / %+v", a.ID, a, b)
		}
	}
}

// TestBudgetNeedsAPool: a budget of epochs or time has nothing to stop in
// a generational one-epoch search, whose engine breeds whole generations:
// the configuration is refused, not silently ignored.
func TestBudgetNeedsAPool(t *testing.T) {
	tests := []struct {
		name    string
		edit    func(*gahpo.RunConfig)
		wantErr bool
	}{
		{"epochs, one-epoch generational", func(c *gahpo.RunConfig) { c.BudgetEpochs = 10 }, true},
		{"time, one-epoch generational", func(c *gahpo.RunConfig) { c.TimeBudget = time.Hour }, true},
		{"time, one-epoch steady state", func(c *gahpo.RunConfig) { c.TimeBudget, c.Breeding = time.Hour, gahpo.BreedingSteadyState }, false},
		{"time, halving generational", func(c *gahpo.RunConfig) { *c = halving(*c, gahpo.BreedingGenerational); c.TimeBudget = time.Hour }, false},
		{"negative time", func(c *gahpo.RunConfig) { *c = halving(*c, gahpo.BreedingGenerational); c.TimeBudget = -time.Second }, true},
	}
	for _, tt := range tests {
		rc := runConfig(6, 2)
		tt.edit(&rc)
		if err := rc.Validate(); (err != nil) != tt.wantErr {
			t.Errorf("%s: Validate() = %v, want an error: %v", tt.name, err, tt.wantErr)
		}
	}
}

// TestConfirmationChoosesOnTheMeanOfSeeds runs a halving search that
// confirms its three best genomes on three seeds, restoring the machine
// every few results: the first training at the top rung is lucky for odd
// genomes (a seed's luck), the replicates are not. The run's result is
// the confirmed genome with the lowest mean over its three trainings,
// each replicate trained from scratch to the top rung with a seed of its
// own (TestConfirmedBest has the choice's cases).
func TestConfirmationChoosesOnTheMeanOfSeeds(t *testing.T) {
	for _, restoreEvery := range []int{0, 4} {
		t.Run(fmt.Sprintf("restore-every-%d", restoreEvery), func(t *testing.T) {
			rc := halving(runConfig(9, 3), gahpo.BreedingSteadyState)
			rc.InFlight, rc.ConfirmSeeds, rc.ConfirmTop = 3, 3, 3
			m, cfg := testMachine(t, rc)
			top := 2
			s, replicates := driveConfirm(t, m, cfg, restoreEvery, top, func(task gahpo.Task) float64 {
				return -0.5 * curve(task.Params, task.Epochs) // half the loss
			})

			if len(replicates) != 6 {
				t.Fatalf("%d replicate tasks answered, want 3 genomes × 2", len(replicates))
			}
			seeds := map[uint64]bool{}
			for _, task := range replicates {
				if task.Epochs != 9 || task.FromEpochs != 0 || task.Checkpoint != nil || task.CheckpointTo != "" || task.WeightsTo != "" || !task.Test {
					t.Errorf("replicate %d of genome %d: %d epochs from %d, checkpoint %v, keeps %q %q, test %v: want from scratch to 9, tested, nothing kept",
						task.Replicate, task.GenomeID, task.Epochs, task.FromEpochs, task.Checkpoint, task.CheckpointTo, task.WeightsTo, task.Test)
				}
				own := s.stored[task.GenomeID].Seed
				if task.Seed == own || seeds[task.Seed] {
					t.Errorf("replicate %d of genome %d has seed %d, its genome's or another replicate's", task.Replicate, task.GenomeID, task.Seed)
				}
				seeds[task.Seed] = true
			}
			// The three best of the top rung by their first training
			// are the confirmed ones; the choice is the lowest mean.
			order := rankAtRung(s.records(), top)
			want, wantMean := 0, math.Inf(1)
			for i, id := range order {
				r := s.stored[id]
				if i >= 3 {
					if len(r.Replicates) != 0 {
						t.Errorf("genome %d, %d-th at the top rung, was confirmed", id, i+1)
					}
					continue
				}
				if len(r.Replicates) != 2 || r.ConfirmedFitness == nil {
					t.Fatalf("genome %d, %d-th at the top rung: %d replicates, confirmed %v", id, i+1, len(r.Replicates), r.ConfirmedFitness)
				}
				sum := float64(r.RungFitness[top])
				for _, rep := range r.Replicates {
					if rep.Status != gahpo.GenomeDone {
						t.Fatalf("genome %d: a replicate is %s", id, rep.Status)
					}
					sum += float64(rep.Fitness)
				}
				if mean := sum / 3; !sameFloat(gahpo.Float(mean), *r.ConfirmedFitness) {
					t.Errorf("genome %d: confirmed fitness %v, the mean of its trainings %v", id, *r.ConfirmedFitness, mean)
				} else if mean < wantMean {
					want, wantMean = id, mean
				}
			}
			if s.final == nil || s.final.GenomeID != want || s.run.Best != want {
				t.Fatalf("the run chose genome %d (final %+v), the lowest mean is genome %d's", s.run.Best, s.final, want)
			}
			if lead, _, n := ConfirmedLead(s.records()); lead != want || n != 3 {
				t.Errorf("the lead once every replicate is back: genome %d over %d trainings, want %d over 3", lead, n, want)
			}
			if s.final.Seeds != 3 || !sameFloat(*s.final.ConfirmedFitness, gahpo.Float(wantMean)) {
				t.Errorf("final: %d seeds, confirmed %v; want 3, %v", s.final.Seeds, *s.final.ConfirmedFitness, wantMean)
			}
			if first := s.stored[order[0]]; order[0]%2 == 1 && sameFloat(*first.ConfirmedFitness, first.RungFitness[top]) {
				t.Errorf("genome %d, lucky on its first training, has a confirmed fitness equal to it: its replicates did not count", order[0])
			}
			withReplicates := s.m.EpochsSpent()
			for i := range s.m.recs {
				s.m.recs[i].Replicates = nil
			}
			if without := s.m.EpochsSpent(); withReplicates-without != 6*9 {
				t.Errorf("the replicates count %d epoch-trainings, want 6 × 9", withReplicates-without)
			}
		})
	}
}

// TestConfirmedBest is the confirmation's choice on tables of trainings.
func TestConfirmedBest(t *testing.T) {
	inf := math.Inf(1)
	for _, tc := range []struct {
		name  string
		first []float64   // each genome's first training at the top rung
		reps  [][]float64 // its replicates (nil: not confirmed)
		want  int
	}{
		{"the lucky first training loses", []float64{0.10, 0.15}, [][]float64{{0.30, 0.30}, {0.15, 0.15}}, 2},
		{"a failed replicate loses", []float64{0.10, 0.20}, [][]float64{{0.10, inf}, {0.20, 0.20}}, 2},
		{"a tie goes to the better first training", []float64{0.20, 0.10}, [][]float64{{0.10, 0.30}, {0.30, 0.20}}, 2},
		{"only the confirmed compete", []float64{0.01, 0.20}, [][]float64{nil, {0.20, 0.20}}, 2},
		{"none confirmed", []float64{0.10, 0.20}, [][]float64{nil, nil}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rc := halving(runConfig(9, 3), gahpo.BreedingSteadyState)
			rc.ConfirmSeeds, rc.ConfirmTop = 3, 3
			m, _ := testMachine(t, rc)
			m.recs = nil
			for i, f := range tc.first {
				r := gahpo.GenomeRecord{ID: i + 1, Status: gahpo.GenomeDone, Rung: 2, Fitness: gahpo.Float(f),
					RungFitness: []gahpo.Float{1, 1, gahpo.Float(f)}}
				for _, x := range tc.reps[i] {
					r.Replicates = append(r.Replicates, gahpo.Replicate{Status: gahpo.GenomeDone, Fitness: gahpo.Float(x)})
				}
				m.recs = append(m.recs, r)
			}
			if got := m.confirmedBest(); got != tc.want {
				t.Errorf("confirmedBest = %d, want %d", got, tc.want)
			}
		})
	}
}

// TestConfirmedLead: while replicates come back, the lead is the lowest
// mean over the trainings back so far; once all are, it is confirmedBest's
// choice.
func TestConfirmedLead(t *testing.T) {
	const q = -1 // a replicate still queued
	inf := math.Inf(1)
	for _, tc := range []struct {
		name     string
		first    []float64
		reps     [][]float64
		want, n  int
		wantMean float64
	}{
		{"none back: the first trainings", []float64{0.20, 0.10}, [][]float64{{q, q}, {q, q}}, 2, 1, 0.10},
		{"a lucky first training overtaken", []float64{0.20, 0.10}, [][]float64{{0.20, q}, {0.40, q}}, 1, 2, 0.20},
		{"a failed replicate", []float64{0.10, 0.30}, [][]float64{{inf, q}, {q, q}}, 2, 1, 0.30},
		{"a tie goes to the better first training", []float64{0.30, 0.10}, [][]float64{{0.10, q}, {0.30, q}}, 2, 2, 0.20},
		{"only the confirmed compete", []float64{0.01, 0.20}, [][]float64{nil, {q, 0.20}}, 2, 2, 0.20},
		{"none confirmed", []float64{0.10}, [][]float64{nil}, 0, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var recs []gahpo.GenomeRecord
			for i, f := range tc.first {
				r := gahpo.GenomeRecord{ID: i + 1, Status: gahpo.GenomeDone, Rung: 2, Fitness: gahpo.Float(f),
					RungFitness: []gahpo.Float{1, 1, gahpo.Float(f)}}
				for _, x := range tc.reps[i] {
					rep := gahpo.Replicate{Status: gahpo.GenomeDone, Fitness: gahpo.Float(x)}
					if x == q {
						rep = gahpo.Replicate{Status: gahpo.GenomeQueued}
					}
					r.Replicates = append(r.Replicates, rep)
				}
				recs = append(recs, r)
			}
			id, mean, n := ConfirmedLead(recs)
			if id != tc.want || n != tc.n || (id != 0 && math.Abs(mean-tc.wantMean) > 1e-12) {
				t.Errorf("ConfirmedLead = %d, %g over %d, want %d, %g over %d", id, mean, n, tc.want, tc.wantMean, tc.n)
			}
		})
	}
}

// TestReplicateResultsRefused: a replicate's result answers its own task
// only: again, it is stale; with another token or replicate number, or
// of a genome never bred, it is refused.
func TestReplicateResultsRefused(t *testing.T) {
	rc := halving(runConfig(9, 2), gahpo.BreedingSteadyState)
	rc.InFlight, rc.ConfirmSeeds, rc.ConfirmTop = 3, 2, 2
	m, cfg := testMachine(t, rc)
	s := &sim{stored: map[int]gahpo.GenomeRecord{}, created: map[string]bool{}, failAbove: math.Inf(1)}
	var rep gahpo.Task
	s.seen = func(task gahpo.Task) {
		if task.Replicate == 0 || rep.Replicate != 0 {
			return
		}
		rep = task
		// While it is outstanding: a result with another token or
		// replicate number is refused, and changes nothing.
		for _, change := range []func(*gahpo.Result){
			func(r *gahpo.Result) { r.Token = s.m.Token(r.GenomeID, 0) },
			func(r *gahpo.Result) { r.Replicate = 7 },
			func(r *gahpo.Result) { r.Replicate = 0 }, // an older worker's, which does not echo it
		} {
			r := answer(task)
			r.Replicate = task.Replicate
			change(&r)
			if err := s.m.Result(r, t0); !errors.Is(err, ErrRefused) {
				t.Errorf("a mismatched result of an outstanding replicate: %v, want refused", err)
			}
		}
		if !s.m.Outstands(task) || !s.m.Ready().Empty() {
			t.Error("a refused result changed the machine")
		}
	}
	driveSim(t, s, m, cfg, 0)
	if rep.Replicate == 0 {
		t.Fatal("no replicate task was issued")
	}
	r := answer(rep)
	r.Replicate = rep.Replicate
	for _, tc := range []struct {
		name   string
		change func(*gahpo.Result)
		want   error
	}{
		{"again", func(*gahpo.Result) {}, ErrStale},
		{"another token", func(r *gahpo.Result) { r.Token = m.Token(r.GenomeID, 0) }, ErrRefused},
		{"another replicate", func(r *gahpo.Result) { r.Replicate = 7 }, ErrRefused},
		{"a genome never bred", func(r *gahpo.Result) { r.GenomeID = 999 }, ErrRefused},
		{"another run", func(r *gahpo.Result) { r.RunID = "other" }, ErrRefused},
	} {
		x := r
		tc.change(&x)
		if err := m.Result(x, t0); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
}

// TestFinalTestLoss: a final training's test loss is its last epoch's
// test_loss, not its fitness: a problem file's fitness is its objective
// (negated when maximised), which is no loss.
func TestFinalTestLoss(t *testing.T) {
	epoch := func(m map[string]gahpo.Float) []gahpo.EpochReport {
		return []gahpo.EpochReport{{Epoch: 1, Metrics: map[string]gahpo.Float{"test_loss": 9}}, {Epoch: 2, Metrics: m}}
	}
	tests := []struct {
		name string
		r    gahpo.Result
		want float64 // NaN: none
	}{
		{"the CNN's epochs", gahpo.Result{Fitness: 0.03, Curve: epoch(map[string]gahpo.Float{"test_loss": 0.03, "test_accuracy": 0.99})}, 0.03},
		{"a maximised objective without a test loss", gahpo.Result{Fitness: -0.5, Curve: epoch(map[string]gahpo.Float{"acc": 0.5})}, math.NaN()},
		{"a command reporting its test loss", gahpo.Result{Fitness: 0.2, Curve: epoch(map[string]gahpo.Float{"val_loss": 0.2, "test_loss": 0.25})}, 0.25},
		{"no epochs: the fitness", gahpo.Result{Fitness: 0.04}, 0.04},
	}
	for _, tt := range tests {
		if got := float64(finalTestLoss(tt.r)); got != tt.want && !(math.IsNaN(got) && math.IsNaN(tt.want)) {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
}

// TestFitnessEpochs: a one-epoch run of a problem file names its fitness's
// epochs in every task (the budget's min) and records them; a result
// trained to other epochs is refused, as a rung's is.
func TestFitnessEpochs(t *testing.T) {
	rc := runConfig(6, 2)
	rc.FitnessEpochs = 2
	m, cfg := testMachine(t, rc)
	s := &sim{stored: map[int]gahpo.GenomeRecord{}, created: map[string]bool{}, failAbove: math.Inf(1)}
	var epochs []int
	s.seen = func(task gahpo.Task) {
		if task.Kind == gahpo.KindFitness {
			epochs = append(epochs, task.Epochs)
		}
	}
	driveSim(t, s, m, cfg, 0)
	if len(epochs) == 0 || slices.ContainsFunc(epochs, func(e int) bool { return e != 2 }) {
		t.Errorf("fitness tasks of epochs %v, want 2 each", epochs)
	}
	trained := 0
	for _, g := range s.stored {
		if g.DuplicateOf == 0 && g.Epochs != 2 {
			t.Errorf("genome %d recorded with %d epochs, want 2", g.ID, g.Epochs)
		}
		if g.DuplicateOf == 0 {
			trained++
		}
	}
	if got := s.m.EpochsSpent(); got != 2*trained {
		t.Errorf("%d epoch-trainings spent by %d genomes of 2 epochs each", got, trained)
	}

	m, _ = testMachine(t, rc)
	published := m.Ready().Publish
	task := published[0]
	r := answer(task)
	r.EpochsDone = 9 // a worker that trained the budget's max
	if err := m.Result(r, t0); err != nil {
		t.Fatal(err)
	}
	if g := m.recs[task.GenomeID-1]; g.Status != gahpo.GenomeFailed || !strings.Contains(g.Failure, "trained to 9 epochs, the task asked for 2 (GAHPO_EPOCHS: a training command trains to that epoch") {
		t.Errorf("a result of 9 epochs for a task of 2: %s, %q", g.Status, g.Failure)
	}

	// A trainer numbering its epochs from 0 reports epochs 0 and 1 for a
	// task of 2: the failure says how gahpo numbers them.
	task = published[1]
	r = answer(task)
	r.Curve = []gahpo.EpochReport{{Epoch: 0, Metrics: map[string]gahpo.Float{"loss": 0.9}}, {Epoch: 1, Metrics: map[string]gahpo.Float{"loss": 0.5}}}
	r.EpochsDone = 1
	if err := m.Result(r, t0); err != nil {
		t.Fatal(err)
	}
	if g := m.recs[task.GenomeID-1]; g.Status != gahpo.GenomeFailed || !strings.Contains(g.Failure, `trained to 1 epochs, the task asked for 2: its reports number the epochs from 0, and the first epoch trained is "epoch": 1`) {
		t.Errorf("a result of epochs 0 and 1 for a task of 2: %s, %q", g.Status, g.Failure)
	}
}

// driveConfirm runs m to its end in a sim where the first training at rung
// top of each odd genome is lucky (luck is added to its fitness), and
// returns the sim and the confirmation tasks it answered, in order.
func driveConfirm(t *testing.T, m *Machine, cfg Config, restoreEvery, top int, luck func(gahpo.Task) float64) (*sim, []gahpo.Task) {
	t.Helper()
	s := &sim{stored: map[int]gahpo.GenomeRecord{}, created: map[string]bool{}, failAbove: math.Inf(1)}
	s.noise = func(task gahpo.Task) float64 {
		if task.Rung == top && task.Replicate == 0 && task.GenomeID%2 == 1 {
			return luck(task)
		}
		return 0
	}
	var replicates []gahpo.Task
	s.seen = func(task gahpo.Task) {
		if task.Replicate > 0 {
			replicates = append(replicates, task)
		}
	}
	driveSim(t, s, m, cfg, restoreEvery)
	return s, replicates
}

// TestFinalEpochsFromCurve: a final training's fixed epoch metrics come
// from its curve by one rule, whatever the worker sent in their place (an
// older worker gave 0 for a loss its trainer did not report).
func TestFinalEpochsFromCurve(t *testing.T) {
	rc := runConfig(4, 2)
	rc.FinalEpochs = 2
	m, cfg := testMachine(t, rc)
	s := &sim{stored: map[int]gahpo.GenomeRecord{}, created: map[string]bool{}, failAbove: math.Inf(1)}
	s.edit = func(r *gahpo.Result) {
		if r.Kind == gahpo.KindFinal {
			r.Epochs = []gahpo.EpochMetrics{{Epoch: 1}, {Epoch: 2}} // zeros: an older worker's
		}
	}
	got := driveSim(t, s, m, cfg, 0)
	if got.final == nil || len(got.final.Epochs) != 2 {
		t.Fatalf("final %+v", got.final)
	}
	for _, e := range got.final.Epochs {
		if !math.IsNaN(float64(e.TrainLoss)) || !math.IsNaN(float64(e.TestLoss)) {
			t.Errorf("epoch %d: train loss %v, test loss %v; want none (NaN): the trainer reported val_loss only", e.Epoch, e.TrainLoss, e.TestLoss)
		}
	}
}

// TestAttemptsRecorded: a genome records how many deliveries trained it.
// The delivery after the last that --max-attempts allows trains nothing:
// it only reports that every worker that took the task died or lost it.
func TestAttemptsRecorded(t *testing.T) {
	for _, tc := range []struct {
		name         string
		max, attempt int
		failure      string
		want         int
	}{
		{"first delivery", 3, 1, "", 1},
		{"third delivery of three", 3, 3, "", 3},
		{"given up after two", 2, 3, "gave up after 2 deliveries: every worker that took it died or lost it", 2},
		{"given up after one", 1, 2, "gave up after 1 delivery: every worker that took it died or lost it", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rc := runConfig(4, 2)
			rc.MaxAttempts = tc.max
			m, _ := testMachine(t, rc)
			task := m.Ready().Publish[0]
			r := answer(task)
			r.Attempt, r.Failure = tc.attempt, tc.failure
			if err := m.Result(r, t0); err != nil {
				t.Fatal(err)
			}
			if g, _ := m.Genome(task.GenomeID); g.Attempts != tc.want {
				t.Errorf("delivery %d of at most %d: %d attempts recorded, want %d", tc.attempt, tc.max, g.Attempts, tc.want)
			}
		})
	}
}

// HandedBack finds the outstanding task a hand-back names, by its token,
// and nothing for one answered since, never issued, or of another run.
func TestHandedBack(t *testing.T) {
	m, _ := testMachine(t, runConfig(4, 2))
	tasks := m.Ready().Publish
	if len(tasks) < 2 {
		t.Fatalf("%d tasks published", len(tasks))
	}
	first, second := tasks[0], tasks[1]
	if err := m.Result(answer(second), t0); err != nil {
		t.Fatal(err)
	}
	handBack := func(tk gahpo.Task) gahpo.Result {
		return gahpo.Result{V: gahpo.MessageVersion, Kind: gahpo.KindHandBack, HandBack: tk.Kind, RunID: tk.RunID, GenomeID: tk.GenomeID, Attempt: 1, Token: tk.Token}
	}
	for _, tt := range []struct {
		name string
		edit func(*gahpo.Result)
		from gahpo.Task
		want bool
	}{
		{"outstanding", func(*gahpo.Result) {}, first, true},
		{"answered since", func(*gahpo.Result) {}, second, false},
		{"a forged token", func(r *gahpo.Result) { r.Token = "forged" }, first, false},
		{"no token", func(r *gahpo.Result) { r.Token = "" }, first, false},
		{"another genome's token", func(r *gahpo.Result) { r.GenomeID = second.GenomeID }, first, false},
		{"another run", func(r *gahpo.Result) { r.RunID = "run2" }, first, false},
		{"a fitness result", func(r *gahpo.Result) { r.Kind = gahpo.KindFitness }, first, false},
		{"of a final task", func(r *gahpo.Result) { r.HandBack = gahpo.KindFinal }, first, false},
	} {
		r := handBack(tt.from)
		tt.edit(&r)
		got, ok := m.HandedBack(r)
		if ok != tt.want || ok && (got.GenomeID != tt.from.GenomeID || got.Token != tt.from.Token) {
			t.Errorf("%s: HandedBack = genome %d, %v; want genome %d, %v", tt.name, got.GenomeID, ok, tt.from.GenomeID, tt.want)
		}
	}
}
