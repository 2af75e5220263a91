package command_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/gahpo/gahpo/models/command"
)

// TestWeightsFile: a training whose model the coordinator keeps (a task
// with WeightsTo) is given GAHPO_WEIGHTS_FILE, and what the command writes
// there comes back as the outcome's weights; a fitness training is not
// given it; a command that writes none keeps no model and still trains.
func TestWeightsFile(t *testing.T) {
	const metrics = "echo '{\"epoch\": 1, \"loss\": 0.5}'\n"
	tests := []struct {
		name      string
		script    string
		weightsTo string
		want      string
		log       string
	}{
		{name: "a final writes its model", weightsTo: "gahpo-weights", want: "model 0.5 \x00\xff",
			script: "printf 'model %s \\000\\377' \"$(cat \"$GAHPO_PARAMS\" | sed 's/.*: *//; s/}//')\" > \"$GAHPO_WEIGHTS_FILE\"\n" + metrics},
		{name: "a fitness training is not asked", script: "[ -z \"$GAHPO_WEIGHTS_FILE\" ] || echo asked: $GAHPO_WEIGHTS_FILE\n" + metrics},
		{name: "a final writes none", weightsTo: "gahpo-weights", script: metrics},
		{name: "a model that cannot be read", weightsTo: "gahpo-weights", log: "gahpo: no model kept: GAHPO_WEIGHTS_FILE names a file, and the command made a directory there",
			script: "mkdir \"$GAHPO_WEIGHTS_FILE\"\n" + metrics},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := shProblem(t, tc.script)
			j := job(p, "ok", t.TempDir())
			j.Task.Params = map[string]float64{"x": 0.5}
			j.Task.Epochs = 1
			j.Task.WeightsTo = tc.weightsTo
			out, err := command.New(p).Train(context.Background(), j)
			if err != nil {
				t.Fatal(err)
			}
			if string(out.Weights) != tc.want || out.Fitness != 0.5 {
				t.Errorf("weights %q fitness %v, want %q and the training's 0.5", out.Weights, out.Fitness, tc.want)
			}
			if slices.ContainsFunc(out.Log, func(l string) bool { return strings.HasPrefix(l, "asked") }) {
				t.Errorf("a fitness training was given GAHPO_WEIGHTS_FILE: %q", out.Log)
			}
			if tc.log != "" && !slices.ContainsFunc(out.Log, func(l string) bool { return strings.HasPrefix(l, tc.log) }) {
				t.Errorf("log %q, want a line saying %q", out.Log, tc.log)
			}
		})
	}
}
