package search

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gahpo/gahpo"
)

func pbt(rc gahpo.RunConfig) gahpo.RunConfig {
	rc.Fidelity, rc.MinEpochs, rc.MaxEpochs = gahpo.FidelityPBT, 1, 6
	return rc
}

// pbtDecay is the synthetic training of the PBT tests: each epoch
// multiplies the state (a loss) by a factor that is smallest when lr is
// near a target that falls epoch by epoch, so the best schedule lowers lr
// as it goes: no constant genome follows it.
func pbtDecay(lr float64, epoch int) float64 {
	d := math.Log10(lr) - (-0.5 - 0.5*float64(epoch))
	return 1 - 0.5*math.Exp(-d*d)
}

// trainPBT replaces r's figures by the synthetic training of task from
// its checkpoint's state, and keeps the new state with r's checkpoint.
func (s *sim) trainPBT(task gahpo.Task, r gahpo.Result) gahpo.Result {
	if s.state == nil {
		s.state = map[string]float64{}
	}
	loss := 1.0
	if task.Checkpoint != nil {
		loss = s.state[task.Checkpoint.Name]
	}
	// A replicate's schedule (Task.Schedule) trains each epoch with the
	// step in force, as the worker replays it.
	params := func(ep int) map[string]float64 {
		p := task.Params
		for _, st := range task.Schedule {
			if st.Epoch <= ep {
				p = st.Params
			}
		}
		return p
	}
	floor := func(ep int) float64 { x := params(ep)["x"]; return (x - 0.3) * (x - 0.3) }
	x := params(task.Epochs)["x"]
	r.Curve = nil
	for ep := task.FromEpochs + 1; ep <= task.Epochs; ep++ {
		loss *= pbtDecay(params(ep)["lr"], ep)
		r.Curve = append(r.Curve, gahpo.EpochReport{Epoch: ep, Metrics: map[string]gahpo.Float{"val_loss": gahpo.Float(loss + floor(ep))}})
	}
	r.Fitness = gahpo.Float(loss + floor(task.Epochs))
	if x > s.failAbove {
		r.Fitness, r.Failure, r.Curve, r.Checkpoint = gahpo.Float(math.Inf(1)), "diverged", nil, nil
	}
	if r.Checkpoint != nil {
		s.state[r.Checkpoint.Name] = loss
	}
	return r
}

