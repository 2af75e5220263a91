package report

import (
	"strings"
	"testing"

	"github.com/gahpo/gahpo"
)

// TestFailureText: the summary's line on failed genomes.
func TestFailureText(t *testing.T) {
	done := func(id int) gahpo.GenomeRecord {
		return gahpo.GenomeRecord{ID: id, Status: gahpo.GenomeDone, Fitness: 0.5}
	}
	fail := func(id int, why string) gahpo.GenomeRecord {
		return gahpo.GenomeRecord{ID: id, Status: gahpo.GenomeFailed, Failure: why}
	}
	pbtNone := gahpo.Run{Status: gahpo.RunDone} // chose no genome
	pbtNone.Config.Fidelity, pbtNone.Config.MinEpochs, pbtNone.Config.MaxEpochs = gahpo.FidelityPBT, 1, 4
	halving := gahpo.Run{Status: gahpo.RunDone, Best: 1}
	halving.Config.Fidelity, halving.Config.MinEpochs, halving.Config.MaxEpochs, halving.Config.Eta = gahpo.FidelityHalving, 1, 9, 3
	torch := "command: models: cannot train this genome: the command failed: exit status 1; standard error ends:\n  File \"train.py\", line 3\n    import torch\nModuleNotFoundError: No module named 'torch'\n"
	tests := []struct {
		name    string
		run     gahpo.Run
		genomes []gahpo.GenomeRecord
		want    string
	}{
		{"none failed", gahpo.Run{}, []gahpo.GenomeRecord{done(1), done(2)}, ""},
		{"nothing trained", gahpo.Run{}, nil, ""},
		{"every one, one reason: its last line", gahpo.Run{}, []gahpo.GenomeRecord{fail(1, torch), fail(2, torch), {ID: 3, Status: gahpo.GenomeQueued}},
			"failed: every one of the 2 genomes trained, so the run has no result; the reason (2): ModuleNotFoundError: No module named 'torch' (gahpo query genome 1 shows it whole)"},
		{"some, the commonest reason, its first genome", gahpo.Run{}, []gahpo.GenomeRecord{done(1), fail(2, "diverged: loss is NaN at epoch 1"), fail(3, "timeout after 30m"), fail(4, "timeout after 30m"), {ID: 5, Status: gahpo.GenomeDone, DuplicateOf: 1}},
			"failed: 3 of 4 trained genomes; most often (2): timeout after 30m (gahpo query genome 3 shows it whole)"},
		{"a genome training on to its next rung was trained", gahpo.Run{}, []gahpo.GenomeRecord{fail(1, "diverged"), {ID: 2, Status: gahpo.GenomePromoted, Fitness: 0.5}, done(3)},
			"failed: 1 of 3 trained genomes; the reason (1): diverged (gahpo query genome 1 shows it whole)"},
		{"a tie: the earlier reason", gahpo.Run{}, []gahpo.GenomeRecord{fail(1, "b"), fail(2, "a"), done(3)},
			"failed: 2 of 3 trained genomes; most often (1): b (gahpo query genome 1 shows it whole)"},
		{"no reason recorded", gahpo.Run{}, []gahpo.GenomeRecord{fail(1, ""), done(2)},
			"failed: 1 of 2 trained genomes; the reason (1): no reason recorded (gahpo query genome 1 shows it whole)"},
		{"population based training: the others stopped, none completed the last rung", pbtNone, []gahpo.GenomeRecord{done(1), done(2), fail(3, "diverged"), fail(4, "diverged")},
			"failed: 2 of 4 trained genomes, and none completed the last rung (4 epochs), so the run has no result; the reason (2): diverged (gahpo query genome 3 shows it whole)"},
		{"halving: a result despite failures", halving, []gahpo.GenomeRecord{done(1), fail(2, "diverged")},
			"failed: 1 of 2 trained genomes; the reason (1): diverged (gahpo query genome 2 shows it whole)"},
		{"gahpo's cause, not the command's last words", gahpo.Run{}, []gahpo.GenomeRecord{done(1),
			fail(2, "command: models: cannot train this genome: no objective: the command printed no JSON line with \"val_acc\"; standard error ends:\nloading\ndone")},
			"failed: 1 of 2 trained genomes; the reason (1): no objective: the command printed no JSON line with \"val_acc\" (gahpo query genome 2 shows it whole)"},
		{"one cause with other values", gahpo.Run{}, []gahpo.GenomeRecord{done(1),
			fail(2, "command: models: cannot train this genome: objective val_acc -0.25 is below fitness.min 0; standard error ends:\ndone"),
			fail(3, "command: models: cannot train this genome: objective val_acc -1e-05 is below fitness.min 0"),
			fail(4, "timeout after 30m")},
			"failed: 3 of 4 trained genomes; most often (2): objective val_acc -0.25 is below fitness.min 0 (gahpo query genome 2 shows it whole)"},
		{"Node.js: the error above its frames and version line", gahpo.Run{}, []gahpo.GenomeRecord{done(1),
			fail(2, "command: models: cannot train this genome: the command failed: exit status 1; standard error ends:\n\nTypeError: Cannot read properties of undefined (reading '0')\n    at Object.<anonymous> (/w/train.js:29:100)\n    at node:internal/main/run_main_module:28:49\n\nNode.js v20.20.2")},
			"failed: 1 of 2 trained genomes; the reason (1): TypeError: Cannot read properties of undefined (reading '0') (gahpo query genome 2 shows it whole)"},
		{"Java: the exception the worker quoted above the frames' tail", gahpo.Run{}, []gahpo.GenomeRecord{done(1),
			fail(2, "command: models: cannot train this genome: the command failed: exit status 1; standard error ends:\nException in thread \"main\" java.lang.IllegalStateException: shape\n…\n\tat Train.deep(Train.java:2)\n\tat Train.main(Train.java:3)")},
			"failed: 1 of 2 trained genomes; the reason (1): Exception in thread \"main\" java.lang.IllegalStateException: shape (gahpo query genome 2 shows it whole)"},
		{"a crash without standard error", gahpo.Run{}, []gahpo.GenomeRecord{done(1), fail(2, "command: models: cannot train this genome: the command failed: signal: killed")},
			"failed: 1 of 2 trained genomes; the reason (1): the command failed: signal: killed (gahpo query genome 2 shows it whole)"},
		{"a long line is cut", gahpo.Run{}, []gahpo.GenomeRecord{fail(1, strings.Repeat("x", 300))},
			"failed: the one genome trained, so the run has no result; the reason (1): " + strings.Repeat("x", 200) + "… (gahpo query genome 1 shows it whole)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := FailureText(tt.run, tt.genomes); got != tt.want {
				t.Errorf("FailureText =\n%q\nwant\n%q", got, tt.want)
			}
		})
	}
}

