package coordinator_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/gahpo/gahpo"
	"github.com/gahpo/gahpo/coordinator"
	"github.com/gahpo/gahpo/internal/testnats"
	"github.com/gahpo/gahpo/models/problems"
)

// maximisingTrainer reports val_acc = 0.9 - (x - 0.3)² each epoch, as a
// problem file's command does; a final training reports its first epoch
// (val_acc 0.77), then waits for the file gate, which holds the run in its
// final state while the test looks.
const maximisingTrainer = `import json, os, time
p = json.load(open(os.environ["GAHPO_PARAMS"]))
first = 1
if os.environ["GAHPO_KIND"] == "final":
    print(json.dumps({"epoch": 1, "val_acc": 0.77}), flush=True)
    first = 2
    while not os.path.exists(os.path.join(os.path.dirname(__file__), "gate")):
        time.sleep(0.05)
for e in range(first, int(os.environ["GAHPO_EPOCHS"]) + 1):
    print(json.dumps({"epoch": e, "val_acc": 0.9 - (p["x"] - 0.3) ** 2}))
`

var objectiveRuns int // TestStatusNamesTheObjective's

// TestStatusNamesTheObjective: the status a coordinator answers over NATS
// (gahpo status, the dashboard) for a run of a problem file that
// maximises its objective names the objective and its goal, so that its
// views show the best genome's val_acc in its own sign: the status's
// fitness stays the search's, val_acc negated. Its final training's
// epochs carry the objective as the trainer reported it (final_objective,
// by epoch), which the fixed form of an epoch (final_epochs) has no field
// for.
func TestStatusNamesTheObjective(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 is not installed: the problem file's command is a Python script")
	}
	dir := t.TempDir()
	script := filepath.Join(dir, "train.py")
	if err := os.WriteFile(script, []byte(maximisingTrainer), 0o644); err != nil {
		t.Fatal(err)
	}
	// A name of its own each time: the workers' registry outlives the
	// test (-count), and holds one file of a name.
	objectiveRuns++
	file := filepath.Join(dir, "problem.yaml")
	if err := os.WriteFile(file, []byte(`name: status-objective-`+strconv.Itoa(objectiveRuns)+`
space:
  - {name: x, type: float, min: -1, max: 1}
objective: {metric: val_acc, goal: maximize}
budget: {min: 1, max: 2}
train:
  command: [python3, `+script+`]
  timeout: 1m
`), 0o644); err != nil {
		t.Fatal(err)
	}
	prob, err := problems.RegisterFile(file) // as --problem-file does, for the workers
	if err != nil {
		t.Fatal(err)
	}
	problemFor := func(name string) (coordinator.Problem, error) {
		p, err := problems.Lookup(name)
		if err != nil {
			return coordinator.Problem{}, err
		}
		return coordinator.Problem{Space: p.Space(), Digest: p.Digest, FitnessMin: p.FitnessMin, FitnessMax: p.FitnessMax,
			Objective: p.Objective, Maximize: p.Maximize}, nil
	}
	rc := regressionConfig(4, 1, 1)
	rc.Problem, rc.FitnessEpochs, rc.FinalEpochs = prob.Name, 1, 2

	srv := testnats.Start(t)
	st := openStore(t, filepath.Join(t.TempDir(), "h.db"))
	defer st.Close()
	c, ctx := runUntilTheEnd(t, st, testnats.Connect(t, srv, "coord"), coordinator.Config{Run: rc, Problem: problemFor, Logger: quiet})
	startWorkers(t, srv, 2, problems.NewTrainer())
	t.Cleanup(func() { _ = os.WriteFile(filepath.Join(dir, "gate"), nil, 0o644) }) // before the workers stop: the final training ends

	q := testnats.Connect(t, srv, "q")
	var raw json.RawMessage
	var got gahpo.Status
	for got.State != gahpo.RunFinal || got.Best == nil || len(got.Final) == 0 {
		if ctx.Err() != nil {
			t.Fatalf("the run never reached its final training's first epoch with a best genome: last status %+v", got)
		}
		time.Sleep(50 * time.Millisecond)
		if err := q.Query(ctx, c.RunID(), coordinator.EndpointStatus, struct{}{}, &raw); err != nil {
			t.Fatalf("status over NATS: %v", err)
		}
		if err := json.Unmarshal(raw, &got); err != nil {
			t.Fatal(err)
		}
	}
	var fields map[string]any
	if err := json.Unmarshal(raw, &fields); err != nil {
		t.Fatal(err)
	}
	if fields["objective"] != "val_acc" || fields["maximize"] != true {
		t.Errorf("status JSON objective %v, maximize %v; want val_acc, true", fields["objective"], fields["maximize"])
	}
	if fo, ok := fields["final_objective"].(map[string]any); !ok || len(fo) != 1 || fo["1"] != 0.77 || len(got.FinalObjective) != 1 || got.FinalObjective[1] != 0.77 {
		t.Errorf("status JSON final_objective %v (read: %v), final epochs %+v; want val_acc 0.77 at epoch 1", fields["final_objective"], got.FinalObjective, got.Final)
	}
	// The best genome's fitness is its val_acc negated, which the status's
	// own reading (Shown) gives back in its sign, under its name.
	g, err := st.Genome(c.RunID(), got.Best.GenomeID)
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Curve) == 0 {
		t.Fatalf("genome %d has no curve", g.ID)
	}
	acc := g.Curve[len(g.Curve)-1].Metrics["val_acc"]
	if got.Best.Fitness != -acc || got.Shown(got.Best.Fitness) != acc || !(acc > 0) || got.ShownName() != "val_acc" {
		t.Errorf("best genome %d: status fitness %v, shown %s %v; its trainer reported val_acc %v", g.ID, got.Best.Fitness, got.ShownName(), got.Shown(got.Best.Fitness), acc)
	}
}
