package gahpo

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gahpo/gahpo/ga"
)

// Float is a float64 whose JSON form keeps NaN and ±Inf (as the strings
// "NaN", "+Inf" and "-Inf"), since a failed or diverged evaluation has an
// infinite fitness. It is ga.JSONFloat, the one such type of gahpo.
type Float = ga.JSONFloat

// RunStatus is the state of a run, as stored (its JSON value is the string).
type RunStatus string

// Run statuses.
const (
	RunRunning RunStatus = "running" // breeding and evaluating generations
	RunFinal   RunStatus = "final"   // the search is done, the final training runs
	RunDone    RunStatus = "done"    // finished, final training stored
	RunFailed  RunStatus = "failed"  // stopped by an error
)

// Why a run stopped breeding (Run.StoppedBy).
const (
	// StopGenerations: every genome of Population × Generations was bred.
	StopGenerations = "generations"
	// StopBudgetEpochs: the epoch-trainings of RunConfig.BudgetEpochs were
	// spent or under way.
	StopBudgetEpochs = "budget-epochs"
	// StopTimeBudget: a result came back RunConfig.TimeBudget or more
	// after the run started.
	StopTimeBudget = "time-budget"
	// StopMaxEpochs: a population based training ends when its population
	// has trained to MaxEpochs; it has no generations to run out of.
	StopMaxEpochs = "max-epochs"
	// StopFailures: genomes failed by RunConfig.FailureStop's rule (a
	// training command that cannot start, a module not installed, a data
	// file missing): nothing more is bred, promoted or exploited, the
	// trainings under way finish, and the run ends failed. It replaces a
	// reason recorded before it (a budget that stopped breeding while
	// trainings were under way).
	StopFailures = "failures"
)

