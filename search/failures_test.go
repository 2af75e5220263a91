package search

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/gahpo/gahpo"
)

// crash is a training command's failure that is not the genome's: the
// framework is not installed.
const crash = "the command failed: exit status 1" + stderrEnds + "Traceback (most recent call last):\nModuleNotFoundError: No module named 'torch'"

// driveFailing runs m to its end with one FIFO worker that fails the n-th
// result (counted from 0) with fail(n) ("" trains it; a final training
// always trains), and returns how
// many results it took and the genomes bred after the run stopped for
// failures.
func driveFailing(t *testing.T, m *Machine, fail func(n int) string) (results, bredAfterStop int) {
	t.Helper()
	return driveFailingTasks(t, m, func(n int, _ gahpo.Task) string { return fail(n) })
}

// driveFailingTasks is driveFailing with failures chosen by the task too.
func driveFailingTasks(t *testing.T, m *Machine, fail func(n int, task gahpo.Task) string) (results, bredAfterStop int) {
	t.Helper()
	queue := m.Ready().Publish
	stoppedAt := -1
	for len(queue) > 0 && results < 10000 {
		task := queue[0]
		queue = queue[1:]
		r := answer(task)
		if why := fail(results, task); why != "" && task.Kind != gahpo.KindFinal {
			r.Failure, r.Fitness, r.Checkpoint, r.Curve, r.WeightsObject, r.WeightsBucket = why, gahpo.Float(math.NaN()), nil, nil, "", ""
		}
		var err error
		if task.Kind == gahpo.KindFinal {
			err = m.Final(r, t0.Add(time.Duration(results)*time.Second))
		} else {
			err = m.Result(r, t0.Add(time.Duration(results)*time.Second))
		}
		if err != nil {
			t.Fatalf("result %d (genome %d): %v", results, task.GenomeID, err)
		}
		results++
		rd := m.Ready()
		if stoppedAt >= 0 {
			if len(rd.Publish) > 0 {
				t.Errorf("after the stop for failures, result %d published %d tasks (genome %d rung %d first)", results, len(rd.Publish), rd.Publish[0].GenomeID, rd.Publish[0].Rung)
			}
			bredAfterStop = len(m.Records()) - stoppedAt
		}
		if stoppedAt < 0 && m.Run().StoppedBy == gahpo.StopFailures {
			stoppedAt = len(m.Records())
		}
		queue = append(queue, rd.Publish...)
	}
	if !m.Done() {
		t.Fatalf("the run is %s after %d results with nothing queued", m.Run().Status, results)
	}
	return results, bredAfterStop
}

// failureModes are the fidelities and breedings a stop for failures must
// work in (population 6, 5 generations; steady state keeps 3 in flight, as
// gahpo run with two workers does).
func failureModes() []struct {
	name string
	rc   gahpo.RunConfig
} {
	steady := func(rc gahpo.RunConfig, breeding string) gahpo.RunConfig {
		rc.Breeding, rc.InFlight = breeding, 3
		return rc
	}
	pbt := runConfig(6, 1)
	pbt.Fidelity, pbt.MinEpochs, pbt.MaxEpochs = gahpo.FidelityPBT, 1, 3
	oneEpoch := runConfig(6, 5)
	oneEpoch.FinalEpochs = 2
	return []struct {
		name string
		rc   gahpo.RunConfig
	}{
		{"one-epoch/generational", oneEpoch},
		{"one-epoch/steady-state", steady(runConfig(6, 5), gahpo.BreedingSteadyState)},
		{"one-epoch/random", steady(runConfig(6, 5), gahpo.BreedingRandom)},
		{"halving/generational", halving(runConfig(6, 5), gahpo.BreedingGenerational)},
		{"halving/steady-state", steady(halving(runConfig(6, 5), gahpo.BreedingSteadyState), gahpo.BreedingSteadyState)},
		// Every genome bred at once: breeding stopped for the generations
		// before any result, and the failures stop the run all the same.
		{"halving/steady-state/one generation", steady(halving(runConfig(6, 1), gahpo.BreedingSteadyState), gahpo.BreedingSteadyState)},
		{"pbt", pbt},
	}
}

func maxFailures(n int) *int { return &n }

