package cnn

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"

	"github.com/gahpo/gahpo/models"
)

// Report is a finished full training as cnntrain -json writes it: its
// settings, every epoch's metrics and the final test figures. A report file
// that exists is a finished training's: WriteReport writes it whole or not
// at all.
type Report struct {
	Seed uint64 `json:"seed"`
	// The genome's hyperparameters; zero after a schedule, whose are in
	// Schedule.
	BatchSize   int     `json:"batch_size"`
	LR          float64 `json:"lr"`
	Gamma       float64 `json:"gamma"`
	WeightDecay float64 `json:"weight_decay"`
	// Shift is the genome's random translation of the training images, in
	// pixels (Config.Shift); absent for the paper's genomes, which have none.
	Shift int `json:"shift,omitempty"`
	// Schedule is the population based training's schedule trained, as
	// cnntrain -schedule was given it.
	Schedule     string                `json:"schedule,omitempty"`
	TrainImages  int                   `json:"train_images"`
	TestImages   int                   `json:"test_images"`
	Epochs       []models.EpochMetrics `json:"epochs"`
	TestLoss     float64               `json:"test_loss"`
	TestAccuracy float64               `json:"test_accuracy"` // in [0, 1]
	TrainSeconds float64               `json:"train_seconds"`
}

// WriteReport writes r to path, indented, through a temporary file in the
// same directory renamed into place (mode 0644, as a weights file), so
// that a reader never sees part of a report.
func WriteReport(path string, r Report) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("cnn: report: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".*.tmp")
	if err != nil {
		return fmt.Errorf("cnn: report: %w", err)
	}
	defer os.Remove(tmp.Name()) // fails harmlessly once renamed
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("cnn: report: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("cnn: report: %w", err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return fmt.Errorf("cnn: report: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("cnn: report: %w", err)
	}
	return nil
}

// ReadReport reads a report written by WriteReport. A file that is not
// JSON, or lacks the epochs or the test figures, or holds figures no
// training gives (an accuracy outside [0, 1], a loss that is not a finite
// number ≥ 0), is an error: it is not a finished training's report.
func ReadReport(path string) (Report, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Report{}, fmt.Errorf("cnn: %w", err)
	}
	var r Report
	if err := json.Unmarshal(b, &r); err != nil {
		return Report{}, fmt.Errorf("cnn: %s: not a training report: %w", path, err)
	}
	var present struct { // which test figures the file has: zero is a figure
		TestLoss     *float64 `json:"test_loss"`
		TestAccuracy *float64 `json:"test_accuracy"`
	}
	if err := json.Unmarshal(b, &present); err != nil {
		return Report{}, fmt.Errorf("cnn: %s: not a training report: %w", path, err)
	}
	switch {
	case len(r.Epochs) == 0 || present.TestLoss == nil || present.TestAccuracy == nil:
		return Report{}, fmt.Errorf("cnn: %s: not a training report: no epochs or test figures", path)
	case !(r.TestAccuracy >= 0 && r.TestAccuracy <= 1):
		return Report{}, fmt.Errorf("cnn: %s: test accuracy %v outside [0, 1]", path, r.TestAccuracy)
	case !(r.TestLoss >= 0) || math.IsInf(r.TestLoss, 1):
		return Report{}, fmt.Errorf("cnn: %s: test loss %v", path, r.TestLoss)
	}
	return r, nil
}