// RunConfig is everything that determines a run; it is stored with the run
// so that a restarted coordinator continues exactly the same search.
type RunConfig struct {
	Problem string `json:"problem"` // "cnn", "regression" or a problem file's name
	// ProblemDigest is the SHA-256 of the problem file of a problem
	// declared in a file: a resumed run refuses a changed file.
	ProblemDigest string `json:"problem_digest,omitempty"`
	// Objective names the metric a problem file's runs search on, and
	// Maximize says that its goal is the highest: the fitness is then the
	// metric negated (the search minimises). Empty for a built-in problem.
	Objective string    `json:"objective,omitempty"`
	Maximize  bool      `json:"maximize,omitempty"`
	Preset    string    `json:"preset,omitempty"`
	GA        ga.Config `json:"ga"`
	// TrainSubset limits the CNN's fitness training set (0: all 54,000).
	TrainSubset int `json:"train_subset,omitempty"`
	// FinalSubset limits the CNN's final training set (0: all 60,000).
	FinalSubset int `json:"final_subset,omitempty"`
	// FitnessOnTest uses the test loss as fitness, as the paper did.
	FitnessOnTest bool `json:"fitness_on_test,omitempty"`
	// FinalEpochs is the number of epochs of the final full training
	// (0 skips the final training).
	FinalEpochs int `json:"final_epochs"`
	// MaxAttempts is how many times a genome is delivered to workers before
	// it is recorded as failed.
	MaxAttempts int `json:"max_attempts"`
	// AckWait is the lease of a task: a worker silent for that long loses it.
	AckWait time.Duration `json:"ack_wait"`

	// Fidelity is how long a genome trains before it is compared:
	// FidelityOneEpoch ("" too), the paper's one-epoch fitness,
	// FidelityHalving, asynchronous successive halving from MinEpochs to
	// MaxEpochs epochs, the best 1/Eta of each rung going on to the next,
	// or FidelityPBT, population based training: the population trains to
	// MaxEpochs in steps of MinEpochs, and after each step the worst
	// quarter takes the weights of the best quarter and perturbs their
	// hyperparameters.
	Fidelity  string `json:"fidelity,omitempty"`
	MinEpochs int    `json:"min_epochs,omitempty"`
	MaxEpochs int    `json:"max_epochs,omitempty"`
	Eta       int    `json:"eta,omitempty"`
	// Breeding is BreedingGenerational ("" too: a generation is bred when
	// the previous one is evaluated) or BreedingSteadyState (a genome is
	// bred whenever fewer than InFlight genomes are being trained).
	Breeding string `json:"breeding,omitempty"`
	// InFlight is how many genomes steady-state breeding keeps queued or in
	// training (0: the population); promotions are never held back by it.
	InFlight int `json:"in_flight,omitempty"`
	// BudgetEpochs, when set, stops breeding once the epochs trained and
	// under way reach it (a search's compute, counted in epoch-trainings;
	// a one-epoch genome costs 1); trainings under way and their
	// promotions still finish. Population × Generations still bounds the
	// genomes bred.
	BudgetEpochs int `json:"budget_epochs,omitempty"`
	// TimeBudget, when set, stops breeding once a result arrives that much
	// wall time after the run started (a resumed run counts the time it
	// was stopped too); as with BudgetEpochs, trainings under way and
	// their promotions still finish, so the run ends after its deadline by
	// at most the trainings it has under way and one genome's way to the
	// top rung.
	TimeBudget time.Duration `json:"time_budget,omitempty"`
	// ConfirmSeeds, with halving or pbt, confirms the search's choice on
	// more seeds once the search is over: each of the ConfirmTop best
	// genomes of the top rung trains ConfirmSeeds-1 more times from
	// scratch to the top rung, with other seeds (a population based
	// genome, its schedule), and the run's result is the genome whose
	// fitness has the lowest mean over its ConfirmSeeds trainings (what
	// SMAC calls intensification: one seed's luck does not choose the
	// genome). 0 or 1: no confirmation.
	ConfirmSeeds int `json:"confirm_seeds,omitempty"`
	ConfirmTop   int `json:"confirm_top,omitempty"`
	// FitnessEpochs, with the one-epoch fidelity, is the epochs of each
	// genome's fitness training, sent in its task: a problem file's budget
	// min, decided by the coordinator so that every genome of a run is
	// measured alike whatever its worker's version. 0: the trainer's own
	// one-epoch fitness (the CNN's, the regression's; a problem file's run
	// stored before this field: its budget's max).
	FitnessEpochs int `json:"fitness_epochs,omitempty"`
	// MaxFailures says when failed genomes stop the run (StopFailures;
	// FailureStop gives the rule): nil, the default (and every run stored
	// before it), once the first GA.Population genomes trained have all
	// failed, none having succeeded, or (halving, pbt) once GA.Population
	// trainings resumed from a checkpoint (results above a genome's first
	// rung) have all failed, none of those having succeeded; N > 0, once N
	// genomes have failed; 0, never. A genome counts once, when it is recorded as failed (after
	// its MaxAttempts deliveries), for any cause but its own divergence
	// (a NaN loss, an objective out of bounds: see search.Diverged), which
	// is a result of the genome, not a fault of the training.
	MaxFailures *int `json:"max_failures,omitempty"`
	// BudgetGene, with halving or pbt, names the problem's gene that the
	// rungs decide (the regression's epochs): the run's space leaves it
	// out, so that it is neither bred nor shown, and each task's Epochs
	// stands for it. Empty: the problem's whole space (as in every run
	// stored before this field).
	BudgetGene string `json:"budget_gene,omitempty"`
}

// Fidelities and breedings of a run.
const (
	FidelityOneEpoch     = "one-epoch"
	FidelityHalving      = "halving"
	FidelityPBT          = "pbt"
	BreedingGenerational = "generational"
	BreedingSteadyState  = "steady-state"
	// BreedingRandom is steady state with every genome random: a random
	// search (with successive halving, ASHA itself), the baseline.
	BreedingRandom = "random"
)