func TestPBTExploitsAndExplores(t *testing.T) {
	rc := pbt(runConfig(8, 1))
	m, cfg := testMachine(t, rc)
	first := m.Ready()
	if len(first.Publish) != 8 {
		t.Fatalf("%d first tasks, want the population of 8", len(first.Publish))
	}
	m, _ = testMachine(t, rc)
	s := drive(t, m, cfg, 0)
	recs := s.records()
	if len(recs) <= 8 {
		t.Fatalf("%d genomes: no genome was replaced", len(recs))
	}
	top := 0
	for _, r := range recs {
		switch {
		case r.Rung == 5:
			top++
			if r.Status != gahpo.GenomeDone || r.Epochs != 6 || len(r.Curve) != 6 || len(r.RungFitness) != 6 {
				t.Errorf("genome %d at the top: %s, %d epochs, %d curve points, %d rung results", r.ID, r.Status, r.Epochs, len(r.Curve), len(r.RungFitness))
			}
		case r.Stopped == "":
			t.Errorf("genome %d ended at rung %d (%s) without a reason", r.ID, r.Rung, r.Status)
		}
		if r.Checkpoint != nil {
			t.Errorf("genome %d keeps checkpoint %s after the run", r.ID, r.Checkpoint.Name)
		}
		if r.Exploited == 0 {
			if r.ID > 8 || r.Inherited != 0 || len(r.Schedule) != 1 || r.Schedule[0].Epoch != 1 {
				t.Errorf("initial genome %d: inherited %d, schedule %+v", r.ID, r.Inherited, r.Schedule)
			}
			continue
		}
		// An exploiting genome: the past of its source, then its own.
		src, x := recs[r.Exploited-1], recs[r.Replaces-1]
		k := r.Inherited - 1
		if !slices.Equal(r.RungFitness[:r.Inherited], src.RungFitness[:r.Inherited]) || !slices.Equal(r.Parents, []int{src.ID}) {
			t.Errorf("genome %d exploits %d: rung fitness %v, its source's %v", r.ID, src.ID, r.RungFitness, src.RungFitness)
		}
		if n := len(r.Schedule); n != len(src.Schedule[:n-1])+1 || r.Schedule[n-1].Epoch != r.Inherited+1 || r.Schedule[n-1].Genome != r.ID {
			t.Errorf("genome %d: schedule %+v after its source's %+v", r.ID, r.Schedule, src.Schedule)
		}
		// The replaced genome was judged at a rung at or below the source's
		// checkpoint, and was no better than the source there.
		if j := x.Rung; j > k || float64(x.RungFitness[j]) < float64(src.RungFitness[j]) || x.Stopped == "" {
			t.Errorf("genome %d (rung %d, %v) replaced by %d exploiting %d (%v)", x.ID, x.Rung, x.RungFitness, r.ID, src.ID, src.RungFitness)
		}
	}
	if top != 8 {
		t.Errorf("%d genomes reached the top rung, want the population of 8", top)
	}
	best := recs[s.run.Best-1]
	// The final's time is its lineage's, six rungs of a second each
	// (answer), not the best genome's own rungs only.
	if s.final != nil && (s.final.Duration != 6*time.Second || !slices.Equal(s.final.Workers, []string{"w"}) || len(best.RungDuration) != 6) {
		t.Errorf("final of genome %d (inherited %d rungs, its own %v): duration %v, workers %v; want 6s on w", best.ID, best.Inherited, best.Duration, s.final.Duration, s.final.Workers)
	}
	if s.final == nil || s.final.GenomeID != best.ID || len(s.final.Epochs) != 6 || !slices.EqualFunc(s.final.Schedule, best.Schedule, func(a, b gahpo.ScheduleStep) bool { return a.Epoch == b.Epoch && a.Genome == b.Genome }) {
		t.Fatalf("final %+v for best genome %d", s.final, best.ID)
	}
	// The best schedule lowers lr: PBT must find a better model than any
	// initial genome trained straight through with its own constant lr.
	bestConstant := math.Inf(1)
	for _, r := range recs[:8] {
		loss := 1.0
		for ep := 1; ep <= 6; ep++ {
			loss *= pbtDecay(r.Params["lr"], ep)
		}
		bestConstant = min(bestConstant, loss+(r.Params["x"]-0.3)*(r.Params["x"]-0.3))
	}
	if float64(best.Fitness) >= bestConstant {
		t.Errorf("PBT's best %v is no better than the best initial genome trained alone (%v)", best.Fitness, bestConstant)
	}
	t.Logf("%d genomes, best %d (%v) with %d schedule steps; best initial genome alone %v", len(recs), best.ID, best.Fitness, len(best.Schedule), bestConstant)
}