// TestEveryGenomeFailsStopsAfterThePopulation: a run whose every genome
// fails (a framework not installed) stops once its first --population
// genomes have failed, in every fidelity and breeding, instead of
// breeding and training every generation; the trainings under way finish,
// nothing else is trained, no final training, and the run ends failed
// with the count and the cause.
func TestEveryGenomeFailsStopsAfterThePopulation(t *testing.T) {
	for _, mode := range failureModes() {
		t.Run(mode.name, func(t *testing.T) {
			m, _ := testMachine(t, mode.rc)
			results, bred := driveFailing(t, m, func(int) string { return crash })
			run := m.Run()
			if run.StoppedBy != gahpo.StopFailures || run.Status != gahpo.RunFailed || run.Best != 0 {
				t.Fatalf("run %s, stopped by %q, best %d after %d results; want failed, stopped by failures, no best", run.Status, run.StoppedBy, run.Best, results)
			}
			// Generational breeding publishes a generation whole: its first
			// is the population; steady state has at most 3 in flight, of
			// which the one that failed last.
			most := 6
			if mode.rc.SteadyState() {
				most = 6 + 2
			}
			if results < 6 || results > most {
				t.Errorf("%d genomes trained, want 6 to %d (population 6 of 30)", results, most)
			}
			if bred != 0 {
				t.Errorf("%d genomes bred after the stop", bred)
			}
			for _, want := range []string{"stopped for failures (--max-failures): its first ", " genomes trained all failed, none succeeded; the reason (", "): ModuleNotFoundError: No module named 'torch' (gahpo query genome 1 shows it whole)"} {
				if !strings.Contains(run.Error, want) {
					t.Errorf("error %q, want it to say %q", run.Error, want)
				}
			}
		})
	}
}

// TestFailureStopRule: the rule's cases, in every mode. A healthy search
// in which some genomes fail or diverge never stops; an explicit
// --max-failures N stops once N have failed, successes or not; 0 never
// stops; a divergence is the genome's, not the training's, and never
// counts.
func TestFailureStopRule(t *testing.T) {
	every := func(k int, why string) func(int, gahpo.Task) string {
		return func(n int, _ gahpo.Task) string {
			if n%k == k-1 {
				return why
			}
			return ""
		}
	}
	for _, tt := range []struct {
		name string
		max  *int
		fail func(n int, task gahpo.Task) string
		stop bool // stopped for failures
	}{
		{"default, 1 in 5 fails", nil, every(5, crash), false},
		// The first rung's rule: the trainings that go on from a
		// checkpoint succeed (they have a rule of their own, tested by
		// TestFailingResumptionsStop).
		{"default, 4 in 5 first rungs fail", nil, func(n int, task gahpo.Task) string {
			if n%5 == 2 || task.Checkpoint != nil {
				return ""
			}
			return crash
		}, false},
		{"default, every one diverges", nil, func(int, gahpo.Task) string { return "diverged: loss is NaN at epoch 1" }, false},
		{"default, the first succeeds, then every first rung fails", nil, func(n int, task gahpo.Task) string {
			if n == 0 || task.Checkpoint != nil {
				return ""
			}
			return crash
		}, false},
		{"--max-failures 3, 1 in 2 fails", maxFailures(3), every(2, crash), true},
		{"--max-failures 3, 1 in 5 diverges", maxFailures(3), every(5, "diverged: loss is NaN at epoch 1"), false},
		{"--max-failures 3, 1 in 2 gives up after its deliveries", maxFailures(3), every(2, "gave up after 3 deliveries: every worker that took it died or lost it"), true},
		{"--max-failures 1, the first fails", maxFailures(1), func(n int, _ gahpo.Task) string {
			if n == 0 {
				return crash
			}
			return ""
		}, true},
		{"--max-failures 0, every one fails", maxFailures(0), func(int, gahpo.Task) string { return crash }, false},
		{"--max-failures 100, every one fails", maxFailures(100), func(int, gahpo.Task) string { return crash }, false},
	} {
		for _, mode := range failureModes() {
			t.Run(tt.name+"/"+mode.name, func(t *testing.T) {
				rc := mode.rc
				rc.MaxFailures = tt.max
				m, _ := testMachine(t, rc)
				results, _ := driveFailingTasks(t, m, tt.fail)
				run := m.Run()
				stopped := run.StoppedBy == gahpo.StopFailures
				if stopped != tt.stop {
					t.Fatalf("stopped by %q after %d results (status %s, %s), want a stop for failures: %v", run.StoppedBy, results, run.Status, run.Error, tt.stop)
				}
				failed := 0
				for _, r := range m.Records() {
					if counted(r) {
						failed++
					}
				}
				switch {
				case stopped && (run.Status != gahpo.RunFailed || failed < *tt.max || !strings.HasPrefix(run.Error, fmt.Sprintf("stopped for failures (--max-failures %d): ", *tt.max))):
					t.Errorf("stopped with %d failures (max %d): run %s, %q", failed, *tt.max, run.Status, run.Error)
				case !stopped && run.Status == gahpo.RunFailed:
					t.Errorf("not stopped for failures, yet failed: %s", run.Error)
				case !stopped && len(m.Records()) != rc.GA.Population*rc.GA.Generations && !rc.PBT():
					t.Errorf("%d genomes bred, want every one of %d", len(m.Records()), rc.GA.Population*rc.GA.Generations)
				}
			})
		}
	}
}