// FailureStop is the rule of MaxFailures: the run stops once n genomes
// have failed (n 0: never), and, when whileNone, only if none has
// succeeded or diverged yet (the default: n is the population).
func (c RunConfig) FailureStop() (n int, whileNone bool) {
	if c.MaxFailures == nil {
		return c.GA.Population, true
	}
	return *c.MaxFailures, false
}

// Shown is fitness f as its users read it (tables, progress lines, the
// report, export): the objective of a run that maximises one, in its own
// sign (f negated back); f itself otherwise, the fitness of a built-in
// problem or a minimised objective's value. The search and the JSON
// field "fitness" keep f, minimised.
func (c RunConfig) Shown(f Float) Float { return ShownFitness(c.Maximize, f) }

// ShownName names what Shown gives: the objective's metric when it is
// maximised, else "fitness".
func (c RunConfig) ShownName() string { return ShownFitnessName(c.Objective, c.Maximize) }

// ShownFitness is RunConfig.Shown of a run whose objective is maximised
// (maximize) or not.
func ShownFitness(maximize bool, f Float) Float {
	if maximize {
		return -f
	}
	return f
}

// ShownFitnessName is RunConfig.ShownName of a run of objective, which
// is maximised (maximize) or not.
func ShownFitnessName(objective string, maximize bool) string {
	if maximize && objective != "" {
		return objective
	}
	return "fitness"
}

// Halving reports whether the run uses successive halving.
func (c RunConfig) Halving() bool { return c.Fidelity == FidelityHalving }

// PBT reports whether the run uses population based training.
func (c RunConfig) PBT() bool { return c.Fidelity == FidelityPBT }

// MultiFidelity reports whether genomes train in rungs from checkpoints
// (halving or population based training).
func (c RunConfig) MultiFidelity() bool { return c.Halving() || c.PBT() }

// SteadyState reports whether the run breeds without a generation barrier
// (steady-state breeding, or a random search).
func (c RunConfig) SteadyState() bool {
	return c.Breeding == BreedingSteadyState || c.Breeding == BreedingRandom
}

// RungEpochs returns the epochs of each rung of a halving run: MinEpochs,
// then ×Eta up to MaxEpochs, which is always the last (top) rung; of a
// population based training: MinEpochs, 2×MinEpochs, ... up to MaxEpochs.
// A one-epoch run has one rung of one epoch.
func (c RunConfig) RungEpochs() []int {
	if !c.MultiFidelity() {
		return []int{max(1, c.FitnessEpochs)} // one rung: the fitness
	}
	var out []int
	for e := c.MinEpochs; ; e = c.nextRung(e) {
		if e >= c.MaxEpochs {
			return append(out, c.MaxEpochs)
		}
		out = append(out, e)
	}
}

func (c RunConfig) nextRung(e int) int {
	if c.PBT() {
		return e + c.MinEpochs
	}
	return e * c.Eta
}

