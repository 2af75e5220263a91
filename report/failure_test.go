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
	torch := "command: models: cannot train this genome: the command failed: exit status 1; standard error ends:\n  File \"train.py\", line 3\n    import torch\nModuleNotFoundError: No module named 'torch'\n"
	tests := []struct {
		name    string
		genomes []gahpo.GenomeRecord
		want    string
	}{
		{"none failed", []gahpo.GenomeRecord{done(1), done(2)}, ""},
		{"nothing trained", nil, ""},
		{"every one, one reason: its last line", []gahpo.GenomeRecord{fail(1, torch), fail(2, torch), {ID: 3, Status: gahpo.GenomeQueued}},
			"failed: every one of the 2 genomes trained, so the run has no result; the reason (2): ModuleNotFoundError: No module named 'torch' (gahpo query genome 1 shows it whole)"},
		{"some, the commonest reason, its first genome", []gahpo.GenomeRecord{done(1), fail(2, "diverged: loss is NaN at epoch 1"), fail(3, "timeout after 30m"), fail(4, "timeout after 30m"), {ID: 5, Status: gahpo.GenomeDone, DuplicateOf: 1}},
			"failed: 3 of 4 trained genomes; most often (2): timeout after 30m (gahpo query genome 3 shows it whole)"},
		{"a tie: the earlier reason", []gahpo.GenomeRecord{fail(1, "b"), fail(2, "a"), done(3)},
			"failed: 2 of 3 trained genomes; most often (1): b (gahpo query genome 1 shows it whole)"},
		{"no reason recorded", []gahpo.GenomeRecord{fail(1, ""), done(2)},
			"failed: 1 of 2 trained genomes; the reason (1): no reason recorded (gahpo query genome 1 shows it whole)"},
		{"a long line is cut", []gahpo.GenomeRecord{fail(1, strings.Repeat("x", 300))},
			"failed: the one genome trained, so the run has no result; the reason (1): " + strings.Repeat("x", 200) + "… (gahpo query genome 1 shows it whole)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := FailureText(tt.genomes); got != tt.want {
				t.Errorf("FailureText =\n%q\nwant\n%q", got, tt.want)
			}
		})
	}
}