// TestObjectiveTexts: how a problem file's objective is named in the
// summary, the page and the fitness axes.
func TestObjectiveTexts(t *testing.T) {
	tests := []struct {
		name            string
		rc              gahpo.RunConfig
		text, axis, los string
	}{
		{"built-in", gahpo.RunConfig{Problem: "cnn"}, "", "fitness: validation loss (NLL, nats)", "loss (NLL, nats)"},
		{"a file, minimised", gahpo.RunConfig{Problem: "f", Objective: "val_loss"}, "val_loss, minimised: a fitness is its value",
			"fitness: val_loss (lower is better)", "loss (as the training reports it)"},
		{"a file, maximised", gahpo.RunConfig{Problem: "f", Objective: "val_accuracy", Maximize: true},
			"val_accuracy, maximised: tables and figures show its value; a fitness (JSON's fitness) is its value negated (−0.93 is val_accuracy 0.93)",
			"val_accuracy (maximised: higher is better)", "loss (as the training reports it)"},
		{"a file of an older run", gahpo.RunConfig{Problem: "f"}, "", "fitness (lower is better)", "loss (as the training reports it)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ObjectiveText(tt.rc); got != tt.text {
				t.Errorf("ObjectiveText = %q, want %q", got, tt.text)
			}
			if got := fitnessLabel(&Snapshot{Run: gahpo.Run{Config: tt.rc}}); got != tt.axis {
				t.Errorf("fitnessLabel = %q, want %q", got, tt.axis)
			}
			if got := lossLabel(tt.rc); got != tt.los {
				t.Errorf("lossLabel = %q, want %q", got, tt.los)
			}
		})
	}
}

