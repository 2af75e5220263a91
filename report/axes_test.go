package report

import (
	"slices"
	"testing"

	"github.com/gahpo/gahpo"
	"github.com/gahpo/gahpo/ga"
	"github.com/gahpo/gahpo/models/problems"
)

// TestParamSpecs: a run's parameters are drawn from the space it stored;
// a run stored before that from its problem's space when this process has
// the same problem, and otherwise from its genomes' values (a choice's
// from their choices).
func TestParamSpecs(t *testing.T) {
	genomes := []gahpo.GenomeRecord{
		{ID: 1, Params: map[string]float64{"n": 5, "opt": 2}, Choices: map[string]string{"opt": "with space"}},
		{ID: 2, Params: map[string]float64{"n": 900, "opt": 0}, Choices: map[string]string{"opt": "sgd"}},
	}
	stored := []ga.Param{ga.IntParam("n", 1, 1000), ga.ChoiceParam("opt", "sgd", "adam", "with space")}
	stored[0].Scale = ga.Log
	tests := []struct {
		name   string
		run    gahpo.Run
		gs     []gahpo.GenomeRecord
		want   map[string]ga.Param
		choice []string // opt's values, when it is one
	}{
		{name: "the run's stored space", run: gahpo.Run{Params: []string{"n", "opt"}, Space: stored,
			Config: gahpo.RunConfig{Problem: "m", ProblemDigest: "abc"}}, gs: genomes,
			want: map[string]ga.Param{"n": stored[0], "opt": stored[1]}, choice: []string{"sgd", "adam", "with space"}},
		{name: "stored before its space: from the genomes", run: gahpo.Run{Params: []string{"n", "opt"},
			Config: gahpo.RunConfig{Problem: "m", ProblemDigest: "abc"}}, gs: genomes,
			want:   map[string]ga.Param{"n": {Name: "n", Min: 5, Max: 900, Scale: ga.Log}},
			choice: []string{"sgd", "1", "with space"}},
		{name: "stored before its space: a built-in problem's", run: gahpo.Run{Params: []string{"lr", "batch_size", "epochs"},
			Config: gahpo.RunConfig{Problem: problems.Regression}},
			want: func() map[string]ga.Param {
				s, _ := problems.Space(problems.Regression)
				out := map[string]ga.Param{}
				for _, p := range s.Params {
					out[p.Name] = p
				}
				return out
			}()},
		{name: "a problem file named like a built-in", run: gahpo.Run{Params: []string{"lr"},
			Config: gahpo.RunConfig{Problem: problems.Regression, ProblemDigest: "abc"}},
			gs:   []gahpo.GenomeRecord{{ID: 1, Params: map[string]float64{"lr": 3}}, {ID: 2, Params: map[string]float64{"lr": 4}}},
			want: map[string]ga.Param{"lr": {Name: "lr", Min: 3, Max: 4, Scale: ga.Linear}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := paramSpecs(&Snapshot{Run: tt.run, Genomes: tt.gs})
			for name, w := range tt.want {
				g := got[name]
				if g.Name != w.Name || g.Kind != w.Kind || g.Min != w.Min || g.Max != w.Max || g.Scale != w.Scale || !slices.Equal(g.Values, w.Values) {
					t.Errorf("%s: %+v, want %+v", name, g, w)
				}
			}
			opt := got["opt"]
			if tt.choice != nil && (opt.Kind != ga.Choice || !slices.Equal(opt.Values, tt.choice)) {
				t.Errorf("opt: %+v, want a choice of %q", opt, tt.choice)
			}
			if tt.choice != nil {
				ticks := choiceTicks(opt).Ticks(-0.5, 2.5)
				for i, v := range tt.choice {
					if ticks[i].Value != float64(i) || ticks[i].Label != v {
						t.Errorf("tick %d: %+v, want %q at %d", i, ticks[i], v, i)
					}
				}
			}
		})
	}
	if choiceTicks(ga.IntParam("n", 1, 3)) != nil {
		t.Error("an int parameter got a choice's ticks")
	}
}
