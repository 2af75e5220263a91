package gahpo

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"
)

// MessageVersion is the version of the wire messages this build speaks.
const MessageVersion = 1

// MaxMessageSize bounds every task and result message; weights travel
// through the object store instead.
const MaxMessageSize = 64 << 10

// Task kinds.
const (
	KindFitness = "fitness" // one short training, returns the fitness
	KindFinal   = "final"   // the full training of the best genome
	// KindHandBack is a result that answers no task but hands one back
	// untrained (its worker was stopped, or refuses the task's problem):
	// the coordinator, which alone may publish tasks, queues it again
	// without counting the delivery as an attempt. HandBack names the
	// task's kind; Token and Attempt are the delivery's.
	KindHandBack = "handback"
)

// ErrBadMessage is returned (wrapped) for a malformed, oversized or
// unknown-version message.
var ErrBadMessage = errors.New("gahpo: bad message")

// DataRef names a data set file kept in the cluster's object store.
type DataRef struct {
	Bucket string `json:"bucket"`
	Name   string `json:"name"`
	Digest string `json:"digest"` // "SHA-256=" + base64url(sha256), as the object store reports
	Size   uint64 `json:"size"`
}

// Task asks a worker to train one genome.
type Task struct {
	V          int                `json:"v"`
	Kind       string             `json:"kind"`
	RunID      string             `json:"run_id"`
	GenomeID   int                `json:"genome_id"`
	Generation int                `json:"generation"`
	Problem    string             `json:"problem"`
	Params     map[string]float64 `json:"params"`
	Seed       uint64             `json:"seed"`
	// DataSeed is shared by every genome of a run: it draws data splits
	// (the regression's folds) so that genomes are compared on the same data.
	DataSeed    uint64    `json:"data_seed,omitempty"`
	TrainSubset int       `json:"train_subset,omitempty"` // training images (0: all); the final training has its own
	OnTest      bool      `json:"fitness_on_test,omitempty"`
	Epochs      int       `json:"epochs,omitempty"`       // final training only
	MaxAttempts int       `json:"max_attempts,omitempty"` // deliveries before the worker gives up
	Data        []DataRef `json:"data,omitempty"`
	WeightsTo   string    `json:"weights_to,omitempty"` // object store bucket for final weights

	// Multi-fidelity (--fidelity halving). On a fitness task, Epochs is
	// the number of epochs to reach in all (0: the one-epoch fitness of
	// --fidelity one-epoch), FromEpochs the epochs already trained in
	// Checkpoint, the archive of the trainer's checkpoint directory to
	// restore (nil: train from scratch). CheckpointTo, when set, is the
	// object store bucket where the worker keeps the directory after
	// training, for a later promotion.
	Rung         int        `json:"rung,omitempty"`
	FromEpochs   int        `json:"from_epochs,omitempty"`
	Checkpoint   *ObjectRef `json:"checkpoint,omitempty"`
	CheckpointTo string     `json:"checkpoint_to,omitempty"`
	// MaxEpochs, on a fitness task of a halving or pbt run, is the epochs
	// the genome trains at the top rung (RunConfig.MaxEpochs): the same on
	// each of its rungs, so that a trainer's schedule (a cosine decay) has
	// one length from its first rung to its last. 0: the training ends at
	// Epochs (a one-epoch run's fitness, a final training).
	MaxEpochs int `json:"max_epochs,omitempty"`
	// Population based training: when a genome goes on from the
	// checkpoint of another genome it exploited, FromGenome is that
	// genome and FromParams and FromSeed the hyperparameters and seed the
	// checkpoint was trained with; Params hold from FromEpochs on. A
	// trainer that keeps a schedule's state (the CNN's StepLR) scales its
	// learning rate by Params' over FromParams' and goes on.
	FromGenome int                `json:"from_genome,omitempty"`
	FromParams map[string]float64 `json:"from_params,omitempty"`
	FromSeed   uint64             `json:"from_seed,omitempty"`
	// Test asks the trainer to measure the test set after each epoch too
	// (recorded, never used for selection).
	Test bool `json:"test,omitempty"`
	// ProblemDigest is the SHA-256 of the problem file a problem declared
	// in a file was read from; a worker refuses a task whose problem file
	// it does not hold with the same digest.
	ProblemDigest string `json:"problem_digest,omitempty"`
	// Replicate, when above 0, makes this fitness task the genome's k-th
	// confirmation training (RunConfig.ConfirmSeeds): from scratch to
	// Epochs with Seed; the result carries it back.
	Replicate int `json:"replicate,omitempty"`
	// Schedule, on a replicate of a population based training's genome,
	// is the genome's schedule to train from scratch to Epochs: each step
	// from its Epoch on with its Params, going on from the state the step
	// before left (as the genome went on from the genome it exploited).
	// Params are the first step's. Workers before this field trained
	// Params alone: coordinator and workers must both know it.
	Schedule []ScheduleStep `json:"schedule,omitempty"`
	// Token identifies this task of the genome; a result must carry it back
	// (the coordinator refuses results that answer no task it delivered).
	Token string `json:"token,omitempty"`
}