func TestPBTTaskGoesOnFromItsSource(t *testing.T) {
	rc := pbt(runConfig(4, 1))
	m, _ := testMachine(t, rc)
	tasks := m.Ready().Publish
	// Genome 4 is the worst at rung 0; 1 the best. Results come in the
	// order 1, 2, 4, 3: the first three wait for a quorum of three.
	fits := []float64{0.1, 0.2, 0.3, 0.9}
	var next []gahpo.Task
	for i, tk := range []gahpo.Task{tasks[0], tasks[1], tasks[3], tasks[2]} {
		r := answer(tk)
		r.Fitness = gahpo.Float(fits[tk.GenomeID-1])
		if err := m.Result(r, t0); err != nil {
			t.Fatal(err)
		}
		rd := m.Ready()
		if i < 2 && len(rd.Publish) != 0 {
			t.Fatalf("after %d results (quorum 3): %d tasks published", i+1, len(rd.Publish))
		}
		next = append(next, rd.Publish...)
	}
	if len(next) != 4 {
		t.Fatalf("%d tasks after rung 0, want 4", len(next))
	}
	var child gahpo.Task
	for _, tk := range next {
		if tk.GenomeID > 4 {
			child = tk
		} else if tk.GenomeID == 4 || tk.Rung != 1 || tk.FromGenome != 0 {
			t.Errorf("task %+v: genomes 1-3 go on, 4 is replaced", tk)
		}
	}
	src, _ := m.Genome(1)
	switch {
	case child.GenomeID != 5 || child.FromGenome != 1 || child.FromSeed != src.Seed || child.FromParams["lr"] != src.Params["lr"]:
		t.Fatalf("child task %+v: it must go on from genome 1's checkpoint with genome 1's hyperparameters", child)
	case child.Rung != 1 || child.FromEpochs != 1 || child.Epochs != 2 || child.Checkpoint == nil || child.Checkpoint.Name != src.Checkpoint.Name:
		t.Fatalf("child task %+v: rung 1 from genome 1's checkpoint %+v", child, src.Checkpoint)
	case child.Params["lr"] == src.Params["lr"] && child.Params["x"] == src.Params["x"]:
		t.Fatalf("child task %+v: hyperparameters not perturbed", child)
	}
	if x, _ := m.Genome(4); x.Stopped == "" || x.Checkpoint != nil {
		t.Fatalf("genome 4 after its replacement: %+v", x)
	}
}

func TestPBTReplacesFailures(t *testing.T) {
	rc := pbt(runConfig(8, 1))
	m, cfg := testMachine(t, rc)
	s := &sim{stored: map[int]gahpo.GenomeRecord{}, created: map[string]bool{}, failAbove: 0.6}
	s = driveSim(t, s, m, cfg, 0)
	failed, replaced := 0, 0
	for _, r := range s.records() {
		if r.Status != gahpo.GenomeFailed {
			continue
		}
		failed++
		if r.Stopped != "" {
			replaced++
		}
		if r.Rung == 5 {
			t.Errorf("failed genome %d at the top rung", r.ID)
		}
	}
	best := s.records()[s.run.Best-1]
	if failed == 0 || replaced != failed || best.Rung != 5 || !finite(float64(best.Fitness)) {
		t.Fatalf("%d failed genomes, %d replaced; best %d at rung %d (%v)", failed, replaced, best.ID, best.Rung, best.Fitness)
	}
}

// TestRungBest checks the rows of a population based training's "best per
// generation": one per rung, each the rung's best result (not the
// genome's last, and as written out here) with the rung's statistics, as
// the run's own summaries give them, with and without failures; a rung's
// summary is finished when its last result came back.
func TestRungBest(t *testing.T) {
	for _, failAbove := range []float64{math.Inf(1), 0.6} {
		rc := pbt(runConfig(8, 1))
		m, cfg := testMachine(t, rc)
		s := driveSim(t, &sim{stored: map[int]gahpo.GenomeRecord{}, created: map[string]bool{}, failAbove: failAbove}, m, cfg, 0)
		recs := s.records()
		rows := RungBest(rc, recs)
		if len(rows) != len(rc.RungEpochs()) {
			t.Fatalf("fail above %v: %d rows for %d rungs", failAbove, len(rows), len(rc.RungEpochs()))
		}
		failed, notLast := 0, 0
		for k, row := range rows {
			sum, ok := s.m.pbtSummary(k)
			if !ok {
				t.Fatalf("fail above %v: no summary of rung %d", failAbove, k)
			}
			if row.Generation != k || row.Rung != k || row.Epochs != rc.RungEpochs()[k] || row.GenomeID != sum.Best ||
				row.Fitness != sum.Fitness || row.RungFailed != sum.Failed || row.RungResults != rc.GA.Population ||
				!sameFloat(row.RungMedian, sum.Median) || !sameFloat(row.RungMean, sum.Mean) {
				t.Fatalf("fail above %v, rung %d: row %+v, summary %+v", failAbove, k, row, sum)
			}
			// Written out: the lowest result a genome trained to rung k
			// itself, and when the last of those results came back.
			low, own := math.Inf(1), 0
			var last time.Time
			for _, r := range recs {
				if len(r.RungFitness) > k && k >= r.Inherited {
					own++
					if f := float64(r.RungFitness[k]); f < low {
						low = f
					}
					if len(r.RungFinished) != len(r.RungFitness) {
						t.Fatalf("genome %d: %d rung times for %d rung results", r.ID, len(r.RungFinished), len(r.RungFitness))
					}
					if r.RungFinished[k].After(last) {
						last = r.RungFinished[k]
					}
				}
			}
			if !sum.Finished.Equal(last) {
				t.Fatalf("fail above %v, rung %d: summary finished %v, its last result came back %v", failAbove, k, sum.Finished, last)
			}
			if float64(row.Fitness) != low || row.RungResults != own {
				t.Fatalf("fail above %v, rung %d: best %v of %d results, written out %v of %d", failAbove, k, row.Fitness, row.RungResults, low, own)
			}
			failed += row.RungFailed
			if row.Fitness != recs[row.GenomeID-1].Fitness {
				notLast++
			}
		}
		if notLast == 0 {
			t.Errorf("fail above %v: every row shows its genome's last fitness; want the rung's", failAbove)
		}
		if (failed > 0) != (failAbove < 1) {
			t.Errorf("fail above %v: %d failures in the rows", failAbove, failed)
		}
	}
}

