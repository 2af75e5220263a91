package problemfile_test

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gahpo/gahpo/ga"
	"github.com/gahpo/gahpo/problemfile"
)

const valid = `name: my-model
space:
  - {name: lr, type: float, min: 1.0e-5, max: 1, scale: log}
  - {name: batch_size, type: int, min: 16, max: 256}
  - {name: optimizer, type: choice, values: [sgd, adam, adadelta]}
objective: {metric: val_loss, goal: minimize}
budget: {min: 1, max: 14}
train:
  command: [python3, train.py, --lr, "{lr}", "--opt={optimizer}"]
  dir: sub
  timeout: 30m
  env: {PYTHONUNBUFFERED: "1"}
data: [data/train.csv, /abs/test.csv]
fitness: {max: 100}
`

func TestLoadValid(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "problem.yaml")
	if err := os.WriteFile(path, []byte(valid), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := problemfile.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != "my-model" || p.Objective.Goal != problemfile.Minimize || p.Budget == nil || p.Budget.Max != 14 {
		t.Errorf("file = %+v", p.File)
	}
	if p.Dir != filepath.Join(dir, "sub") || p.Timeout != 30*time.Minute || p.TimeoutPerEpoch != 0 {
		t.Errorf("dir %q timeout %v per epoch %v", p.Dir, p.Timeout, p.TimeoutPerEpoch)
	}
	if q, err := problemfile.Parse([]byte(strings.Replace(valid, "timeout: 30m", "timeout_per_epoch: 5m", 1)), path); err != nil || q.TimeoutPerEpoch != 5*time.Minute || q.Timeout != 0 {
		t.Errorf("timeout_per_epoch: %v, %+v", err, q)
	}
	if want := []string{filepath.Join(dir, "data/train.csv"), "/abs/test.csv"}; strings.Join(p.DataFiles, ",") != strings.Join(want, ",") {
		t.Errorf("data files %v, want %v", p.DataFiles, want)
	}
	want := []ga.Param{
		ga.FloatParam("lr", 1e-5, 1, ga.Log),
		ga.IntParam("batch_size", 16, 256),
		ga.ChoiceParam("optimizer", "sgd", "adam", "adadelta"),
	}
	for i, w := range want {
		g := p.Space.Params[i]
		if g.Name != w.Name || g.Kind != w.Kind || g.Min != w.Min || g.Max != w.Max || g.Scale != w.Scale || strings.Join(g.Values, ",") != strings.Join(w.Values, ",") {
			t.Errorf("param %d = %+v, want %+v", i, g, w)
		}
	}
	if p.Digest != problemfile.Digest([]byte(valid)) || len(p.Digest) != 64 {
		t.Errorf("digest %q", p.Digest)
	}
	// One byte more is another file.
	q, err := problemfile.Parse([]byte(valid+"\n"), path)
	if err != nil || q.Digest == p.Digest {
		t.Errorf("digest of a changed file: %v %q", err, q.Digest)
	}
	for _, tt := range []struct {
		obj, fit float64
		bad      bool
	}{{0.5, 0.5, false}, {math.NaN(), math.Inf(1), true}, {math.Inf(-1), math.Inf(1), true}, {101, math.Inf(1), true}} {
		fit, reason := p.Fitness(tt.obj)
		if fit != tt.fit || (reason != "") != tt.bad {
			t.Errorf("Fitness(%g) = %g %q, want %g bad=%v", tt.obj, fit, reason, tt.fit, tt.bad)
		}
	}
}

