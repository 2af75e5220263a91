package gahpo

import "time"

// The replies of a running coordinator's service (the NATS micro service
// "gahpo", one endpoint per query; bus.Conn.Serve), beside Run,
// GenomeRecord and FinalTraining, which it answers as stored. They are
// wire messages like Task and Result: within one MessageVersion a field is
// only ever added, and the service's version (its Info) names the build
// that answers. The CLI prints them (cmd/gahpo: query_views.go, status.go)
// and the dashboard draws them (report); neither owns them.

// BestEntry is one line of the best genomes per generation, the answer of
// `gahpo query best --per-generation`.
type BestEntry struct {
	Generation   int                `json:"generation"`
	GenomeID     int                `json:"genome_id"`
	Fitness      Float              `json:"fitness"`
	Accuracy     float64            `json:"accuracy,omitempty"`
	Params       map[string]float64 `json:"params"`
	Worker       string             `json:"worker,omitempty"`
	Duration     time.Duration      `json:"duration,omitempty"`
	Status       GenomeStatus       `json:"status"`
	DuplicateOf  int                `json:"duplicate_of,omitempty"`
	ImagesPerSec float64            `json:"images_per_sec,omitempty"`
	Epochs       int                `json:"epochs"`
	Rung         int                `json:"rung"`
	Choices      map[string]string  `json:"choices,omitempty"`
	// The rows of a population based training are its rungs, not
	// generations of breeding (all genomes train on together): Generation
	// is then the rung, Fitness and Accuracy the best genome's there
	// (after Epochs epochs), and these describe the rung's results, one
	// per genome that trained to it itself.
	RungResults int   `json:"rung_results,omitempty"`
	RungFailed  int   `json:"rung_failed,omitempty"`
	RungMedian  Float `json:"rung_median,omitempty"`
	RungMean    Float `json:"rung_mean,omitempty"`
	// Seeds, in a status during or after a confirmation
	// (RunConfig.ConfirmSeeds), is how many trainings of the genome
	// (its own and its replicates back so far) it leads on, and
	// ConfirmedFitness their mean fitness (search.ConfirmedLead).
	Seeds            int    `json:"seeds,omitempty"`
	ConfirmedFitness *Float `json:"confirmed_fitness,omitempty"`
}

// NewBestEntry summarises a genome record.
func NewBestEntry(g GenomeRecord) BestEntry {
	return BestEntry{
		Generation: g.Generation, GenomeID: g.ID, Fitness: g.Fitness, Accuracy: g.Accuracy, Params: g.Params,
		Worker: g.Worker, Duration: g.Duration, Status: g.Status, DuplicateOf: g.DuplicateOf, ImagesPerSec: g.ImagesPerSec,
		Epochs: g.Epochs, Rung: g.Rung, Choices: g.Choices,
	}
}

// Status is the progress of a running coordinator.
type Status struct {
	RunID       string        `json:"run_id"`
	Problem     string        `json:"problem"`
	State       RunStatus     `json:"state"`
	Generation  int           `json:"generation"` // counted from 1
	Generations int           `json:"generations"`
	Population  int           `json:"population"`
	Done        int           `json:"done"`      // genomes of the current generation with a fitness
	InFlight    int           `json:"in_flight"` // held by a worker
	Queued      int           `json:"queued"`    // waiting for a worker
	Failed      int           `json:"failed"`    // of the current generation
	Holders     []Holder      `json:"holders,omitempty"`
	Best        *BestEntry    `json:"best,omitempty"`
	GenETA      time.Duration `json:"generation_eta,omitempty"`
	// RunETA is the time left of the run, its final training included
	// (0 with NoETA saying why when there is no estimate yet).
	RunETA time.Duration  `json:"run_eta,omitempty"`
	NoETA  string         `json:"no_eta,omitempty"`
	Final  []EpochMetrics `json:"final_epochs,omitempty"` // progress of the final training
	// FinalObjective is the run's Objective (a problem file's metric, as
	// its trainer reported it: a maximised one not negated) at the epochs
	// of Final whose report held it, by epoch.
	FinalObjective map[int]Float `json:"final_objective,omitempty"`
	// Multi-fidelity and steady state: the run's modes, genomes bred of
	// the budget, tasks outstanding (queued, in training or promoted),
	// results per rung, and the epochs reported so far by genomes in
	// training (learning curves, live).
	Fidelity    string                `json:"fidelity,omitempty"`
	Breeding    string                `json:"breeding,omitempty"`
	Bred        int                   `json:"bred"`
	Budget      int                   `json:"budget"`
	Outstanding int                   `json:"outstanding"`
	Rungs       []int                 `json:"rungs,omitempty"`
	Curves      map[int][]EpochReport `json:"curves,omitempty"`
	// Fault is the last fault a worker could not get past (a result it
	// cannot publish, and why), until a result gets through again.
	Fault   string    `json:"fault,omitempty"`
	Started time.Time `json:"started"`
	// Confirming counts the confirmation trainings (RunConfig.ConfirmSeeds)
	// queued or training.
	Confirming int `json:"confirming,omitempty"`
	// EpochsSpent is the run's epoch-trainings spent and under way
	// (Run.EpochsSpent), BudgetEpochs its --budget-epochs (0: none), and
	// StoppedBy why breeding stopped, once it has (Run.StoppedBy).
	EpochsSpent  int    `json:"epochs_spent,omitempty"`
	BudgetEpochs int    `json:"budget_epochs,omitempty"`
	StoppedBy    string `json:"stopped_by,omitempty"`
	// MaxFailures is the run's RunConfig.MaxFailures, which says what a
	// stop for failures (StoppedBy) was.
	MaxFailures *int `json:"max_failures,omitempty"`
	// History is the coordinator's history file (absolute path): where
	// the run can be read, or resumed, once the coordinator has stopped.
	History string `json:"history,omitempty"`
	// Objective and Maximize are the run's (RunConfig): a problem file's
	// metric and whether it is maximised, which say how a fitness here is
	// shown (RunConfig.Shown). Fitness fields stay minimised.
	Objective string `json:"objective,omitempty"`
	Maximize  bool   `json:"maximize,omitempty"`
}

// Shown is fitness f as the run's users read it (RunConfig.Shown).
func (s Status) Shown(f Float) Float { return ShownFitness(s.Maximize, f) }

// ShownName names what Shown gives (RunConfig.ShownName).
func (s Status) ShownName() string { return ShownFitnessName(s.Objective, s.Maximize) }

// Holder is a genome held by a worker.
type Holder struct {
	GenomeID int `json:"genome_id"`
	// Replicate is the confirmation training held (Task.Replicate), 0
	// for the genome's own.
	Replicate int       `json:"replicate,omitempty"`
	Worker    string    `json:"worker"`
	Attempt   int       `json:"attempt"`
	Since     time.Time `json:"since"`
}

// Continuous reports whether the run has no generation to wait for: a
// multi-fidelity run, or a steady-state or random breeding, whose progress
// is its budget and its rungs rather than a generation.
func (s Status) Continuous() bool {
	return s.Fidelity == FidelityHalving || s.Fidelity == FidelityPBT || s.Breeding == BreedingSteadyState || s.Breeding == BreedingRandom
}