func sameFloat(a, b gahpo.Float) bool {
	return a == b || (math.IsNaN(float64(a)) && math.IsNaN(float64(b)))
}

// TestPBTConfirmsSchedules: a population based run with --confirm-seeds
// trains the schedules of its three best genomes from scratch on two more
// seeds each, and chooses the lowest mean. The first training at the top
// rung is lucky for odd genomes; a replicate replays the genome's
// schedule, which in this deterministic synthetic training gives the
// genome's own unlucky figure exactly.
func TestPBTConfirmsSchedules(t *testing.T) {
	for _, restoreEvery := range []int{0, 5} {
		t.Run(fmt.Sprintf("restore-every-%d", restoreEvery), func(t *testing.T) {
			rc := pbt(runConfig(8, 1))
			rc.ConfirmSeeds, rc.ConfirmTop = 3, 3
			if err := rc.Validate(); err != nil {
				t.Fatal(err)
			}
			m, cfg := testMachine(t, rc)
			const top = 5
			s, replicates := driveConfirm(t, m, cfg, restoreEvery, top, func(gahpo.Task) float64 { return -0.01 })

			if len(replicates) != 6 {
				t.Fatalf("%d replicate tasks, want 3 genomes × 2", len(replicates))
			}
			scheduled := 0
			for _, task := range replicates {
				g := s.stored[task.GenomeID]
				if err := task.Validate(); err != nil {
					t.Errorf("replicate %d of genome %d: %v", task.Replicate, g.ID, err)
				}
				if task.Epochs != 6 || task.FromEpochs != 0 || task.Checkpoint != nil || task.FromParams != nil || task.CheckpointTo != "" || task.WeightsTo != "" {
					t.Errorf("replicate %d of genome %d: %+v; want from scratch to 6 epochs, nothing kept", task.Replicate, g.ID, task)
				}
				switch {
				case len(g.Schedule) > 1:
					scheduled++
					if !slices.EqualFunc(task.Schedule, g.Schedule, func(a, b gahpo.ScheduleStep) bool {
						return a.Epoch == b.Epoch && a.Params["lr"] == b.Params["lr"] && a.Params["x"] == b.Params["x"]
					}) || task.Params["lr"] != g.Schedule[0].Params["lr"] {
						t.Errorf("replicate of genome %d trains %+v (params %v), its schedule is %+v", g.ID, task.Schedule, task.Params, g.Schedule)
					}
				case task.Schedule != nil || task.Params["lr"] != g.Params["lr"]:
					t.Errorf("replicate of genome %d, never exploiting, trains %+v (params %v)", g.ID, task.Schedule, task.Params)
				}
			}
			if scheduled == 0 {
				t.Fatal("no confirmed genome had exploited another: the schedules were not tested")
			}
			want, wantMean := 0, math.Inf(1)
			for _, g := range s.stored {
				if len(g.Replicates) == 0 {
					continue
				}
				own := float64(g.RungFitness[top])
				if g.ID%2 == 1 {
					own += 0.01 // without its luck
				}
				sum := float64(g.RungFitness[top])
				for _, rep := range g.Replicates {
					if rep.Status != gahpo.GenomeDone || math.Abs(float64(rep.Fitness)-own) > 1e-12 {
						t.Errorf("genome %d: replicate %s with fitness %v; its schedule gave %v", g.ID, rep.Status, rep.Fitness, own)
					}
					sum += float64(rep.Fitness)
				}
				if mean := sum / 3; mean < wantMean || mean == wantMean && g.ID < want {
					want, wantMean = g.ID, mean
				}
			}
			if s.final == nil || s.run.Best != want || s.final.GenomeID != want || s.final.Seeds != 3 ||
				len(s.final.Schedule) != len(s.stored[want].Schedule) || math.Abs(float64(*s.final.ConfirmedFitness)-wantMean) > 1e-12 {
				t.Fatalf("the run chose genome %d (final %+v), want genome %d with mean %v over 3", s.run.Best, s.final, want, wantMean)
			}
		})
	}
}