// ObjectRef names an object in a JetStream object store bucket.
type ObjectRef struct {
	Bucket string `json:"bucket"`
	Name   string `json:"name"`
	Digest string `json:"digest,omitempty"` // "SHA-256=" + base64url(sha256)
	Size   uint64 `json:"size,omitempty"`
}

// EpochReport is what a trainer reports after each epoch: named metrics
// (the built-in problems report train_loss, val_loss, val_accuracy, lr, and
// test_loss and test_accuracy when asked; a problem file's trainer reports
// its own) and, for the figures of a final training, small named vectors
// of the model (the CNN records conv1.weight).
type EpochReport struct {
	Epoch    int                  `json:"epoch"` // 1-based, counted from the genome's first epoch
	Metrics  map[string]Float     `json:"metrics"`
	Duration time.Duration        `json:"duration,omitempty"`
	Probe    map[string][]float32 `json:"probe,omitempty"`
}

// Fixed gives the report in the older, fixed form of a final training's
// epochs (FinalTraining.Epochs): a loss the trainer did not report is
// NaN, a learning rate or accuracy it did not report (or not as a finite
// number) is 0, which the form shows as none.
func (r EpochReport) Fixed() EpochMetrics {
	metric := func(name string) Float {
		if v, ok := r.Metrics[name]; ok {
			return v
		}
		return Float(math.NaN())
	}
	finite := func(name string) float64 {
		if v := float64(metric(name)); !math.IsNaN(v) && !math.IsInf(v, 0) {
			return v
		}
		return 0
	}
	return EpochMetrics{Epoch: r.Epoch, Duration: r.Duration, TrainLoss: metric("train_loss"), TestLoss: metric("test_loss"),
		LR: finite("lr"), TestAccuracy: finite("test_accuracy")}
}

// Validate checks the fields every task needs.
func (t Task) Validate() error {
	switch {
	case t.V != MessageVersion:
		return fmt.Errorf("%w: task version %d, want %d", ErrBadMessage, t.V, MessageVersion)
	case t.Kind != KindFitness && t.Kind != KindFinal:
		return fmt.Errorf("%w: unknown task kind %q", ErrBadMessage, t.Kind)
	case t.RunID == "":
		return fmt.Errorf("%w: task without run id", ErrBadMessage)
	case t.GenomeID < 1:
		return fmt.Errorf("%w: task genome id %d", ErrBadMessage, t.GenomeID)
	case t.Replicate < 0 || t.Replicate > 0 && t.Kind != KindFitness:
		return fmt.Errorf("%w: task replicate %d of a %s task", ErrBadMessage, t.Replicate, t.Kind)
	case t.Problem == "":
		return fmt.Errorf("%w: task without problem", ErrBadMessage)
	case len(t.Params) == 0:
		return fmt.Errorf("%w: task without params", ErrBadMessage)
	}
	return t.validSchedule()
}

// validSchedule checks a task's Schedule: a fitness task trained from
// scratch, its steps starting at epoch 1, each later than the one before
// and at Epochs at the latest, each with params.
func (t Task) validSchedule() error {
	if len(t.Schedule) == 0 {
		return nil
	}
	if t.Kind != KindFitness || t.Epochs < 1 || t.FromEpochs != 0 || t.Checkpoint != nil || t.FromParams != nil {
		return fmt.Errorf("%w: a schedule on a task that is not a fitness training from scratch to a number of epochs", ErrBadMessage)
	}
	for i, st := range t.Schedule {
		switch {
		case i == 0 && st.Epoch != 1:
			return fmt.Errorf("%w: task schedule starts at epoch %d, not 1", ErrBadMessage, st.Epoch)
		case i > 0 && st.Epoch <= t.Schedule[i-1].Epoch:
			return fmt.Errorf("%w: task schedule step %d at epoch %d, not after epoch %d", ErrBadMessage, i+1, st.Epoch, t.Schedule[i-1].Epoch)
		case st.Epoch > t.Epochs:
			return fmt.Errorf("%w: task schedule step %d at epoch %d, beyond the task's %d epochs", ErrBadMessage, i+1, st.Epoch, t.Epochs)
		case len(st.Params) == 0:
			return fmt.Errorf("%w: task schedule step %d without params", ErrBadMessage, i+1)
		}
	}
	return nil
}