// TestCurveMetric: the metric the learning curves show.
func TestCurveMetric(t *testing.T) {
	gs := []gahpo.GenomeRecord{{Curve: []gahpo.EpochReport{{Epoch: 1, Metrics: map[string]gahpo.Float{"w": 1, "val_loss": 2, "train_loss": 3}}}}}
	tests := []struct{ objective, want string }{
		{"", "val_loss"},             // a built-in problem: its validation loss
		{"w", "w"},                   // a problem file's objective
		{"val_accuracy", "val_loss"}, // an objective no curve recorded
		{"train_loss", "train_loss"}, // a loss that is the objective
	}
	for _, tt := range tests {
		if got := curveMetric(gs, tt.objective); got != tt.want {
			t.Errorf("curveMetric(objective %q) = %q, want %q", tt.objective, got, tt.want)
		}
	}
}

// TestFormatParams: the views' genome: an integer whole (what --enqueue
// takes back), four significant digits otherwise, a choice by its value.
func TestFormatParams(t *testing.T) {
	for _, tt := range []struct {
		p       map[string]float64
		choices map[string]string
		want    string
	}{
		{map[string]float64{"steps": 123456, "lr": 0.00012345678}, nil, "lr=0.0001235 steps=123456"},
		{map[string]float64{"batch_size": 64, "lr": 1, "gamma": 0.7, "weight_decay": 1e-07}, nil, "batch_size=64 gamma=0.7 lr=1 weight_decay=1e-07"},
		{map[string]float64{"h": 9.326e14, "x": 2.5e20}, nil, "h=932600000000000 x=2.5e+20"},
		{map[string]float64{"opt": 1}, map[string]string{"opt": "adam"}, "opt=adam"},
	} {
		if got := FormatParams(tt.p, tt.choices); got != tt.want {
			t.Errorf("FormatParams(%v) = %q, want %q", tt.p, got, tt.want)
		}
	}
}

// TestCheckpointText: the summary's line on genomes whose trainer kept no
// checkpoint where they could be promoted from.
func TestCheckpointText(t *testing.T) {
	note := gahpo.NoCheckpointNote + "the command left GAHPO_CHECKPOINT_DIR empty, so a later rung trains this genome again from its first epoch"
	kept := gahpo.GenomeRecord{ID: 1, Log: []string{"epoch 1 done"}}
	empty := func(id int) gahpo.GenomeRecord { return gahpo.GenomeRecord{ID: id, Log: []string{"training", note}} }
	if got := CheckpointText([]gahpo.GenomeRecord{kept, {ID: 2}}); got != "" {
		t.Errorf("genomes that kept their state: %q, want nothing said", got)
	}
	want := "checkpoints: the trainer left GAHPO_CHECKPOINT_DIR empty for 2 genomes that could be promoted, so a promoted one trains from its first epoch again at each rung, paying those epochs twice (a trainer keeps its state there and goes on from it, as examples/toy/train.py does; gahpo query genome 3 shows one)"
	if got := CheckpointText([]gahpo.GenomeRecord{kept, empty(3), empty(4)}); got != want {
		t.Errorf("CheckpointText =\n%q\nwant\n%q", got, want)
	}
}
