package problems_test

import (
	"context"
	"errors"
	"maps"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gahpo/gahpo"
	"github.com/gahpo/gahpo/ga"
	"github.com/gahpo/gahpo/models"
	"github.com/gahpo/gahpo/models/mnist"
	"github.com/gahpo/gahpo/models/problems"
	"github.com/gahpo/gahpo/models/regression"
	"github.com/gahpo/gahpo/problemfile"
)

type nopTrainer struct{}

func (nopTrainer) Train(context.Context, models.Job) (models.Outcome, error) {
	return models.Outcome{Fitness: 1}, nil
}

func TestRegistry(t *testing.T) {
	r := problems.NewRegistry()
	space := func() *ga.Space { s, _ := ga.NewSpace(ga.FloatParam("x", 0, 1, ga.Linear)); return s }
	ok := problems.Problem{Name: "a", Space: space, Trainer: nopTrainer{}}
	if err := r.Register(ok); err != nil {
		t.Fatal(err)
	}
	withDigest := ok
	withDigest.Name, withDigest.Digest = "b", "abc"
	if err := r.Register(withDigest); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		p    problems.Problem
		want string
	}{
		{"duplicate", ok, `problem already registered: "a" (built into gahpo)`},
		{"duplicate of a file", withDigest, `"b" (from a problem file)`},
		{"no name", problems.Problem{Space: space, Trainer: nopTrainer{}}, "without a name"},
		{"no space", problems.Problem{Name: "c", Trainer: nopTrainer{}}, "has no space"},
		{"no trainer", problems.Problem{Name: "c", Space: space}, "has no trainer"},
		{"bad budget", problems.Problem{Name: "c", Space: space, Trainer: nopTrainer{}, Budget: problems.Budget{Min: 3, Max: 2}}, "budget [3, 2]"},
		{"budget gene without a budget", problems.Problem{Name: "c", Space: space, Trainer: nopTrainer{}, BudgetGene: "x"}, `budget gene "x" without a budget`},
		{"unknown budget gene", problems.Problem{Name: "c", Space: space, Trainer: nopTrainer{}, Budget: problems.Budget{Min: 1, Max: 2}, BudgetGene: "epochs"}, `no parameter "epochs"`},
		{"budget gene the only gene", problems.Problem{Name: "c", Space: space, Trainer: nopTrainer{}, Budget: problems.Budget{Min: 1, Max: 2}, BudgetGene: "x"}, "only parameter"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := r.Register(tt.p); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Register: %v, want an error containing %q", err, tt.want)
			}
		})
	}
	if got := r.Names(); strings.Join(got, ",") != "a,b" {
		t.Errorf("Names = %v", got)
	}
	for name, hint := range map[string]bool{"problem.yaml": true, "my.JSON": true, "c": false} {
		_, err := r.Lookup(name)
		if !errors.Is(err, problems.ErrUnknown) || strings.Contains(err.Error(), "--problem-file") != hint {
			t.Errorf("Lookup(%q) = %v; want ErrUnknown, naming --problem-file: %v", name, err, hint)
		}
	}
	task := func(problem, digest string, x float64) gahpo.Task {
		return gahpo.Task{Problem: problem, ProblemDigest: digest, Params: map[string]float64{"x": x}}
	}
	accept := []struct {
		name string
		task gahpo.Task
		want error
	}{
		{"built-in", task("a", "", 0.5), nil},
		{"file with its digest", task("b", "abc", 0.5), nil},
		{"unknown", task("z", "", 0.5), problems.ErrUnknown},
		{"other digest", task("b", "abd", 0.5), problems.ErrDigest},
		{"digest for a built-in", task("a", "abc", 0.5), problems.ErrDigest},
	}
	for _, tt := range accept {
		t.Run("accept "+tt.name, func(t *testing.T) {
			err := r.Accept(tt.task)
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Errorf("Accept = %v, want %v", err, tt.want)
			}
			if errors.Is(err, models.ErrUntrainable) {
				t.Errorf("Accept's refusal %v blames the genome", err)
			}
		})
	}
	if err := r.Check(task("a", "", 2)); !errors.Is(err, models.ErrUntrainable) {
		t.Errorf("Check of x=2 in [0, 1]: %v, want ErrUntrainable", err)
	}
	if err := r.Check(task("a", "", 0.5)); err != nil {
		t.Errorf("Check of a valid genome: %v", err)
	}
	if out, err := r.Train(context.Background(), models.Job{Task: task("a", "", 0.5)}); err != nil || out.Fitness != 1 {
		t.Errorf("Train = %v, %v", out, err)
	}
}