// TestFailureStopSurvivesARestore: a run restored from its records counts
// the failures stored before its restart, and one stopped for failures
// while genomes were under way stays stopped and ends failed.
func TestFailureStopSurvivesARestore(t *testing.T) {
	rc := runConfig(6, 5)
	rc.Breeding, rc.InFlight, rc.MaxFailures = gahpo.BreedingSteadyState, 3, maxFailures(2)
	m, cfg := testMachine(t, rc)
	s := &sim{stored: map[int]gahpo.GenomeRecord{}, created: map[string]bool{}, m: m}
	rd := m.Ready()
	s.apply(t, rd)
	restore := func() {
		t.Helper()
		cfg.Run = s.run
		var recs []gahpo.GenomeRecord
		for id := 1; id <= len(s.stored); id++ {
			recs = append(recs, s.stored[id])
		}
		var err error
		if m, err = Restore(cfg, space(t), s.engine, recs); err != nil {
			t.Fatal(err)
		}
		s.m = m
	}
	result := func(task gahpo.Task, failure string) Ready {
		t.Helper()
		r := answer(task)
		if failure != "" {
			r.Failure, r.Fitness = failure, gahpo.Float(math.NaN())
		}
		if err := m.Result(r, t0); err != nil {
			t.Fatal(err)
		}
		rd := m.Ready()
		s.apply(t, rd)
		return rd
	}
	result(rd.Publish[0], crash)
	restore()
	result(m.Outstanding()[0], crash)
	if m.Run().StoppedBy != gahpo.StopFailures || m.Done() {
		t.Fatalf("after 2 failures, one before a restore: stopped by %q, %s; want stopped for failures, running", m.Run().StoppedBy, m.Run().Status)
	}
	restore()
	left := m.Outstanding()
	if len(left) != 2 {
		t.Fatalf("%d tasks outstanding after the restore, want the two under way", len(left))
	}
	for i, task := range left {
		rd := result(task, "")
		if len(rd.Publish) > 0 || m.Run().StoppedBy != gahpo.StopFailures || m.Done() != (i == 1) {
			t.Fatalf("restored, result %d: published %d, run %s stopped by %q; want nothing published, stopped for failures, failed once both are back", i+1, len(rd.Publish), m.Run().Status, m.Run().StoppedBy)
		}
	}
	if want := "stopped for failures (--max-failures 2): 2 of 4 genomes trained failed; the reason (2): ModuleNotFoundError"; m.Run().Status != gahpo.RunFailed || !strings.HasPrefix(m.Run().Error, want) {
		t.Errorf("error %q, want it to start %q", m.Run().Error, want)
	}
}

// TestDiverged: which failures are the genome's own.
func TestDiverged(t *testing.T) {
	for _, tt := range []struct {
		failure string
		want    bool
	}{
		{"diverged: loss is NaN", true},
		{"diverged: objective val_loss 1e+300 outside [0, 100] at epoch 2", true},
		{"fitness NaN", true},
		{"fitness +Inf", true},
		{"fitness -Inf", true},
		{"fitness of 3 epochs: the command failed", false},
		{crash, false},
		{"the command timed out after 30m0s", false},
		{"gave up after 3 deliveries: every worker that took it died or lost it", false},
		{"refused: trained to 2 epochs, the task asked for 1", false},
		{"", false},
	} {
		if got := Diverged(tt.failure); got != tt.want {
			t.Errorf("Diverged(%q) = %v, want %v", tt.failure, got, tt.want)
		}
	}
}

