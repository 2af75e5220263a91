package coordinator

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"path/filepath"
	"testing"
	"time"

	"github.com/gahpo/gahpo"
	"github.com/gahpo/gahpo/bus"
	"github.com/gahpo/gahpo/ga"
	"github.com/gahpo/gahpo/models/problems"
	"github.com/gahpo/gahpo/models/regression"
	"github.com/gahpo/gahpo/store"
)

// TestStatusCounts builds the status of a coordinator (no NATS: its search
// machine is answered here, as results would) part way through a run of
// each kind, and compares what Status counts: the results per rung, what
// is outstanding, in flight and queued, the best genome, and the ETAs of
// the generation and of the run, whose trainings left a population based
// training counts by rung, and a halving run under an epoch budget
// clamps to the budget's rest.
func TestStatusCounts(t *testing.T) {
	ga4 := ga.DefaultConfig()
	ga4.Population, ga4.Generations, ga4.Seed = 4, 2, 1
	base := gahpo.RunConfig{Problem: problems.Regression, GA: ga4, MaxAttempts: 3, AckWait: time.Minute}
	generational := base
	generational.FinalEpochs = 2
	halving := base
	halving.Fidelity, halving.Breeding, halving.MinEpochs, halving.MaxEpochs, halving.Eta = gahpo.FidelityHalving, gahpo.BreedingSteadyState, 1, 9, 3
	halving.InFlight, halving.BudgetGene, halving.BudgetEpochs = 3, regression.ParamEpochs, 12
	pbt := base
	pbt.GA.Generations = 1
	pbt.Fidelity, pbt.MinEpochs, pbt.MaxEpochs, pbt.BudgetGene = gahpo.FidelityPBT, 1, 4, regression.ParamEpochs
	tests := []struct {
		name    string
		rc      gahpo.RunConfig
		answer  int    // results given before the status
		holders int    // outstanding tasks held by a worker
		want    string // the status as JSON
	}{
		{"generational", generational, 2, 1, `{"run_id":"","problem":"regression","state":"running","generation":1,"generations":2,"population":4,"done":2,"in_flight":1,"queued":1,"failed":0,"holders":[{"genome_id":3,"worker":"w0","attempt":1,"since":"2026-12-01T10:00:01Z"}],"best":{"generation":1,"genome_id":1,"fitness":0.01,"params":{"batch_size":3,"epochs":134,"lr":0.661262},"worker":"w","duration":2000000000,"status":"done","epochs":1,"rung":0},"generation_eta":3000000000,"run_eta":15000000000,"bred":4,"budget":8,"outstanding":2,"rungs":[2],"curves":{"3":[{"epoch":3,"metrics":null}]},"started":"2026-12-01T10:00:00Z","epochs_spent":4}`},
		{"halving under an epoch budget", halving, 3, 2, `{"run_id":"","problem":"regression","state":"running","generation":2,"generations":2,"population":4,"done":0,"in_flight":2,"queued":1,"failed":0,"holders":[{"genome_id":4,"worker":"w0","attempt":1,"since":"2026-12-01T10:00:02Z"},{"genome_id":5,"worker":"w1","attempt":1,"since":"2026-12-01T10:00:02Z"}],"best":{"generation":1,"genome_id":1,"fitness":0.01,"params":{"batch_size":3,"lr":0.661262},"worker":"w","duration":2000000000,"status":"promoted","epochs":1,"rung":0},"run_eta":15333333333,"fidelity":"halving","breeding":"steady-state","bred":5,"budget":8,"outstanding":3,"rungs":[3],"curves":{"1":[{"epoch":1,"metrics":null}],"4":[{"epoch":4,"metrics":null}]},"started":"2026-12-01T10:00:00Z","epochs_spent":7,"budget_epochs":12}`},
		{"population based training", pbt, 5, 2, `{"run_id":"","problem":"regression","state":"running","generation":2,"generations":1,"population":4,"done":1,"in_flight":2,"queued":1,"failed":0,"holders":[{"genome_id":2,"worker":"w0","attempt":1,"since":"2026-12-01T10:00:04Z"},{"genome_id":5,"worker":"w1","attempt":1,"since":"2026-12-01T10:00:04Z"}],"best":{"generation":1,"genome_id":1,"fitness":0.01,"params":{"batch_size":3,"lr":0.661262},"worker":"w","duration":4000000000,"status":"done","epochs":2,"rung":1},"run_eta":10000000000,"fidelity":"pbt","bred":5,"budget":4,"outstanding":3,"rungs":[4,1],"curves":{"2":[{"epoch":2,"metrics":null}]},"started":"2026-12-01T10:00:00Z","epochs_spent":8}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
			now := t0
			st, err := store.Open(filepath.Join(t.TempDir(), "h.db"), store.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			c, err := New(st, nil, Config{Run: tt.rc, Logger: slog.New(slog.DiscardHandler), Now: func() time.Time { return now },
				Problem: func(name string) (Problem, error) {
					space, err := problems.Space(name)
					return Problem{Space: space}, err
				}})
			if err != nil {
				t.Fatal(err)
			}
			for range tt.answer {
				tasks := c.machine.Outstanding()
				if len(tasks) == 0 {
					t.Fatal("no task to answer")
				}
				tk := tasks[0]
				r := gahpo.Result{V: gahpo.MessageVersion, Kind: tk.Kind, RunID: tk.RunID, GenomeID: tk.GenomeID, Worker: "w", Attempt: 1,
					Token: tk.Token, Rung: tk.Rung, EpochsDone: tk.Epochs, Fitness: gahpo.Float(float64(tk.GenomeID) / 100), Duration: 2 * time.Second}
				for e := tk.FromEpochs + 1; e <= tk.Epochs; e++ {
					r.Curve = append(r.Curve, gahpo.EpochReport{Epoch: e, Metrics: map[string]gahpo.Float{"val_loss": r.Fitness}})
				}
				if tk.Checkpoint != nil || tt.rc.MultiFidelity() {
					r.Checkpoint = &gahpo.ObjectRef{Bucket: bus.BucketCheckpoints, Name: fmt.Sprintf("%s-%d-e%d-n", tk.RunID, tk.GenomeID, tk.Epochs), Size: 1}
				}
				now = now.Add(time.Second)
				if err := c.machine.Result(r, now); err != nil {
					t.Fatal(err)
				}
				c.machine.Ready()
				c.evalN++
				c.evalTime += r.Duration
				c.evalEpochs += max(tk.Epochs-tk.FromEpochs, 1)
			}
			for i, tk := range c.machine.Outstanding() {
				if i == tt.holders {
					break
				}
				c.holders[training{tk.GenomeID, tk.Replicate}] = gahpo.Holder{GenomeID: tk.GenomeID, Replicate: tk.Replicate, Worker: fmt.Sprintf("w%d", i), Attempt: 1, Since: now.Add(-time.Second)}
			}
			// Curves: of a held genome's training, and of a genome no
			// longer outstanding (left out).
			for _, id := range []int{1, c.machine.Outstanding()[0].GenomeID} {
				curve := &liveCurve{}
				curve.add(gahpo.EpochReport{Epoch: id}, 10)
				c.reports[training{id, 0}] = curve
			}
			s := c.Status()
			s.History, s.RunID = "", "" // a file of the test's, a random id
			b, err := json.Marshal(s)
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != tt.want {
				t.Errorf("status:\n%s\nwant:\n%s", b, tt.want)
			}
		})
	}
}

// TestFinalEpochsObjective: the status's final epochs carry the run's
// objective, as its trainer reported it, at the epochs whose report held
// it: a one-epoch run's from the final training's reports, a halving
// run's from its best genome's training again; none for a built-in
// problem, which has no objective.
func TestFinalEpochsObjective(t *testing.T) {
	halving := gahpo.RunConfig{Fidelity: gahpo.FidelityHalving, MinEpochs: 1, MaxEpochs: 3, Eta: 3}
	reports := []gahpo.EpochReport{{Epoch: 1, Metrics: map[string]gahpo.Float{"val_acc": 0.8, "test_loss": 0.3}},
		{Epoch: 2, Metrics: map[string]gahpo.Float{"test_loss": 0.2}}}
	tests := []struct {
		name      string
		rc        gahpo.RunConfig
		objective string
		want      map[int]gahpo.Float
	}{
		{"one-epoch, a problem file's", gahpo.RunConfig{}, "val_acc", map[int]gahpo.Float{1: 0.8}},
		{"halving, a problem file's", halving, "val_acc", map[int]gahpo.Float{1: 0.8}},
		{"halving, the test loss the objective", halving, "test_loss", map[int]gahpo.Float{1: 0.3, 2: 0.2}},
		{"built-in", gahpo.RunConfig{}, "", nil},
		{"halving, built-in", halving, "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rc := tt.rc
			rc.Objective, rc.Maximize = tt.objective, tt.objective == "val_acc"
			c := &Coordinator{rc: rc, reports: map[training]*liveCurve{}, holders: map[training]gahpo.Holder{}}
			c.reports[training{3, 0}] = &liveCurve{}
			for _, r := range reports {
				if !rc.MultiFidelity() { // a final training's event carries both forms
					em := r.Fixed()
					c.onFinalEpoch(em, &r)
				}
				c.reports[training{3, 0}].add(r, 10)
			}
			epochs, objective := c.finalEpochs(gahpo.Run{Config: rc, Status: gahpo.RunFinal, Best: 3})
			if len(epochs) != 2 || !maps.Equal(objective, tt.want) {
				t.Errorf("final epochs %+v, objective %v; want 2 epochs, objective %v", epochs, objective, tt.want)
			}
		})
	}
}
