package cnn

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gahpo/gahpo/models"
)

func TestReportRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.json")
	want := Report{Seed: 3, BatchSize: 64, LR: 1, Gamma: 0.7, TrainImages: 600, TestImages: 100,
		Epochs:   []models.EpochMetrics{{Epoch: 1, LR: 1, TestLoss: 0.5}, {Epoch: 2, LR: 0.7, TestLoss: 0.25}},
		TestLoss: 0.25, TestAccuracy: 0, TrainSeconds: 1.5} // an accuracy of 0 is a figure, not a missing one
	if err := WriteReport(path, want); err != nil {
		t.Fatal(err)
	}
	got, err := ReadReport(path)
	if err != nil {
		t.Fatal(err)
	}
	if got.Seed != want.Seed || got.TestLoss != want.TestLoss || len(got.Epochs) != 2 || got.Epochs[1].LR != 0.7 || got.TrainSeconds != 1.5 {
		t.Errorf("read %+v, wrote %+v", got, want)
	}
	if ents, _ := os.ReadDir(filepath.Dir(path)); len(ents) != 1 {
		t.Errorf("%d files beside the report, want none", len(ents)-1)
	}
	if err := WriteReport(filepath.Join(t.TempDir(), "no", "such", "dir.json"), want); err == nil {
		t.Error("a report written into a missing directory: no error")
	}
}

func TestReadReportRefuses(t *testing.T) {
	const epochs = `"epochs": [{"epoch": 1}]`
	tests := []struct {
		name, text, err string
	}{
		{"cut short", `{"seed": 1, "epochs": [`, "not a training report"},
		{"not JSON", `epoch 1 lr 1`, "not a training report"},
		{"no epochs", `{"epochs": [], "test_loss": 0.1, "test_accuracy": 0.9}`, "no epochs or test figures"},
		{"no test loss", `{` + epochs + `, "test_accuracy": 0.9}`, "no epochs or test figures"},
		{"no test accuracy", `{` + epochs + `, "test_loss": 0.1}`, "no epochs or test figures"},
		{"an accuracy in percent", `{` + epochs + `, "test_loss": 0.1, "test_accuracy": 99.2}`, "outside [0, 1]"},
		{"a negative loss", `{` + epochs + `, "test_loss": -0.1, "test_accuracy": 0.9}`, "test loss -0.1"},
		{"a string for a number", `{` + epochs + `, "test_loss": "0.1", "test_accuracy": 0.9}`, "not a training report"},
		{"accepted", `{` + epochs + `, "test_loss": 0.1, "test_accuracy": 0.9}`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "r.json")
			if err := os.WriteFile(path, []byte(tt.text), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := ReadReport(path)
			switch {
			case tt.err == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err) || !strings.HasPrefix(err.Error(), "cnn: ")):
				t.Errorf("error %v, want one with %q", err, tt.err)
			}
		})
	}
}