// TestNegativeMaxFailuresRefused: a stored configuration with a negative
// --max-failures is refused, not taken for "never".
func TestNegativeMaxFailuresRefused(t *testing.T) {
	for _, tt := range []struct {
		max     *int
		wantErr bool
	}{{nil, false}, {maxFailures(0), false}, {maxFailures(5), false}, {maxFailures(-1), true}} {
		rc := runConfig(6, 2)
		rc.MaxFailures = tt.max
		_, err := New(Config{Run: gahpo.Run{ID: "run1", Config: rc, Status: gahpo.RunRunning, Started: t0}}, space(t))
		if (err != nil) != tt.wantErr || (err != nil && !strings.Contains(err.Error(), "max failures -1 is negative")) {
			t.Errorf("max failures %v: New: %v, want an error: %v", tt.max, err, tt.wantErr)
		}
	}
}

// TestLowerMaxFailuresStopsOnRestore: a run that has failures to spare
// under its rule (the default's, with genomes that succeeded), resumed with
// a --max-failures its failures already reach, stops for failures at the
// restore itself: the restored machine says so at once (its first Ready
// stores it), publishes nothing, and ends failed once the trainings under
// way are back; not only at its next result.
func TestLowerMaxFailuresStopsOnRestore(t *testing.T) {
	for _, mode := range failureModes() {
		t.Run(mode.name, func(t *testing.T) {
			m, cfg := testMachine(t, mode.rc)
			s := &sim{stored: map[int]gahpo.GenomeRecord{}, created: map[string]bool{}, m: m}
			s.apply(t, m.Ready())
			failed := 0
			for n := 0; failed < 3; n++ {
				if len(s.queue) == 0 {
					t.Fatalf("nothing queued after %d results, %d failures", n, failed)
				}
				task := s.queue[0]
				s.queue = s.queue[1:]
				r := answer(task)
				if n%2 == 1 {
					r.Failure, r.Fitness, r.Checkpoint, r.Curve = crash, gahpo.Float(math.NaN()), nil, nil
					failed++
				}
				if r.Checkpoint != nil {
					s.created[r.Checkpoint.Name] = true
				}
				if err := m.Result(r, t0); err != nil {
					t.Fatal(err)
				}
				s.apply(t, m.Ready())
			}
			if m.Run().StoppedBy == gahpo.StopFailures {
				t.Fatalf("stopped by %q before the restore, with the default rule and genomes that succeeded", m.Run().StoppedBy)
			}
			// gahpo run/coordinator --max-failures 2 on resume: the run's
			// configuration changed in the history.
			s.run.Config.MaxFailures = maxFailures(2)
			m = s.restore(t, cfg)
			if m.Run().StoppedBy != gahpo.StopFailures {
				t.Fatalf("restored with --max-failures 2 after 3 failures: stopped by %q, want %q at once", m.Run().StoppedBy, gahpo.StopFailures)
			}
			rd := m.Ready()
			if rd.Run == nil || rd.Run.StoppedBy != gahpo.StopFailures || len(rd.Publish) > 0 {
				t.Fatalf("the restore's Ready: run %v, %d published; want the stop stored, nothing published", rd.Run, len(rd.Publish))
			}
			left := m.Outstanding()
			if len(left) == 0 {
				t.Fatal("nothing outstanding after the restore")
			}
			for i, task := range left {
				if err := m.Result(answer(task), t0); err != nil {
					t.Fatal(err)
				}
				if rd := m.Ready(); len(rd.Publish) > 0 {
					t.Fatalf("result %d of %d under way published %d tasks after the stop (genome %d rung %d first)", i+1, len(left), len(rd.Publish), rd.Publish[0].GenomeID, rd.Publish[0].Rung)
				}
			}
			if run := m.Run(); run.Status != gahpo.RunFailed || !strings.HasPrefix(run.Error, "stopped for failures (--max-failures 2): 3 of ") {
				t.Errorf("run %s, %q; want failed, stopped for failures (--max-failures 2) with 3 failed", run.Status, run.Error)
			}
		})
	}
}

