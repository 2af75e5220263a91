package command_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gahpo/gahpo"
	"github.com/gahpo/gahpo/models"
	"github.com/gahpo/gahpo/models/command"
	"github.com/gahpo/gahpo/problemfile"
)

// Runnable refuses, in one line naming the file and the field, a problem
// file whose program is not on PATH, missing, not executable, or whose
// train.dir is missing; and a training whose program is gone is the
// worker's trouble (models.ErrCannotRunHere), not the genome's.
func TestRunnable(t *testing.T) {
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "run.sh"), []byte("#!/bin/sh\necho '{\"epoch\": 1, \"val_loss\": 0.5}'\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "plain.sh"), []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		command string // YAML flow list
		dir     string
		wantErr []string // nil: runnable
	}{
		{"on PATH", `[sh, -c, "echo {x}"]`, "", nil},
		{"relative to train.dir", `[./run.sh]`, "", nil},
		{"absolute", `[` + filepath.Join(root, "run.sh") + `]`, "", nil},
		{"a placeholder: checked per task", `["{x}"]`, "", nil},
		{"not on PATH", `[python4-gahpo-none, train.py]`, "", []string{`train.command[0] "python4-gahpo-none": executable file not found in $PATH`}},
		{"missing", `[./gone.sh]`, "", []string{`train.command[0] "./gone.sh"`, "no such file or directory"}},
		{"not executable", `[./plain.sh]`, "", []string{`train.command[0] "./plain.sh"`, "permission denied"}},
		{"train.dir missing", `[sh]`, "nowhere", []string{"train.dir:", "nowhere", "no such file or directory"}},
		{"train.dir a file", `[sh]`, "run.sh", []string{"train.dir:", "is not a directory"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			yaml := "name: r\nspace:\n  - {name: x, type: float, min: -1, max: 1}\nobjective: {metric: val_loss, goal: minimize}\n" +
				"train:\n  command: " + tt.command + "\n"
			if tt.dir != "" {
				yaml += "  dir: " + tt.dir + "\n"
			}
			path := filepath.Join(root, "p.yaml")
			if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			pf, err := problemfile.Load(path)
			if err != nil {
				t.Fatal(err)
			}
			err = command.Runnable(pf)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("Runnable: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Runnable: nil, want refused")
			}
			msg := err.Error()
			for _, w := range append([]string{"command: " + path + ": "}, tt.wantErr...) {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q lacks %q", msg, w)
				}
			}
			if strings.Contains(msg, "\n") {
				t.Errorf("error %q takes more than one line", msg)
			}
			// At task time: the worker's trouble, not the genome's.
			task := gahpo.Task{V: gahpo.MessageVersion, Kind: gahpo.KindFitness, RunID: "r1", GenomeID: 1, Problem: "r", Params: map[string]float64{"x": 0.1}}
			_, err = command.New(pf).Train(context.Background(), models.Job{Task: task})
			if !errors.Is(err, models.ErrCannotRunHere) || errors.Is(err, models.ErrUntrainable) {
				t.Errorf("Train: %v; want ErrCannotRunHere, not ErrUntrainable", err)
			}
		})
	}
}