// TestPBTConfirmationRefusesOldWorkers: a worker that predates schedules
// answers a scheduled replicate with the first step's params trained
// alone; the result is a failure saying so, not a fitness averaged in.
func TestPBTConfirmationRefusesOldWorkers(t *testing.T) {
	rc := pbt(runConfig(8, 1))
	rc.ConfirmSeeds, rc.ConfirmTop = 2, 3
	m, cfg := testMachine(t, rc)
	s := &sim{stored: map[int]gahpo.GenomeRecord{}, created: map[string]bool{}, failAbove: math.Inf(1), noReplay: true}
	driveSim(t, s, m, cfg, 0)
	scheduled := 0
	for _, g := range s.stored {
		for _, rep := range g.Replicates {
			if len(g.Schedule) < 2 {
				if rep.Status != gahpo.GenomeDone {
					t.Errorf("genome %d, never exploiting: replicate %s (%s)", g.ID, rep.Status, rep.Failure)
				}
				continue
			}
			scheduled++
			if rep.Status != gahpo.GenomeFailed || !strings.Contains(rep.Failure, "upgrade it") {
				t.Errorf("genome %d's replicate from an old worker: %s, %q", g.ID, rep.Status, rep.Failure)
			}
		}
	}
	if scheduled == 0 {
		t.Fatal("no scheduled genome was confirmed")
	}
	if !m.Done() {
		t.Fatalf("the run is %s", s.run.Status)
	}
}

// TestReplicableSchedule: a replicate's task carries each step's epoch
// and params only, and a schedule too long for a message is not confirmed
// (its task could never be published) rather than holding the run open.
func TestReplicableSchedule(t *testing.T) {
	rc := pbt(runConfig(8, 1))
	rc.MaxEpochs, rc.ConfirmSeeds, rc.ConfirmTop = 10000, 2, 3
	m, _ := testMachine(t, rc)
	long := func(steps int) gahpo.GenomeRecord {
		r := gahpo.GenomeRecord{ID: 1, Params: map[string]float64{"lr": 0.1, "x": 0.3}}
		for i := range steps {
			r.Schedule = append(r.Schedule, gahpo.ScheduleStep{Epoch: i + 1, Genome: i + 1, Params: map[string]float64{"lr": 0.1 + float64(i)*1e-6, "x": 0.3},
				Choices: map[string]string{"unused": "kept out of the task"}})
		}
		return r
	}
	r := long(3)
	r.Replicates = []gahpo.Replicate{{Seed: 7}}
	task := m.replicateTask(r, 1)
	if len(task.Schedule) != 3 || task.Schedule[1].Genome != 0 || task.Schedule[1].Choices != nil || task.Schedule[2].Epoch != 3 {
		t.Errorf("the task's schedule: %+v", task.Schedule)
	}
	for _, tt := range []struct {
		steps int
		want  bool
	}{{1, true}, {3, true}, {100, true}, {5000, false}} {
		if got := m.replicable(long(tt.steps)); got != tt.want {
			t.Errorf("a schedule of %d steps: replicable %v, want %v", tt.steps, got, tt.want)
		}
	}
}

