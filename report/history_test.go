package report

import (
	"context"
	"math"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/gahpo/gahpo"
	"github.com/gahpo/gahpo/ga"
	"github.com/gahpo/gahpo/models/cnn"
	"github.com/gahpo/gahpo/models/problems"
	"github.com/gahpo/gahpo/models/regression"
	"github.com/gahpo/gahpo/store"
)

// history is a run written into a real bbolt file with the store's API.
type history struct {
	st   *store.Store
	path string // the history file
	run  gahpo.Run
	all  []gahpo.GenomeRecord
	at   time.Time // when the last genome finished
}

// newHistory writes a finished run of problem: pop genomes × gens
// generations with fitnesses that improve, a failed genome and a diverged
// one (fitness 1e282) per generation, learning curves when curves is set,
// and a final training with real weights (the CNN's: per-epoch conv1
// probes too).
func newHistory(t *testing.T, problem string, pop, gens int, curves bool) *history {
	t.Helper()
	h := newRunningHistory(t, problem, pop, gens, curves)
	h.finish(t, problem, h.at)
	return h
}

// newRunningHistory writes newHistory's run as it is before its final
// training: still running, no final training stored (finish ends it).
func newRunningHistory(t *testing.T, problem string, pop, gens int, curves bool) *history {
	t.Helper()
	path := filepath.Join(t.TempDir(), "h.db")
	st, err := store.Open(path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	space, err := problems.Space(problem)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	h := &history{st: st, path: path}
	h.run = gahpo.Run{ID: "r1", Params: space.Names(), Status: gahpo.RunRunning, Started: start}
	h.run.Config.Problem = problem
	h.run.Config.GA.Population, h.run.Config.GA.Generations, h.run.Config.GA.Seed = pop, gens, 1
	h.run.Config.FinalEpochs, h.run.Config.MaxAttempts, h.run.Config.AckWait = 3, 3, 30*time.Second
	rng := rand.New(rand.NewPCG(1, 2))
	id := 0
	at := start
	for g := range gens {
		var recs []gahpo.GenomeRecord
		for i := range pop {
			id++
			genes := make([]float64, len(space.Params))
			for j, p := range space.Params {
				u := rng.Float64()
				if p.Scale == ga.Log && p.Min > 0 {
					genes[j] = math.Exp(math.Log(p.Min) + u*(math.Log(p.Max)-math.Log(p.Min)))
				} else {
					genes[j] = p.Min + u*(p.Max-p.Min)
				}
				if p.Kind == ga.Int {
					genes[j] = math.Round(genes[j])
				}
			}
			at = at.Add(time.Duration(5+rng.IntN(10)) * time.Second)
			fit := 0.05 + 0.5*rng.Float64()/float64(g+1)
			rec := gahpo.GenomeRecord{
				ID: id, Generation: g, Params: space.ToMap(genes), Genes: genes, Seed: uint64(id),
				Status: gahpo.GenomeDone, Fitness: gahpo.Float(fit), Accuracy: 0.9 + 0.05*rng.Float64(),
				Worker: []string{"w1", "w2"}[i%2], Duration: time.Duration(4+rng.IntN(8)) * time.Second,
				Finished: at, Epochs: 1, Attempts: 1,
			}
			if g > 0 && i < 2 {
				rec.Parents, rec.Ops = []int{id - pop, id - pop + 1}, []string{"blx", "mutate"}
			}
			switch i {
			case 1:
				rec.Status, rec.Fitness, rec.Failure, rec.Accuracy = gahpo.GenomeFailed, gahpo.Float(math.Inf(1)), "diverged: NaN loss", 0
			case 2:
				rec.Fitness = 1.4e282
			case 3:
				rec.Status, rec.DuplicateOf = gahpo.GenomeDuplicate, id-1
			}
			if curves && rec.Status != gahpo.GenomeDuplicate {
				rec.Rung = i % 3
				rec.Epochs = 1 << rec.Rung
				for e := 1; e <= rec.Epochs; e++ {
					m := map[string]gahpo.Float{"val_loss": gahpo.Float(fit * (1 + 1/float64(e))), "train_loss": gahpo.Float(fit * 1.2)}
					rec.Curve = append(rec.Curve, gahpo.EpochReport{Epoch: e, Metrics: m, Duration: time.Second})
				}
			}
			recs = append(recs, rec)
		}
		if g == 0 {
			if err := st.CreateRun(h.run, []byte("{}"), recs); err != nil {
				t.Fatal(err)
			}
		} else if err := st.Commit(h.run.ID, store.Change{Genomes: recs}); err != nil {
			t.Fatal(err)
		}
		h.all = append(h.all, recs...)
	}
	h.at = at
	return h
}

// reopen stores the run as running again, as if its coordinator were at
// work on it (its final training stays stored).
func (h *history) reopen(t *testing.T) {
	t.Helper()
	h.run.Status, h.run.Ended = gahpo.RunRunning, time.Time{}
	if err := h.st.Commit(h.run.ID, store.Change{Run: &h.run}); err != nil {
		t.Fatal(err)
	}
}

func (h *history) finish(t *testing.T, problem string, at time.Time) {
	t.Helper()
	best := h.all[0]
	for _, g := range h.all {
		if gahpo.Better(g, best) {
			best = g
		}
	}
	f := gahpo.FinalTraining{GenomeID: best.ID, Params: best.Params, Worker: "w1", Duration: 42 * time.Second, Finished: at}
	var weights []byte
	switch problem {
	case problems.CNN:
		weights = cnn.InitialWeights(7)
		w0, err := cnn.Conv1Weights(weights)
		if err != nil {
			t.Fatal(err)
		}
		for e := 1; e <= 3; e++ {
			probe := make([]float32, len(w0))
			for i, v := range w0 {
				probe[i] = v * float32(1+0.3*float64(e))
			}
			m := map[string]gahpo.Float{"train_loss": gahpo.Float(0.3 / float64(e)), "val_loss": gahpo.Float(0.1 / float64(e)), "test_loss": gahpo.Float(0.09 / float64(e))}
			f.Curve = append(f.Curve, gahpo.EpochReport{Epoch: e, Metrics: m, Probe: map[string][]float32{"conv1.weight": probe}})
			f.Epochs = append(f.Epochs, gahpo.EpochMetrics{Epoch: e, LR: 1, TrainLoss: gahpo.Float(0.3 / float64(e)), TestLoss: gahpo.Float(0.09 / float64(e)), TestAccuracy: 0.97 + 0.005*float64(e), Duration: 10 * time.Second})
		}
	case problems.Regression:
		d, err := regression.Load()
		if err != nil {
			t.Fatal(err)
		}
		res, err := regression.TrainFull(context.Background(), d, regression.Config{LR: 0.05, BatchSize: 8, Epochs: 200, Seed: 3}, nil)
		if err != nil {
			t.Fatal(err)
		}
		weights = res.Weights
		for _, e := range res.Epochs {
			f.Epochs = append(f.Epochs, gahpo.EpochMetrics{Epoch: e.Epoch, LR: e.LR, TrainLoss: gahpo.Float(e.TrainLoss), TestLoss: gahpo.Float(e.TestLoss), Duration: e.Duration})
		}
	}
	f.TestLoss = f.Epochs[len(f.Epochs)-1].TestLoss
	f.WeightsSize = len(weights)
	h.run.Status, h.run.Ended, h.run.Best = gahpo.RunDone, at.Add(time.Minute), best.ID
	if err := h.st.PutFinal(h.run.ID, h.run, f, weights); err != nil {
		t.Fatal(err)
	}
}