// Validate reports a configuration that cannot run.
func (c RunConfig) Validate() error {
	if c.Problem == "" {
		return fmt.Errorf("gahpo: no problem given")
	}
	if err := c.GA.Validate(); err != nil {
		return fmt.Errorf("gahpo: %w", err)
	}
	if c.TrainSubset < 0 || c.FinalSubset < 0 {
		return fmt.Errorf("gahpo: train subset %d or final subset %d is negative", c.TrainSubset, c.FinalSubset)
	}
	if c.FinalEpochs < 0 {
		return fmt.Errorf("gahpo: final epochs %d is negative", c.FinalEpochs)
	}
	if c.MaxAttempts < 1 {
		return fmt.Errorf("gahpo: max attempts %d must be at least 1", c.MaxAttempts)
	}
	if c.AckWait < time.Second {
		return fmt.Errorf("gahpo: ack wait %v must be at least 1s", c.AckWait)
	}
	if c.MultiFidelity() {
		switch {
		case c.MinEpochs < 1 || c.MinEpochs > 10000:
			return fmt.Errorf("gahpo: min epochs %d outside 1..10000", c.MinEpochs)
		case c.MaxEpochs < c.MinEpochs:
			return fmt.Errorf("gahpo: min epochs %d above max epochs %d (the problem's budget, or --max-epochs)", c.MinEpochs, c.MaxEpochs)
		case c.MaxEpochs > 10000:
			return fmt.Errorf("gahpo: max epochs %d above 10000", c.MaxEpochs)
		}
	}
	switch c.Fidelity {
	case "", FidelityOneEpoch:
	case FidelityPBT:
		switch {
		case c.GA.Population < 4:
			return fmt.Errorf("gahpo: population based training needs a population of at least 4 (its best and worst quarters), not %d", c.GA.Population)
		case c.Breeding != "" && c.Breeding != BreedingGenerational:
			return fmt.Errorf("gahpo: population based training breeds its population once, then exploits and explores: breeding %q does not apply", c.Breeding)
		case c.BudgetEpochs > 0 || c.TimeBudget > 0:
			return fmt.Errorf("gahpo: population based training is bounded by its population and max epochs: no budget of epochs or time")
		}
	case FidelityHalving:
		if c.Eta < 2 || c.Eta > 100 {
			return fmt.Errorf("gahpo: eta %d outside 2..100", c.Eta)
		}
	default:
		return fmt.Errorf("gahpo: unknown fidelity %q (one-epoch, halving or pbt)", c.Fidelity)
	}
	switch c.Breeding {
	case "", BreedingGenerational, BreedingSteadyState, BreedingRandom:
	default:
		return fmt.Errorf("gahpo: unknown breeding %q (generational, steady-state or random)", c.Breeding)
	}
	if c.BudgetEpochs < 0 {
		return fmt.Errorf("gahpo: budget %d epochs is negative", c.BudgetEpochs)
	}
	if c.TimeBudget < 0 {
		return fmt.Errorf("gahpo: time budget %v is negative", c.TimeBudget)
	}
	if (c.BudgetEpochs > 0 || c.TimeBudget > 0) && !c.MultiFidelity() && !c.SteadyState() {
		return fmt.Errorf("gahpo: a budget of epochs or time needs halving fidelity or steady-state or random breeding (a generational one-epoch search is bounded by its generations)")
	}
	if c.MaxFailures != nil && *c.MaxFailures < 0 {
		return fmt.Errorf("gahpo: max failures %d is negative (0: never stop for failures)", *c.MaxFailures)
	}
	if c.InFlight < 0 || c.InFlight > 100000 {
		return fmt.Errorf("gahpo: in-flight %d outside 0..100000", c.InFlight)
	}
	if c.BudgetGene != "" && !c.MultiFidelity() {
		return fmt.Errorf("gahpo: budget gene %q is left out only by halving or pbt, whose rungs decide it", c.BudgetGene)
	}
	if c.FitnessEpochs < 0 || c.FitnessEpochs > 10000 || c.FitnessEpochs > 0 && c.MultiFidelity() {
		return fmt.Errorf("gahpo: fitness epochs %d: 0..10000, and only with the one-epoch fidelity (halving's and pbt's are their rungs)", c.FitnessEpochs)
	}
	switch {
	case c.ConfirmSeeds < 0 || c.ConfirmSeeds > 100:
		return fmt.Errorf("gahpo: confirm seeds %d outside 0..100", c.ConfirmSeeds)
	case c.ConfirmSeeds > 1 && !c.Halving() && !c.PBT():
		return fmt.Errorf("gahpo: confirming on %d seeds needs halving or pbt fidelity (the genomes it confirms are those of the top rung)", c.ConfirmSeeds)
	case c.ConfirmSeeds > 1 && (c.ConfirmTop < 1 || c.ConfirmTop > 100):
		return fmt.Errorf("gahpo: confirm top %d outside 1..100", c.ConfirmTop)
	}
	return nil
}