// TestJSON checks that the same problem written in JSON is accepted and
// that a maximised objective is negated.
func TestJSON(t *testing.T) {
	js := `{"name": "j", "space": [{"name": "x", "type": "float", "min": -1, "max": 1},
	  {"name": "k", "type": "choice", "values": ["a", 2]}],
	  "objective": {"metric": "acc", "goal": "maximize"},
	  "train": {"command": ["./train", "{x}"]}}`
	p, err := problemfile.Parse([]byte(js), "p.json")
	if err != nil {
		t.Fatal(err)
	}
	if p.Budget != nil || p.Timeout != 0 || p.Space.Params[1].Values[1] != "2" {
		t.Errorf("problem %+v", p)
	}
	if fit, reason := p.Fitness(0.9); fit != -0.9 || reason != "" {
		t.Errorf("Fitness(0.9) = %g %q, want -0.9", fit, reason)
	}
	// A stray brace closes the object early: what follows is refused,
	// not dropped.
	stray := js + "\n" + `, "budget": {"min": 1, "max": 4}}`
	if _, err := problemfile.Parse([]byte(stray), "p.json"); err == nil || !strings.Contains(err.Error(), "after the problem") {
		t.Errorf("a JSON object closed early: %v", err)
	}
}

// TestInvalid checks that each fault is refused with one line naming the
// field.
func TestInvalid(t *testing.T) {
	base := map[string]string{
		"name":      "name: m\n",
		"space":     "space:\n  - {name: x, type: float, min: 0, max: 1}\n",
		"objective": "objective: {metric: loss}\n",
		"train":     "train: {command: [./t]}\n",
	}
	file := func(over map[string]string) string {
		var b strings.Builder
		for _, k := range []string{"name", "space", "objective", "train"} {
			v, ok := over[k]
			if !ok {
				v = base[k]
			}
			b.WriteString(v)
		}
		b.WriteString(over["extra"])
		return b.String()
	}
	sp := func(params ...string) map[string]string {
		return map[string]string{"space": "space:\n  - " + strings.Join(params, "\n  - ") + "\n"}
	}
	tests := []struct {
		name string
		over map[string]string
		want string
	}{
		{"bad range", sp("{name: x, type: float, min: 2, max: 1}"), `space[0] "x": min 2 > max 1`},
		{"duplicate name", sp("{name: x, type: float, min: 0, max: 1}", "{name: x, type: int, min: 0, max: 3}"), `space[1]: duplicate name "x" (also space[0])`},
		{"unknown type", sp("{name: x, type: double, min: 0, max: 1}"), `space[0] "x": type: unknown type "double"`},
		{"missing type", sp("{name: x, min: 0, max: 1}"), `space[0] "x": type: missing`},
		{"log at zero", sp("{name: lr, type: float, min: 0, max: 1, scale: log}"), `space[0] "lr": min: log scale needs min > 0, got 0`},
		{"log negative", sp("{name: lr, type: float, min: -1, max: 1, scale: log}"), `log scale needs min > 0`},
		{"log int fraction", sp("{name: n, type: int, min: 0.5, max: 8, scale: log}"), `an int's bounds must be integers`},
		{"unknown scale", sp("{name: x, type: float, min: 1, max: 2, scale: logit}"), `scale: unknown scale "logit"`},
		{"int fraction", sp("{name: n, type: int, min: 0.5, max: 3}"), `an int's bounds must be integers`},
		{"missing min", sp("{name: x, type: float, max: 1}"), `space[0] "x": min: missing`},
		{"missing max", sp("{name: x, type: int, min: 1}"), `space[0] "x": max: missing`},
		{"infinite", sp("{name: x, type: float, min: 0, max: .inf}"), `max: +Inf is not a finite number`},
		{"choice without values", sp("{name: c, type: choice}"), `space[0] "c": values: a choice needs at least one value`},
		{"choice value twice", sp("{name: c, type: choice, values: [a, b, a]}"), `values[2]: duplicate value "a"`},
		{"choice value with a comma", sp(`{name: c, type: choice, values: [adam, "adam,amsgrad"]}`), `values[1]: "adam,amsgrad": a choice's value may not be empty, hold ',', ';' or '='`},
		{"choice value with =", sp(`{name: c, type: choice, values: ["sgd=nesterov"]}`), `values[0]: "sgd=nesterov"`},
		{"choice value empty", sp(`{name: c, type: choice, values: [a, ""]}`), `values[1]: ""`},
		{"int beyond 2^53", sp("{name: n, type: int, min: 1, max: 1e30}"), `space[0] "n": min, max: an int's bounds [1, 1e+30] exceed ±2^53`},
		{"choice with bounds", sp("{name: c, type: choice, min: 0, max: 1, values: [a]}"), `a choice has values, not bounds`},
		{"values on a float", sp("{name: x, type: float, min: 0, max: 1, values: [a]}"), `only a choice has values`},
		{"param without name", sp("{type: float, min: 0, max: 1}"), `space[0]: name: missing`},
		{"param bad name", sp("{name: 'a b', type: float, min: 0, max: 1}"), `name: "a b" must be`},
		{"no space", map[string]string{"space": ""}, `space: no parameters`},
		{"no name", map[string]string{"name": ""}, `name: missing`},
		{"bad name", map[string]string{"name": "name: 'my model'\n"}, `name: "my model" must be`},
		{"missing command", map[string]string{"train": "train: {dir: .}\n"}, `train.command: missing`},
		{"empty program", map[string]string{"train": "train: {command: ['']}\n"}, `train.command: missing`},
		{"unknown placeholder", map[string]string{"train": "train: {command: [./t, '{y}']}\n"}, `train.command[1]: placeholder {y} names no parameter`},
		{"bad timeout", map[string]string{"train": "train: {command: [./t], timeout: soon}\n"}, `train.timeout: "soon"`},
		{"negative timeout", map[string]string{"train": "train: {command: [./t], timeout: -1s}\n"}, `train.timeout: "-1s"`},
		{"bad timeout per epoch", map[string]string{"train": "train: {command: [./t], timeout_per_epoch: 10}\n", "extra": "budget: {min: 1, max: 3}\n"}, `train.timeout_per_epoch: "10", want a positive duration such as 10m or 90s`},
		{"timeout per epoch without a budget", map[string]string{"train": "train: {command: [./t], timeout_per_epoch: 10m}\n"}, `train.timeout_per_epoch: needs a budget (without one the command decides its epochs): give budget, or train.timeout`},
		{"reserved env", map[string]string{"train": "train: {command: [./t], env: {GAHPO_SEED: '1'}}\n"}, `train.env: GAHPO_SEED: names starting with GAHPO_`},
		{"bad env name", map[string]string{"train": "train: {command: [./t], env: {'A=B': '1'}}\n"}, `train.env: "A=B" is not a variable name`},
		{"no metric", map[string]string{"objective": "objective: {goal: minimize}\n"}, `objective.metric: missing`},
		{"the epoch as metric", map[string]string{"objective": "objective: {metric: epoch}\n"}, `objective.metric: "epoch" is a report's epoch number, not a metric`},
		{"bad goal", map[string]string{"objective": "objective: {metric: loss, goal: lowest}\n"}, `objective.goal: "lowest"`},
		{"budget min 0", map[string]string{"extra": "budget: {min: 0, max: 3}\n"}, `budget.min: missing or 0 (the epochs of the first rung: at least 1)`},
		{"budget without min", map[string]string{"extra": "budget: {max: 5}\n"}, `budget.min: missing or 0`},
		{"budget min negative", map[string]string{"extra": "budget: {min: -1, max: 3}\n"}, `budget.min: -1, want at least 1 epoch`},
		{"budget inverted", map[string]string{"extra": "budget: {min: 4, max: 3}\n"}, `budget.max: 3 is below budget.min 4`},
		{"data same name", map[string]string{"extra": "data: [a/x.csv, b/x.csv]\n"}, `data[1]: file name "x.csv" already in data[0]`},
		{"fitness inverted", map[string]string{"extra": "fitness: {min: 3, max: 1}\n"}, `fitness: min 3 > max 1`},
		{"unknown field", map[string]string{"extra": "epochs: 3\n"}, `unknown key "epochs" (known here: name, space, objective, budget, train, data, fitness)`},
		{"misspelt param field", sp("{name: x, type: float, min: 0, max: 1, sclae: log}"), `unknown key "sclae" (known here: name, type, min, max, scale, values)`},
		{"misspelt train field", map[string]string{"train": "train: {command: [./t], timout: 5m}\n"}, `unknown key "timout" (known here: command, dir, timeout, timeout_per_epoch, env)`},
		{"wrong type", map[string]string{"extra": "budget: {min: one, max: 3}\n"}, `line 6: budget.min: "one", want a whole number`},
		{"a command as one string", map[string]string{"train": "train:\n  command: python3 train.py --lr {x}\n"},
			`line 6: train.command: "python3 train.py --lr {x}", want a list of the program and its arguments: [python3, train.py, --lr, "{lr}"] (no shell splits a string)`},
		{"an objective as its metric", map[string]string{"objective": "objective: val_loss\n"}, `line 4: objective: "val_loss", want a mapping: {metric: val_loss, goal: minimize}`},
		{"a space as a mapping", map[string]string{"space": "space:\n  lr: {type: float, min: 0, max: 1}\n"},
			`line 3: space: a mapping, want a list of parameters, one a line: - {name: lr, type: float, min: 1.0e-5, max: 1, scale: log}`},
		{"a parameter as its name", sp("lr"), `line 3: space[0]: "lr", want a parameter: {name: lr, type: float, min: 1.0e-5, max: 1, scale: log}`},
		{"a choice's values without brackets", sp("{name: c, type: choice, values: sgd, adam}"), `line 3: space[0].values: "sgd", want a list of a choice's values: [sgd, adam]`},
		{"a quoted bound", sp(`{name: x, type: float, min: "0.001", max: 1}`), `line 3: space[0].min: "0.001", want a number, without quotes`},
		{"a fractional epoch", map[string]string{"extra": "budget: {min: 1, max: 2.5}\n"}, `line 6: budget.max: "2.5", want a whole number`},
		{"env as a list", map[string]string{"train": "train: {command: [./t], env: [A=1]}\n"}, `line 5: train.env: a list, want a mapping of variables: {PYTHONUNBUFFERED: "1"}`},
		{"data as one file", map[string]string{"extra": "data: train.csv\n"}, `line 6: data: "train.csv", want a list of files: [data/train.csv]`},
		{"not yaml", map[string]string{"name": "name: [\n"}, `problem.yaml:`},
		{"a second document", map[string]string{"extra": "---\nbudget: {min: 1, max: 4}\n"}, `a second document at line 6: a problem file holds one YAML document or JSON object`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := problemfile.Parse([]byte(file(tt.over)), "problem.yaml")
			if err == nil {
				t.Fatalf("accepted:\n%s", file(tt.over))
			}
			msg := err.Error()
			if !strings.Contains(msg, tt.want) || !strings.HasPrefix(msg, "problemfile: invalid problem file: problem.yaml: ") {
				t.Errorf("error %q, want it to contain %q", msg, tt.want)
			}
			if strings.Contains(msg, "\n") {
				t.Errorf("error spans lines: %q", msg)
			}
			if !errors.Is(err, problemfile.ErrInvalid) {
				t.Errorf("error does not wrap ErrInvalid")
			}
		})
	}
	if _, err := problemfile.Parse([]byte("---\n"+file(nil)+"---\n"), "problem.yaml"); err != nil {
		t.Errorf("a file between --- lines (an empty document after it): %v", err)
	}
	if _, err := problemfile.Parse(nil, "empty.yaml"); err == nil || !strings.Contains(err.Error(), "empty file") {
		t.Errorf("empty file: %v", err)
	}
	if _, err := problemfile.Load(filepath.Join(t.TempDir(), "none.yaml")); err == nil {
		t.Error("a missing file loaded")
	}
}
