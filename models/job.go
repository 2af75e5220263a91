package models

import "github.com/gahpo/gahpo"

// Job is one training of a genome, as a worker hands it to a trainer: from
// the state in CheckpointDir (an empty directory at a genome's first rung)
// up to Task.Epochs epochs in all (0 on a fitness task: the one-epoch
// fitness). The trainer leaves its state in CheckpointDir; the worker keeps
// the directory in the object store when the task asks for it and restores
// it when the genome is promoted.
type Job struct {
	Task gahpo.Task
	// DataDir holds the problem's data files ("" when it has none).
	DataDir string
	// CheckpointDir is the trainer's own directory between rungs.
	CheckpointDir string
	// Device is the accelerator the training may use ("" for none).
	Device string
	// OnEpoch, when not nil, receives each epoch's report as soon as it is
	// known.
	OnEpoch func(gahpo.EpochReport)
}

// Outcome is what a trainer returns for a Job.
type Outcome struct {
	// Fitness is what the search minimises: the objective's last value
	// (negated for a goal to maximise). +Inf when Diverged is set.
	Fitness float64
	// Accuracy is the held-out accuracy in [0, 1], when the problem has one.
	Accuracy float64
	// Curve holds the report of every epoch this job trained.
	Curve []gahpo.EpochReport
	// ImagesPerSec is the training throughput (examples per second).
	ImagesPerSec float64
	// Diverged, when not empty, says why the genome failed on its own
	// (a NaN or infinite loss, no objective reported, ...).
	Diverged string
	// TestLoss and TestAccuracy are the last test figures of a final
	// training (or a top-rung job with Task.Test).
	TestLoss, TestAccuracy float64
	// Weights is the trained model of a final training (or of a top-rung
	// job), in the problem's own format.
	Weights []byte
	// Log holds the last lines a trainer command printed that were not
	// metrics, capped.
	Log []string
}