// Run is one search, as stored.
type Run struct {
	ID     string    `json:"id"`
	Config RunConfig `json:"config"`
	Params []string  `json:"params"` // names of the genes, in order
	// Space is the run's parameters as searched (range, scale, a choice's
	// values), so that reports draw them without the problem's file;
	// empty in runs stored before it.
	Space    []ga.Param `json:"space,omitempty"`
	Status   RunStatus  `json:"status"`
	Started  time.Time  `json:"started"`
	Ended    time.Time  `json:"ended,omitzero"`
	Error    string     `json:"error,omitempty"`
	Best     int        `json:"best,omitempty"` // id of the best genome once the search is done
	Restarts int        `json:"restarts,omitempty"`
	// Secret keys the tokens of the run's tasks; only the coordinator
	// reads it (queries leave it out).
	Secret string `json:"secret,omitempty"`
	// CheckpointPeak is the most space the kept checkpoints of a halving
	// run took at once in the object store, in bytes.
	CheckpointPeak uint64 `json:"checkpoint_peak,omitempty"`
	// Proxy is the rank correlation of each rung with the top rung (see
	// RungCorrelation), updated as results arrive.
	Proxy []RungCorrelation `json:"proxy,omitempty"`
	// StoppedBy says why breeding stopped (StopGenerations,
	// StopBudgetEpochs, StopTimeBudget, StopMaxEpochs, StopFailures), set
	// once it has (StopFailures may replace an earlier reason);
	// empty while it goes on, and in runs stored before it existed.
	StoppedBy string `json:"stopped_by,omitempty"`
	// EpochsSpent is the epoch-trainings spent and under way, counted by
	// search.EpochsSpent (confirmation trainings included), kept up to
	// date as results arrive.
	EpochsSpent int `json:"epochs_spent,omitempty"`
}

// RungCorrelation is the proxy check of a halving run: over the genomes
// that reached both rung Rung and the top rung, the Spearman rank
// correlation of their fitness at the two.
type RungCorrelation struct {
	Rung     int   `json:"rung"`
	Epochs   int   `json:"epochs"`
	Genomes  int   `json:"genomes"`
	Spearman Float `json:"spearman"`
}

// GenomeStatus is the state of a genome, as stored (its JSON value is the
// string).
type GenomeStatus string

// Genome statuses.
const (
	GenomeQueued    GenomeStatus = "queued"    // published, no result yet
	GenomeDone      GenomeStatus = "done"      // evaluated
	GenomeFailed    GenomeStatus = "failed"    // diverged, rejected, or too many deliveries: fitness +Inf
	GenomeDuplicate GenomeStatus = "duplicate" // equal to an earlier genome, whose fitness it reuses
	GenomePromoted  GenomeStatus = "promoted"  // has a fitness at its rung and trains on to the next
)

