// Package report draws a search's figures (gonum/plot PNGs) and writes them
// with the run's summary into one self-contained HTML page, offline from a
// history file or live from a running coordinator; Handler serves the same
// page as a dashboard that updates as results arrive.
//
// # Data
//
// A Source hands out Snapshots: the run, every genome, the final training
// and its weights. StoreSource reads a history file (or the store a
// coordinator holds open), LiveSource asks a coordinator's query service.
//
// # Figures
//
// One function per figure, each returning a *plot.Plot: the paper's figures
// (BestBoxes, FinalLoss, Conv1Activations, Conv1Histograms, RegressionFit)
// and those of tuning tools (BestSoFar, ParamByGeneration, ParamVsFitness,
// ParallelCoordinates, LearningCurves). Generations are numbered from 1, as
// everywhere a user sees them. Failed genomes are drawn as failed, on their
// own row or marker, never as a value.
package report