// resumeCrash is a trainer's failure when it resumes from a checkpoint:
// it trains from scratch, then cannot load what it saved.
const resumeCrash = "the command failed: exit status 1" + stderrEnds + "Traceback (most recent call last):\nRuntimeError: Error(s) in loading state_dict for Net"

// TestFailingResumptionsStop: the default rule also stops a run whose
// trainings that go on from a checkpoint (a promotion under halving, a
// round of pbt) all fail while every first rung succeeds, once as many
// have failed as the first population promotes (resumeStop); a
// resumption that succeeds, or fails only sometimes, stops nothing; an
// explicit --max-failures counts them as any failure, and 0 never stops.
func TestFailingResumptionsStop(t *testing.T) {
	onResume := func(why string) func(int, gahpo.Task) string {
		return func(_ int, task gahpo.Task) string {
			if task.Checkpoint != nil {
				return why
			}
			return ""
		}
	}
	resumed := 0 // the resumptions seen by a rule, counted from 0
	for _, tt := range []struct {
		name string
		max  *int
		fail func(n int, task gahpo.Task) string
		stop bool
	}{
		{"default, every resumption fails", nil, onResume(resumeCrash), true},
		{"default, every resumption diverges", nil, onResume("diverged: loss is NaN at epoch 2"), false},
		{"default, the first resumption succeeds, then every one fails", nil, func(_ int, task gahpo.Task) string {
			if task.Checkpoint == nil {
				return ""
			}
			resumed++
			if resumed == 1 {
				return ""
			}
			return resumeCrash
		}, false},
		{"default, 1 resumption in 2 fails", nil, func(_ int, task gahpo.Task) string {
			if task.Checkpoint == nil {
				return ""
			}
			resumed++
			if resumed%2 == 0 {
				return resumeCrash
			}
			return ""
		}, false},
		{"--max-failures 0, every resumption fails", maxFailures(0), onResume(resumeCrash), false},
		{"--max-failures 2, every resumption fails", maxFailures(2), onResume(resumeCrash), true},
	} {
		for _, mode := range failureModes() {
			if !mode.rc.MultiFidelity() || mode.rc.GA.Generations == 1 && mode.rc.Halving() {
				// Nothing resumes; or too little: a population bred once
				// promotes a third of it from its checkpoints, then the
				// run's end promotes the rest from scratch (collected),
				// which this trainer trains.
				continue
			}
			t.Run(tt.name+"/"+mode.name, func(t *testing.T) {
				resumed = 0
				rc := mode.rc
				rc.MaxFailures = tt.max
				m, _ := testMachine(t, rc)
				results, bred := driveFailingTasks(t, m, tt.fail)
				run := m.Run()
				if stopped := run.StoppedBy == gahpo.StopFailures; stopped != tt.stop {
					t.Fatalf("stopped by %q after %d results (status %s, %s), want a stop for failures: %v", run.StoppedBy, results, run.Status, run.Error, tt.stop)
				}
				if !tt.stop {
					if run.Status == gahpo.RunFailed {
						t.Errorf("not stopped for failures, yet failed: %s", run.Error)
					}
					return
				}
				if run.Status != gahpo.RunFailed || bred != 0 {
					t.Errorf("run %s, %d genomes bred after the stop; want failed, none", run.Status, bred)
				}
				var failedResumed int
				for _, r := range m.Records() {
					if f, _ := resumption(r); f {
						failedResumed++
					}
				}
				if tt.max == nil {
					want := resumeStop(rc)
					// The trainings under way when the rule holds finish: at
					// most the in-flight more (a generation's promotions
					// under halving, the population's round under pbt).
					if failedResumed < want || failedResumed > want+rc.GA.Population {
						t.Errorf("%d resumptions failed at the stop, want %d (and those under way)", failedResumed, want)
					}
					for _, s := range []string{fmt.Sprintf("stopped for failures (--max-failures): its first %d trainings resumed from a checkpoint all failed, none succeeded", failedResumed), "RuntimeError: Error(s) in loading state_dict for Net"} {
						if !strings.Contains(run.Error, s) {
							t.Errorf("error %q, want it to say %q", run.Error, s)
						}
					}
				}
				t.Logf("%d results, %d resumptions failed: %s", results, failedResumed, run.Error)
			})
		}
	}
}