// GenomeRecord is the history of one genome: what the engine bred and what
// the worker measured.
type GenomeRecord struct {
	ID           int                `json:"id"`
	Generation   int                `json:"generation"`
	Params       map[string]float64 `json:"params"`
	Genes        []float64          `json:"genes"`
	Parents      []int              `json:"parents,omitempty"`
	Ops          []string           `json:"ops,omitempty"`
	DuplicateOf  int                `json:"duplicate_of,omitempty"`
	Seed         uint64             `json:"seed"`
	Status       GenomeStatus       `json:"status"`
	Fitness      Float              `json:"fitness"`
	Accuracy     float64            `json:"accuracy,omitempty"`
	Worker       string             `json:"worker,omitempty"`
	Duration     time.Duration      `json:"duration,omitempty"`
	ImagesPerSec float64            `json:"images_per_sec,omitempty"`
	Attempts     int                `json:"attempts,omitempty"`
	Failure      string             `json:"failure,omitempty"`
	Finished     time.Time          `json:"finished,omitzero"`
	// Epochs is what the genome was trained to, Rung the highest rung it
	// reached (multi-fidelity; 0 and 1 epoch otherwise); Curve its metrics
	// epoch by epoch over all its rungs; Device the accelerator used.
	Epochs int           `json:"epochs"`
	Rung   int           `json:"rung"`
	Curve  []EpochReport `json:"curve,omitempty"`
	Device string        `json:"device,omitempty"`
	Log    []string      `json:"log,omitempty"`
	// RungFitness is the fitness measured at each rung reached, in order,
	// and RungFinished when each came back (a record stored before it was
	// kept has none: its Finished stands for all).
	RungFitness  []Float     `json:"rung_fitness,omitempty"`
	RungFinished []time.Time `json:"rung_finished,omitempty"`
	// RungDuration and RungWorker are the duration and the worker of each
	// rung's training, in order (a genome that exploited another has that
	// one's for the rungs it took over: its weights' whole training). A
	// record stored before they were kept has none, or fewer than its
	// rungs: Duration and Worker are then all that is known.
	RungDuration []time.Duration `json:"rung_duration,omitempty"`
	RungWorker   []string        `json:"rung_worker,omitempty"`
	// Checkpoint is the genome's kept training state (a halving run deletes
	// it once the genome can no longer be promoted); Weights its trained
	// model once it reached the top rung.
	Checkpoint *ObjectRef `json:"checkpoint,omitempty"`
	Weights    *ObjectRef `json:"weights,omitempty"`
	// Issued orders the tasks of the run: a restarted coordinator queues
	// the tasks it lost in the order they were first issued.
	Issued int `json:"issued,omitempty"`
	// Choices gives the value of each choice parameter (Params holds its
	// index).
	Choices map[string]string `json:"choices,omitempty"`

	// Population based training: Inherited is the number of rungs the
	// genome took from the genome it exploited (their fitnesses lead
	// RungFitness and their epochs Curve), Exploited that genome, Replaces
	// the genome of the worst quarter whose place it took, and Schedule
	// the hyperparameters its weights were trained with, epoch by epoch.
	// Stopped says why a genome's training ended below the top rung (its
	// place taken by a genome of the best quarter).
	Stopped   string         `json:"stopped,omitempty"`
	Inherited int            `json:"inherited,omitempty"`
	Exploited int            `json:"exploited,omitempty"`
	Replaces  int            `json:"replaces,omitempty"`
	Schedule  []ScheduleStep `json:"schedule,omitempty"`
	// Replicates are the genome's confirmation trainings (see
	// RunConfig.ConfirmSeeds): from scratch to the top rung, each with its
	// own seed. ConfirmedFitness is the mean fitness over the genome's own
	// top-rung training and its replicates, once they are all done (a
	// failed one makes it +Inf).
	Replicates       []Replicate `json:"replicates,omitempty"`
	ConfirmedFitness *Float      `json:"confirmed_fitness,omitempty"`
	// Retrained counts the epochs the genome trained a second time: a
	// rung's training from scratch where it would have gone on from a
	// checkpoint (lost with the NATS server's store, or dropped) trains
	// that checkpoint's epochs again, and the run's best trained again to
	// the top rung for its lost weights trains them all again. They were
	// spent twice, and search.EpochsSpent counts them twice.
	Retrained int `json:"retrained_epochs,omitempty"`
}

// TrainingsMean is the mean fitness over a confirmed genome's own top-rung
// training (the last of RungFitness) and its replicates back so far, the
// number of trainings that is, and whether every replicate is back. A
// failed training (+Inf) makes the mean +Inf. A genome without a rung
// fitness has none (n 0).
func (g GenomeRecord) TrainingsMean() (mean float64, n int, all bool) {
	if len(g.RungFitness) == 0 {
		return math.NaN(), 0, false
	}
	sum, n, all := float64(g.RungFitness[len(g.RungFitness)-1]), 1, true
	for _, rep := range g.Replicates {
		if rep.Status == GenomeQueued {
			all = false
			continue
		}
		sum += float64(rep.Fitness)
		n++
	}
	return sum / float64(n), n, all
}