// TestPBTReplacesAQuarterWhateverTheOrder: at a rung of a population of 8,
// at most ⌈8/4⌉ = 2 genomes lose their place, in whatever order the
// results arrive: judged one by one as they came, the worst two of the
// six at the quorum were replaced, then each of the last two, worst of
// all, too (half the population). Failures fill the quarter first and
// are replaced beyond it.
func TestPBTReplacesAQuarterWhateverTheOrder(t *testing.T) {
	nan := math.NaN()
	for _, tc := range []struct {
		name string
		fits []float64 // by genome, in the order the results arrive
		want []int     // the genomes that lose their place at rung 0
	}{
		{"best first", []float64{0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8}, []int{5, 6}},
		{"worst last", []float64{0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95}, []int{5, 6}},
		{"worst first", []float64{0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2}, []int{1, 2}},
		{"a failure last", []float64{0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, nan}, []int{5, 6, 8}},
		{"failures first", []float64{nan, nan, nan, 0.4, 0.5, 0.6, 0.7, 0.8}, []int{1, 2, 3}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rc := pbt(runConfig(8, 1))
			m, _ := testMachine(t, rc)
			tasks := m.Ready().Publish
			for i, tk := range tasks {
				propStep(t, m, tk, tc.fits[i], i)
			}
			var got []int
			for _, r := range m.Records() {
				if r.Stopped != "" {
					got = append(got, r.ID)
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("stopped at rung 0: %v, want %v", got, tc.want)
			}
		})
	}
}

// TestTopFinalTime: the final training of a halving or population based
// run takes the time of every rung that trained its weights (under
// population based training, those of the genomes it exploited too) and
// names every worker that trained one; a record stored before rungs had
// their own keeps its own duration and last worker.
func TestTopFinalTime(t *testing.T) {
	s := time.Second
	for _, tc := range []struct {
		name    string
		r       gahpo.GenomeRecord
		want    time.Duration
		workers []string
	}{
		{"exploited", gahpo.GenomeRecord{ID: 9, Inherited: 2, Duration: 3 * s, Worker: "a", RungFitness: []gahpo.Float{3, 2, 1},
			RungDuration: []time.Duration{s, 2 * s, 3 * s}, RungWorker: []string{"b", "a", "a"}}, 6 * s, []string{"b", "a"}},
		{"its own rungs", gahpo.GenomeRecord{ID: 9, Duration: 3 * s, Worker: "a", RungFitness: []gahpo.Float{2, 1},
			RungDuration: []time.Duration{s, 2 * s}, RungWorker: []string{"a", "a"}}, 3 * s, []string{"a"}},
		{"stored before", gahpo.GenomeRecord{ID: 9, Inherited: 2, Duration: 3 * s, Worker: "a", RungFitness: []gahpo.Float{3, 2, 1}}, 3 * s, nil},
		{"partly before", gahpo.GenomeRecord{ID: 9, Inherited: 2, Duration: 3 * s, Worker: "a", RungFitness: []gahpo.Float{3, 2, 1},
			RungDuration: []time.Duration{s}, RungWorker: []string{"a"}}, 3 * s, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, _ := testMachine(t, pbt(runConfig(4, 1)))
			f := m.topFinal(tc.r, t0)
			if f.Duration != tc.want || !slices.Equal(f.Workers, tc.workers) || f.Worker != "a" {
				t.Errorf("duration %v, workers %v, worker %q; want %v, %v, a", f.Duration, f.Workers, f.Worker, tc.want, tc.workers)
			}
		})
	}
}