// TestBuiltins checks the built-in problems' registrations.
func TestBuiltins(t *testing.T) {
	for _, tt := range []struct {
		name       string
		params     []string
		budget     problems.Budget
		budgetGene string
		data       bool
	}{
		{problems.CNN, []string{"batch_size", "lr", "gamma", "weight_decay"}, problems.Budget{Min: 1, Max: 14}, "", true},
		{problems.CNNShift, []string{"batch_size", "lr", "gamma", "weight_decay", "shift"}, problems.Budget{Min: 1, Max: 14}, "", true},
		{problems.Regression, []string{"lr", "batch_size", "epochs"}, problems.Budget{Min: 10, Max: 300}, "epochs", false},
	} {
		p, err := problems.Lookup(tt.name)
		if err != nil {
			t.Fatal(err)
		}
		if got := p.Space().Names(); strings.Join(got, ",") != strings.Join(tt.params, ",") {
			t.Errorf("%s: params %v, want %v", tt.name, got, tt.params)
		}
		if p.Budget != tt.budget || p.BudgetGene != tt.budgetGene || p.NeedsData != tt.data || problems.NeedsData(tt.name) != tt.data || p.Digest != "" {
			t.Errorf("%s: %+v", tt.name, p)
		}
	}
	// Each call gives a space of its own.
	a, _ := problems.Space(problems.CNN)
	a.MutationRate = 1
	if b, _ := problems.Space(problems.CNN); b.MutationRate == 1 {
		t.Error("spaces share their settings")
	}
}