// Replicate is one confirmation training of a genome: the same
// hyperparameters, another seed.
type Replicate struct {
	Seed     uint64        `json:"seed"`
	Status   GenomeStatus  `json:"status"` // queued, done or failed
	Fitness  Float         `json:"fitness"`
	Accuracy float64       `json:"accuracy,omitempty"`
	Worker   string        `json:"worker,omitempty"`
	Duration time.Duration `json:"duration,omitempty"`
	Failure  string        `json:"failure,omitempty"`
	Finished time.Time     `json:"finished,omitzero"`
	Curve    []EpochReport `json:"curve,omitempty"`
}

// ScheduleStep is a stretch of a population based training: from epoch
// Epoch (1-based) on, the weights were trained by genome Genome with its
// Params, until the next step.
type ScheduleStep struct {
	Epoch  int                `json:"epoch"`
	Genome int                `json:"genome"`
	Params map[string]float64 `json:"params"`
	// Choices are the values of Params' choice parameters, as the
	// genome's record names them (GenomeRecord.Choices).
	Choices map[string]string `json:"choices,omitempty"`
	// Seed, in a task that replays a genome's past (its checkpoint lost),
	// is the seed the step's genome trained with: the step trains with it,
	// on from the step before's state, as it did. 0: the task's Seed (a
	// confirmation's replicate replays a schedule on a seed of its own).
	Seed uint64 `json:"seed,omitempty"`
}

// ScheduleArg writes a population based training's schedule as cnntrain's
// -schedule reads it: 'EPOCH:name=value,...;EPOCH:...', names sorted,
// values in the fewest digits that read back exactly; a choice parameter
// (a problem file's) by its value, not its index.
func ScheduleArg(steps []ScheduleStep) string {
	parts := make([]string, len(steps))
	for i, st := range steps {
		names := slices.Sorted(maps.Keys(st.Params))
		kv := make([]string, len(names))
		for j, n := range names {
			v, ok := st.Choices[n]
			if !ok {
				v = strconv.FormatFloat(st.Params[n], 'g', -1, 64)
			}
			kv[j] = n + "=" + v
		}
		parts[i] = strconv.Itoa(st.Epoch) + ":" + strings.Join(kv, ",")
	}
	return strings.Join(parts, ";")
}

// Evaluated tells whether the record holds a fitness.
func (g GenomeRecord) Evaluated() bool { return g.Status != GenomeQueued }

// RungsTime is the time of every rung that trained the genome's weights
// (RungDuration: a genome that exploited another has that one's for the
// rungs it took over) and the workers that trained them, in the order they
// first did; ok is false for a record stored before rungs had their own,
// whose Duration and Worker are then all that is known.
func (g GenomeRecord) RungsTime() (d time.Duration, workers []string, ok bool) {
	n := len(g.RungFitness)
	if n == 0 || len(g.RungDuration) != n || len(g.RungWorker) != n {
		return 0, nil, false
	}
	for i, rd := range g.RungDuration {
		d += rd
		if w := g.RungWorker[i]; w != "" && !slices.Contains(workers, w) {
			workers = append(workers, w)
		}
	}
	return d, workers, true
}

// GenerationSummary is written once a generation is complete.
type GenerationSummary struct {
	Generation int       `json:"generation"`
	Best       int       `json:"best"` // genome id
	Fitness    Float     `json:"fitness"`
	Mean       Float     `json:"mean"`   // mean of the finite fitnesses
	Median     Float     `json:"median"` // median of the finite fitnesses
	Failed     int       `json:"failed"`
	Finished   time.Time `json:"finished"`
}