// Result is a worker's answer to a task.
type Result struct {
	V            int           `json:"v"`
	Kind         string        `json:"kind"`
	RunID        string        `json:"run_id"`
	GenomeID     int           `json:"genome_id"`
	Worker       string        `json:"worker"`
	Attempt      int           `json:"attempt"`
	Fitness      Float         `json:"fitness"`
	Accuracy     float64       `json:"accuracy,omitempty"`
	ImagesPerSec float64       `json:"images_per_sec,omitempty"`
	Duration     time.Duration `json:"duration"`
	// Failure, when set, says why there is no usable fitness (diverged,
	// invalid genome, too many deliveries, training error); Fitness is +Inf.
	Failure string `json:"failure,omitempty"`
	// Final training only.
	Epochs        []EpochMetrics `json:"epochs,omitempty"`
	TestAccuracy  float64        `json:"test_accuracy,omitempty"`
	WeightsBucket string         `json:"weights_bucket,omitempty"`
	WeightsObject string         `json:"weights_object,omitempty"`
	// WeightsDigest is the stored weights' digest ("SHA-256=" +
	// base64url), checked when the coordinator fetches them: an object
	// replaced since (by anyone with the right to write the bucket) is
	// not taken for the genome's model.
	WeightsDigest string `json:"weights_digest,omitempty"`

	// Multi-fidelity and problem files: the epochs reached, the rung, the
	// metrics of each epoch trained by this task, the kept checkpoint, the
	// accelerator used and the last lines a trainer command printed.
	Rung       int           `json:"rung,omitempty"`
	EpochsDone int           `json:"epochs_done,omitempty"`
	Curve      []EpochReport `json:"curve,omitempty"`
	Checkpoint *ObjectRef    `json:"checkpoint,omitempty"`
	Device     string        `json:"device,omitempty"`
	Log        []string      `json:"log,omitempty"`
	// Replicate and Token are the answered task's.
	Replicate int    `json:"replicate,omitempty"`
	Token     string `json:"token,omitempty"`
	// ScheduleSteps is the number of steps of the task's Schedule the
	// worker replayed: a worker that predates schedules leaves it 0, and
	// its result (Params trained alone) is not the schedule's.
	ScheduleSteps int `json:"schedule_steps,omitempty"`
	// HandBack is, in a result of KindHandBack, the kind of the task
	// handed back.
	HandBack string `json:"hand_back,omitempty"`
}

// Validate checks the fields every result needs.
func (r Result) Validate() error {
	switch {
	case r.V != MessageVersion:
		return fmt.Errorf("%w: result version %d, want %d", ErrBadMessage, r.V, MessageVersion)
	case r.Kind == KindHandBack && r.HandBack != KindFitness && r.HandBack != KindFinal:
		return fmt.Errorf("%w: a hand-back of a task of kind %q", ErrBadMessage, r.HandBack)
	case r.Kind != KindFitness && r.Kind != KindFinal && r.Kind != KindHandBack:
		return fmt.Errorf("%w: unknown result kind %q", ErrBadMessage, r.Kind)
	case r.RunID == "":
		return fmt.Errorf("%w: result without run id", ErrBadMessage)
	case r.GenomeID < 1:
		return fmt.Errorf("%w: result genome id %d", ErrBadMessage, r.GenomeID)
	case r.Replicate < 0 || r.Replicate > 0 && r.Kind != KindFitness && r.HandBack != KindFitness:
		return fmt.Errorf("%w: result replicate %d of a %s result", ErrBadMessage, r.Replicate, r.Kind)
	}
	return nil
}

// Started is published (best effort, not persisted) once a worker's
// training of a task has run for 100 ms (a shorter one is shown by its
// result alone), so that status can show who holds what; again with an
// Epoch or Report after each epoch it trains, and with a Problem the
// worker cannot get past.
type Started struct {
	V        int       `json:"v"`
	RunID    string    `json:"run_id"`
	GenomeID int       `json:"genome_id"`
	Worker   string    `json:"worker"`
	Attempt  int       `json:"attempt"`
	At       time.Time `json:"at"`
	// Replicate is the task's (Task.Replicate): the confirmation
	// trainings of one genome run at once, each on a worker of its own.
	Replicate int `json:"replicate,omitempty"`
	// Epoch, during a final training, is the last finished epoch.
	Epoch *EpochMetrics `json:"epoch,omitempty"`
	// Report, during any training, is the last finished epoch's report
	// (Epoch counted from the genome's first epoch), for the learning
	// curves of running genomes. At stays the time the task started.
	Report *EpochReport `json:"report,omitempty"`
	// Problem, when set, is a fault the worker cannot get past on its own
	// (a result it cannot publish, and why), for the coordinator's status.
	Problem string `json:"problem,omitempty"`
	// Token is the task's (Task.Token): the coordinator heeds only the
	// events of tasks it has outstanding (a fault, a holder, a report).
	Token string `json:"token,omitempty"`
}

// Decode parses a message: size-limited, a single JSON object, then
// validated when the type has a Validate method. Unknown fields are ignored,
// so a newer peer may add optional fields within one version.
func Decode(data []byte, v any) error {
	if len(data) > MaxMessageSize {
		return fmt.Errorf("%w: %d bytes, limit %d", ErrBadMessage, len(data), MaxMessageSize)
	}
	// Unmarshal refuses trailing data itself (a Decoder copied the message
	// first, on the path of every task, result and event).
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("%w: %w", ErrBadMessage, err)
	}
	if val, ok := v.(interface{ Validate() error }); ok {
		return val.Validate()
	}
	return nil
}

// Encode marshals a message and enforces the size limit.
func Encode(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("gahpo: encode message: %w", err)
	}
	if len(b) > MaxMessageSize {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrBadMessage, len(b), MaxMessageSize)
	}
	return b, nil
}