// TestSpaceFor: a multi-fidelity run of the regression leaves its epochs
// gene out; a run stored without BudgetGene keeps the whole space.
func TestSpaceFor(t *testing.T) {
	p, err := problems.Lookup(problems.Regression)
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name, gene, want, wantErr string
	}{
		{name: "whole space", want: "lr,batch_size,epochs"},
		{name: "rungs decide the epochs", gene: "epochs", want: "lr,batch_size"},
		{name: "another gene", gene: "lr", wantErr: `the run leaves out gene "lr", the problem's budget gene is "epochs"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s, err := p.SpaceFor(gahpo.RunConfig{Problem: p.Name, Fidelity: gahpo.FidelityHalving, BudgetGene: tt.gene})
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || strings.Join(s.Names(), ",") != tt.want {
				t.Fatalf("SpaceFor = %v, %v; want %s", s, err, tt.want)
			}
		})
	}
}

// TestRegressionWithoutEpochsGene: a rung's task of a run that left the
// epochs gene out trains exactly as one that carries it (the rung's
// Epochs decide); a task with no epochs to stand for it is refused.
func TestRegressionWithoutEpochsGene(t *testing.T) {
	tr := problems.NewTrainer()
	task := gahpo.Task{V: gahpo.MessageVersion, Kind: gahpo.KindFitness, RunID: "r", GenomeID: 1, Problem: problems.Regression,
		Params: map[string]float64{regression.ParamLR: 0.05, regression.ParamBatchSize: 16, regression.ParamEpochs: 250}, Seed: 3, DataSeed: 4, Epochs: 3}
	with, err := tr.Train(context.Background(), models.Job{Task: task, CheckpointDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	task.Params = map[string]float64{regression.ParamLR: 0.05, regression.ParamBatchSize: 16}
	if err := problems.Check(task); err != nil {
		t.Fatalf("Check of a rung's task without the epochs gene: %v", err)
	}
	without, err := tr.Train(context.Background(), models.Job{Task: task, CheckpointDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if without.Fitness != with.Fitness || len(without.Curve) != 3 || math.IsInf(with.Fitness, 0) {
		t.Errorf("without the gene: fitness %v over %d epochs; with it: %v", without.Fitness, len(without.Curve), with.Fitness)
	}
	// Population based training: the checkpoint's genome may leave it out too.
	task.FromParams, task.FromSeed, task.FromEpochs = map[string]float64{regression.ParamLR: 0.02, regression.ParamBatchSize: 8}, 5, 0
	if err := problems.Check(task); err != nil {
		t.Errorf("Check with a checkpoint's genome without the epochs gene: %v", err)
	}
	task.FromParams = map[string]float64{regression.ParamLR: 7, regression.ParamBatchSize: 8}
	if err := problems.Check(task); !errors.Is(err, models.ErrUntrainable) || !strings.Contains(err.Error(), "checkpoint comes from") {
		t.Errorf("Check with the checkpoint's genome out of range: %v", err)
	}
	task.FromParams = nil
	task.Epochs = 0 // the one-epoch fitness: the genome's own epochs
	if _, err := tr.Train(context.Background(), models.Job{Task: task}); !errors.Is(err, models.ErrUntrainable) || !strings.Contains(err.Error(), `"epochs"`) {
		t.Errorf("a fitness without the epochs gene: %v, want ErrUntrainable naming epochs", err)
	}
}

// TestRegressionCheckpoint trains the regression in two rungs through the
// checkpoint directory and straight through, through the registry.
func TestRegressionCheckpoint(t *testing.T) {
	tr := problems.NewTrainer()
	task := gahpo.Task{V: gahpo.MessageVersion, Kind: gahpo.KindFitness, RunID: "r", GenomeID: 1, Problem: problems.Regression,
		Params: map[string]float64{regression.ParamLR: 0.05, regression.ParamBatchSize: 16, regression.ParamEpochs: 10}, Seed: 3, DataSeed: 4}
	train := func(dir string, from, to int) models.Outcome {
		t.Helper()
		task.FromEpochs, task.Epochs = from, to
		var seen int
		out, err := tr.Train(context.Background(), models.Job{Task: task, CheckpointDir: dir, OnEpoch: func(gahpo.EpochReport) { seen++ }})
		if err != nil {
			t.Fatal(err)
		}
		if seen != len(out.Curve) || seen != to-from {
			t.Errorf("%d reports, %d in the curve, want %d", seen, len(out.Curve), to-from)
		}
		return out
	}
	straight := train(t.TempDir(), 0, 4)
	dir := t.TempDir()
	train(dir, 0, 2)
	second := train(dir, 2, 4)
	if second.Fitness != straight.Fitness || second.Curve[1].Epoch != 4 || math.IsInf(second.Fitness, 0) {
		t.Errorf("resumed fitness %v (last epoch %d), straight %v", second.Fitness, second.Curve[1].Epoch, straight.Fitness)
	}
	if v := second.Curve[1].Metrics["val_loss"]; float64(v) != second.Fitness {
		t.Errorf("curve's last val_loss %v, fitness %v", v, second.Fitness)
	}
}

// TestCNNJobs runs the CNN's three kinds of job on a small subset: the
// fitness to an epoch, two rungs through the checkpoint (the same numbers
// as training straight through), and the final training (through the
// legacy Final, which Train serves).
func TestCNNJobs(t *testing.T) {
	if testing.Short() {
		t.Skip("trains the CNN")
	}
	dir, err := mnist.FindDir()
	if err != nil {
		t.Skip(err)
	}
	tr := problems.NewTrainer()
	task := gahpo.Task{V: gahpo.MessageVersion, Kind: gahpo.KindFitness, RunID: "r", GenomeID: 1, Problem: problems.CNN, Seed: 1, TrainSubset: 300,
		Params: map[string]float64{"batch_size": 64, "lr": 1, "gamma": 0.7, "weight_decay": 1e-6}}
	job := func(ckpt string, from, to int) models.Outcome {
		t.Helper()
		task.FromEpochs, task.Epochs = from, to
		out, err := tr.Train(context.Background(), models.Job{Task: task, DataDir: dir, CheckpointDir: ckpt})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	straight := job(t.TempDir(), 0, 2)
	ckpt := t.TempDir()
	first := job(ckpt, 0, 1)
	second := job(ckpt, 1, 2)
	if len(first.Curve) != 1 || float64(first.Curve[0].Metrics["val_loss"]) != first.Fitness || math.IsInf(first.Fitness, 0) {
		t.Errorf("first rung's fitness %v, curve %+v", first.Fitness, first.Curve)
	}
	if second.Fitness != straight.Fitness || second.Curve[0].Epoch != 2 {
		t.Errorf("resumed fitness %v, straight %v", second.Fitness, straight.Fitness)
	}
	// The final training (one epoch: the test set is measured after each).
	task.Kind, task.FromEpochs, task.Epochs = gahpo.KindFinal, 0, 1
	out, err := tr.Train(context.Background(), models.Job{Task: task, DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Curve) != 1 || len(out.Curve[0].Probe["conv1.weight"]) != 288 || out.TestAccuracy <= 0.1 || len(out.Weights) == 0 ||
		out.Curve[0].Metrics["lr"] != 1 || float64(out.Curve[0].Metrics["test_loss"]) != out.TestLoss {
		t.Errorf("final outcome %+v", out)
	}
}

// TestCNNShiftJobs: a cnn-shift genome of shift 0 trains to the bits of
// the same genome of the paper's problem; shift 2 trains to others; the
// genes are checked against the problem's space (shift 0-3; the paper's
// problem has none).
func TestCNNShiftJobs(t *testing.T) {
	if testing.Short() {
		t.Skip("trains the CNN")
	}
	dir, err := mnist.FindDir()
	if err != nil {
		t.Skip(err)
	}
	tr := problems.NewTrainer()
	paper := map[string]float64{"batch_size": 64, "lr": 1, "gamma": 0.7, "weight_decay": 1e-6}
	with := func(shift float64) map[string]float64 {
		p := maps.Clone(paper)
		p["shift"] = shift
		return p
	}
	train := func(problem string, params map[string]float64) (models.Outcome, error) {
		task := gahpo.Task{V: gahpo.MessageVersion, Kind: gahpo.KindFitness, RunID: "r", GenomeID: 1, Problem: problem, Seed: 1, TrainSubset: 200,
			Params: params, Epochs: 1}
		return tr.Train(context.Background(), models.Job{Task: task, DataDir: dir, CheckpointDir: t.TempDir()})
	}
	var ref float64 // the paper's problem's fitness
	for _, tt := range []struct {
		name, problem string
		params        map[string]float64
		ok            bool
	}{
		{"paper", problems.CNN, paper, true},
		{"shift 0", problems.CNNShift, with(0), true},
		{"shift 2", problems.CNNShift, with(2), true},
		{"shift 4: beyond the space", problems.CNNShift, with(4), false},
		{"shift 1.5: not a whole number", problems.CNNShift, with(1.5), false},
		{"no shift on cnn-shift", problems.CNNShift, paper, false},
		{"a shift on the paper's problem", problems.CNN, with(2), false},
	} {
		out, err := train(tt.problem, tt.params)
		if tt.ok != (err == nil) {
			t.Errorf("%s: error %v, want ok=%v", tt.name, err, tt.ok)
			continue
		}
		if !tt.ok {
			if !errors.Is(err, models.ErrUntrainable) {
				t.Errorf("%s: error %v is not the genome's fault", tt.name, err)
			}
			continue
		}
		t.Logf("%s: fitness %v", tt.name, out.Fitness)
		switch tt.name {
		case "paper":
			ref = out.Fitness
		case "shift 0", "shift 2":
			if same := out.Fitness == ref; same != (tt.name == "shift 0") {
				t.Errorf("%s: fitness %v, the paper's problem's %v", tt.name, out.Fitness, ref)
			}
		}
	}
}

// TestLegacyFinal checks the older Final method, served by Train.
func TestLegacyFinal(t *testing.T) {
	task := gahpo.Task{V: gahpo.MessageVersion, Kind: gahpo.KindFinal, RunID: "r", GenomeID: 1, Problem: problems.Regression,
		Params: map[string]float64{regression.ParamLR: 0.05, regression.ParamBatchSize: 16, regression.ParamEpochs: 10}, Seed: 3}
	var epochs []models.EpochMetrics
	fr, err := problems.NewTrainer().Final(context.Background(), task, "", func(m models.EpochMetrics) { epochs = append(epochs, m) })
	if err != nil {
		t.Fatal(err)
	}
	if len(fr.Epochs) != 10 || len(epochs) != 10 || fr.Epochs[9].TestLoss != fr.TestLoss || len(fr.Weights) == 0 || fr.TestLoss <= 0 {
		t.Errorf("final result %+v", fr)
	}
}

// TestProblemFile registers the toy example's file and trains a genome
// of it through the registry.
func TestProblemFile(t *testing.T) {
	path, err := filepath.Abs("../../examples/toy/problem.yaml")
	if err != nil {
		t.Fatal(err)
	}
	p, err := problems.RegisterFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if again, err := problems.RegisterFile(path); err != nil || again.Digest != p.Digest {
		t.Errorf("the same file again: %v, %v; want its problem", again.Digest, err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(t.TempDir(), "problem.yaml")
	if err := os.WriteFile(other, append(b, "# another file of the name\n"...), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := problems.RegisterFile(other); !errors.Is(err, problems.ErrDuplicate) {
		t.Errorf("another file of the name: %v, want ErrDuplicate", err)
	}
	pf, _ := problemfile.Load(path)
	if p.Digest != pf.Digest || p.Budget != (problems.Budget{Min: 1, Max: 9}) || p.NeedsData {
		t.Errorf("problem %+v", p)
	}
	space, err := problems.Space("toy")
	if err != nil {
		t.Fatal(err)
	}
	genes, err := space.FromValues(map[string]any{"x": 0.5, "lr": 0.2, "steps": 2, "optimizer": "momentum"})
	if err != nil {
		t.Fatal(err)
	}
	task := gahpo.Task{V: gahpo.MessageVersion, Kind: gahpo.KindFitness, RunID: "r", GenomeID: 1, Problem: "toy",
		ProblemDigest: p.Digest, Params: space.ToMap(genes), Seed: 1, Epochs: 2}
	if err := problems.Accept(task); err != nil {
		t.Fatal(err)
	}
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 is not installed")
	}
	out, err := problems.NewTrainer().Train(context.Background(), models.Job{Task: task, CheckpointDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Curve) != 2 || out.Fitness <= 0 || out.Fitness > 1 {
		t.Errorf("toy outcome %+v", out)
	}
}