// FinalTraining is the full training of the best genome.
type FinalTraining struct {
	GenomeID     int                `json:"genome_id"`
	Params       map[string]float64 `json:"params"`
	Epochs       []EpochMetrics     `json:"epochs"`
	TestLoss     Float              `json:"test_loss"`
	TestAccuracy float64            `json:"test_accuracy,omitempty"`
	// Duration is the training's time: after halving or population
	// based training, that of every rung that trained its weights (a
	// population based training's lineage included: the genomes it
	// exploited trained its first epochs); Worker the worker of its last,
	// and Workers, when known, every worker that trained a rung of it,
	// in the order they first did.
	Duration    time.Duration `json:"duration"`
	Worker      string        `json:"worker"`
	Workers     []string      `json:"workers,omitempty"`
	WeightsSize int           `json:"weights_size"`
	WeightsSHA  string        `json:"weights_sha256,omitempty"`
	// WeightsLost says why the weights are not kept: the object store
	// that held them was lost before the run ended (a resumed run on a
	// NATS server whose store was deleted or replaced).
	WeightsLost string `json:"weights_lost,omitempty"`
	// Retrained says the weights come from training the genome again from
	// scratch to the top rung (halving, pbt), those of its training in the
	// search having been lost with the object store; the figures are the
	// new training's.
	Retrained bool      `json:"retrained,omitempty"`
	Finished  time.Time `json:"finished"`
	// Log is what the training's command printed that was not a metric,
	// its last lines, as a genome's GenomeRecord.Log (a problem file's
	// training; after halving or population based training, its top
	// rung's), with gahpo's notes: why its model was not kept (NoModel).
	Log []string `json:"log,omitempty"`
	// Curve is every epoch's metrics with the model's probes (the CNN's
	// conv1 weights), for the report's figures.
	Curve []EpochReport `json:"curve,omitempty"`
	// Choices gives the value of each choice parameter.
	Choices map[string]string `json:"choices,omitempty"`
	// Schedule, after a population based training, is the hyperparameters
	// of the final training epoch by epoch (Params are the last step's).
	Schedule []ScheduleStep `json:"schedule,omitempty"`
	// Seeds, after a confirmation (RunConfig.ConfirmSeeds), is how many
	// trainings the genome was chosen on and ConfirmedFitness their mean
	// fitness; the figures above are its first training's.
	Seeds            int    `json:"seeds,omitempty"`
	ConfirmedFitness *Float `json:"confirmed_fitness,omitempty"`
}

// NoModelNote starts the line a worker adds to a training's log when the
// model its command wrote at GAHPO_WEIGHTS_FILE cannot be kept (too large,
// a directory, unreadable); the reason follows.
const NoModelNote = "gahpo: no model kept: "

// NoCheckpointNote starts the line a worker adds to a training's log when
// its command left its checkpoint directory (GAHPO_CHECKPOINT_DIR) empty
// although the genome may be promoted: the next rung trains it again from
// its first epoch.
const NoCheckpointNote = "gahpo: no checkpoint: "

// NoModel says why the final training's command wrote a model that was not
// kept (its log's NoModelNote), "" when it wrote none or it was kept.
func (f FinalTraining) NoModel() string {
	for i := len(f.Log) - 1; i >= 0; i-- {
		if why, ok := strings.CutPrefix(f.Log[i], NoModelNote); ok {
			return why
		}
	}
	return ""
}

// EpochMetrics is one epoch of the final training.
type EpochMetrics struct {
	Epoch        int           `json:"epoch"`
	LR           float64       `json:"lr"`
	TrainLoss    Float         `json:"train_loss"`
	TestLoss     Float         `json:"test_loss"`
	TestAccuracy float64       `json:"test_accuracy,omitempty"`
	Duration     time.Duration `json:"duration"`
}

// Better reports whether genome a ranks before b, by the search's one rule
// (ga.Ahead): a higher rung first, then the lower fitness; NaN and ±Inf
// last; ties broken by the lower id.
func Better(a, b GenomeRecord) bool {
	return ga.Ahead(ga.Score{Rung: a.Rung, Fitness: float64(a.Fitness)}, a.ID, ga.Score{Rung: b.Rung, Fitness: float64(b.Fitness)}, b.ID)
}
