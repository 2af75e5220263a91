package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestCommandsThatTrainRefuseAnUnrunnableFile: gahpo worker and gahpo run
// (whose workers are local) refuse at start, in one line naming the file
// and the field, a problem file whose command cannot start on this
// machine; the coordinator, which never runs it, takes it.
func TestCommandsThatTrainRefuseAnUnrunnableFile(t *testing.T) {
	for _, env := range []string{"GAHPO_NATS", "GAHPO_NATS_TOKEN", "GAHPO_NATS_TOKEN_FILE"} {
		t.Setenv(env, "")
	}
	dir := t.TempDir()
	file := func(name, command, trainDir string) string {
		y := "name: " + name + "\nspace:\n  - {name: x, type: float, min: -1, max: 1}\nobjective: {metric: val_loss, goal: minimize}\n" +
			"train:\n  command: " + command + "\n"
		if trainDir != "" {
			y += "  dir: " + trainDir + "\n"
		}
		path := filepath.Join(dir, name+".yaml")
		if err := os.WriteFile(path, []byte(y), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	tests := []struct {
		name    string
		args    []string
		wantErr []string // nil: not refused for the command
	}{
		{"worker, program not on PATH", []string{"worker", "--nats", "nats://127.0.0.1:1", "--problem-file", file("unrun-w1", "[python4-gahpo-none, t.py]", "")},
			[]string{"worker: command: " + filepath.Join(dir, "unrun-w1.yaml") + `: train.command[0] "python4-gahpo-none": executable file not found`}},
		{"worker, script missing", []string{"worker", "--nats", "nats://127.0.0.1:1", "--problem-file", file("unrun-w2", "[./run.sh]", "")},
			[]string{"worker: command: ", `train.command[0] "./run.sh"`, "no such file or directory"}},
		{"worker, train.dir missing", []string{"worker", "--nats", "nats://127.0.0.1:1", "--problem-file", file("unrun-w3", "[sh]", "gone")},
			[]string{"worker: command: ", "unrun-w3.yaml: train.dir:", "no such file or directory"}},
		{"run", []string{"run", "--db", filepath.Join(dir, "h.db"), "--problem-file", file("unrun-r", "[python4-gahpo-none]", "")},
			[]string{"run: command: ", "unrun-r.yaml", `train.command[0] "python4-gahpo-none"`}},
		// The coordinator takes the file: it fails later, on its NATS URL.
		{"coordinator", []string{"coordinator", "--problem-file", file("unrun-c", "[python4-gahpo-none]", "")}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second) // a worker that started waits for NATS
			defer cancel()
			var out, errb bytes.Buffer
			err := (&Main{Stdout: &out, Stderr: &errb}).Run(ctx, tt.args)
			if tt.wantErr == nil {
				if err != nil && strings.Contains(err.Error(), "train.command") {
					t.Errorf("refused: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("started; want refused")
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error %q takes more than one line", err)
			}
		})
	}
}
