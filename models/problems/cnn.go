package problems

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sync"

	"github.com/gahpo/gahpo"
	"github.com/gahpo/gahpo/ga"
	"github.com/gahpo/gahpo/models"
	"github.com/gahpo/gahpo/models/cnn"
	"github.com/gahpo/gahpo/models/mnist"
)

// Names of the MNIST CNN's problems.
const (
	// CNN is the paper's problem: its four genes (CNNSpace).
	CNN = "cnn"
	// CNNShift is the same network and data with a fifth gene, shift: the
	// training images move by up to that many pixels each way, drawn
	// anew each epoch (data augmentation, cnn.Config.Shift; 0 is the
	// paper's training).
	CNNShift = "cnn-shift"
)

// IsCNN tells whether a problem is one of the MNIST CNN's: the same
// network, data, figures and cnntrain.
func IsCNN(name string) bool { return name == CNN || name == CNNShift }

// MaxShiftGene is the largest shift of CNNShiftSpace, in pixels: two is
// the usual translation of MNIST's digits; three lets a search see past it.
const MaxShiftGene = 3

// CNNBudget is the CNN's range of epochs: the paper's final training is 14.
var CNNBudget = Budget{Min: 1, Max: 14}

// CNNSpace returns the search space of the paper for the MNIST CNN, with
// ga.NewSpace defaults: batch_size int in [10, 128]; lr float in [1e-8, 1]
// on a log scale; gamma float in [0, 1] on a linear scale; weight_decay
// float in [1e-7, 1e-4] on a log scale.
func CNNSpace() *ga.Space {
	s, err := ga.NewSpace(
		ga.IntParam("batch_size", 10, 128),
		ga.FloatParam("lr", 1e-8, 1.0, ga.Log),
		ga.FloatParam("gamma", 0, 1.0, ga.Linear),
		ga.FloatParam("weight_decay", 1e-7, 1e-4, ga.Log),
	)
	if err != nil {
		panic(err) // the literal above is valid
	}
	return s
}

// CNNShiftSpace returns CNNSpace with a fifth gene: shift, int in [0,
// MaxShiftGene] pixels.
func CNNShiftSpace() *ga.Space {
	s, err := ga.NewSpace(append(CNNSpace().Params, ga.IntParam("shift", 0, MaxShiftGene))...)
	if err != nil {
		panic(err) // the paper's genes and shift are valid
	}
	return s
}

func mnistFiles(dir string) ([]string, error) {
	if dir == "" {
		d, err := mnist.FindDir()
		if err != nil {
			return nil, err
		}
		dir = d
	}
	paths := make([]string, len(mnist.Files))
	for i, f := range mnist.Files {
		paths[i] = filepath.Join(dir, f)
	}
	return paths, nil
}

// cnnTrainer trains the jobs of a CNN problem, whose genomes space holds.
type cnnTrainer struct {
	space func() *ga.Space
	data  *mnistCache
}

// mnistCache loads MNIST once per directory for every CNN problem.
type mnistCache struct {
	mu    sync.Mutex
	mnist map[string]*mnistData
}

var cnnData = &mnistCache{mnist: map[string]*mnistData{}}

type mnistData struct {
	once        sync.Once
	train, test *mnist.Set
	err         error
}

var blasOnce sync.Once

// useGonumIfAsked switches the CNN to gonum's BLAS once when GAHPO_BLAS is
// "gonum".
func useGonumIfAsked() {
	blasOnce.Do(func() {
		if os.Getenv("GAHPO_BLAS") == "gonum" {
			cnn.UseGonum()
		}
	})
}

func (t *mnistCache) load(dir string) (train, test *mnist.Set, err error) {
	t.mu.Lock()
	d := t.mnist[dir]
	if d == nil {
		d = &mnistData{}
		t.mnist[dir] = d
	}
	t.mu.Unlock()
	d.once.Do(func() { d.train, d.test, d.err = mnist.Load(dir) })
	return d.train, d.test, d.err
}

func cnnConfig(task gahpo.Task) cnn.Config {
	p := task.Params
	return cnn.Config{
		BatchSize:     int(math.Round(p["batch_size"])),
		LR:            p["lr"],
		Gamma:         p["gamma"],
		WeightDecay:   p["weight_decay"],
		Shift:         int(math.Round(p["shift"])), // 0 for the paper's genomes, which have none
		Epochs:        task.Epochs,
		Seed:          task.Seed,
		FitnessOnTest: task.OnTest,
	}
}

// Train runs a CNN job: the one-epoch fitness (a fitness task without
// epochs), a training from the checkpoint directory up to Task.Epochs, or
// the final training on the whole training set, measured on the test set
// after each epoch with conv1's weights as its probe.
func (t *cnnTrainer) Train(ctx context.Context, job models.Job) (models.Outcome, error) {
	useGonumIfAsked()
	task := job.Task
	if err := checkGenome(t.space(), "", task); err != nil {
		return models.Outcome{}, err
	}
	train, test, err := t.data.load(job.DataDir)
	if err != nil {
		return models.Outcome{}, err
	}
	cfg := cnnConfig(task)
	if task.Kind == gahpo.KindFitness && task.Epochs == 0 {
		splits, err := mnist.NewSplits(train, test, task.TrainSubset)
		if err != nil {
			return models.Outcome{}, untrainable(err)
		}
		ev, err := cnn.Fitness(ctx, splits, cfg)
		if err != nil {
			return models.Outcome{}, err
		}
		out := models.Outcome{Fitness: ev.Loss, Accuracy: ev.Accuracy, ImagesPerSec: ev.ImagesPerSec, Diverged: ev.Diverged}
		if ev.Diverged == "" {
			rep := gahpo.EpochReport{Epoch: 1, Duration: ev.Duration, Metrics: map[string]gahpo.Float{
				"val_loss": gahpo.Float(ev.Loss), "val_accuracy": gahpo.Float(ev.Accuracy)}}
			out.Curve = []gahpo.EpochReport{rep}
			if job.OnEpoch != nil {
				job.OnEpoch(rep)
			}
		}
		return out, nil
	}
	var splits mnist.Splits
	// Multi-fidelity genomes record conv1's weights after every epoch (288
	// values), so that a top-rung genome, the run's final training, has
	// the paper's figure of their distribution epoch by epoch.
	run := cnn.Run{Dir: job.CheckpointDir, To: task.Epochs, Test: task.Test, Probe: task.Epochs > 0}
	if task.FromParams != nil {
		// Population based training: the checkpoint is another genome's.
		src := task // its params were checked with the task's
		src.Params, src.Seed = task.FromParams, task.FromSeed
		from := cnnConfig(src)
		run.From = &from
	}
	final := task.Kind == gahpo.KindFinal
	if final {
		// The final training: every training image (of the subset), the
		// test set measured after each epoch, as TrainFull does.
		if n := task.TrainSubset; n > 0 && n < train.N {
			train = train.Slice(0, n)
		}
		splits = mnist.Splits{Train: train, Test: test}
		cfg.FitnessOnTest, run.Test, run.Probe = true, false, true
	} else if splits, err = mnist.NewSplits(train, test, task.TrainSubset); err != nil {
		return models.Outcome{}, untrainable(err)
	}
	var curve []gahpo.EpochReport
	run.OnEpoch = func(e cnn.Epoch) {
		m := map[string]gahpo.Float{"train_loss": gahpo.Float(e.TrainLoss), "lr": gahpo.Float(e.LR)}
		rep := gahpo.EpochReport{Epoch: e.Epoch, Duration: e.Duration, Metrics: m}
		if final {
			m["test_loss"], m["test_accuracy"] = gahpo.Float(e.ValLoss), gahpo.Float(e.ValAccuracy)
			rep.Probe = map[string][]float32{"conv1.weight": e.Conv1}
		} else {
			m["val_loss"], m["val_accuracy"] = gahpo.Float(e.ValLoss), gahpo.Float(e.ValAccuracy)
			if run.Test {
				m["test_loss"], m["test_accuracy"] = gahpo.Float(e.TestLoss), gahpo.Float(e.TestAccuracy)
			}
			if run.Probe {
				rep.Probe = map[string][]float32{"conv1.weight": e.Conv1}
			}
		}
		curve = append(curve, rep)
		if job.OnEpoch != nil {
			job.OnEpoch(rep)
		}
	}
	o, err := cnn.Train(ctx, splits, cfg, run)
	if err != nil {
		return models.Outcome{}, err
	}
	out := models.Outcome{Fitness: o.Fitness, Accuracy: o.Accuracy, ImagesPerSec: o.ImagesPerSec, Diverged: o.Diverged, Curve: curve}
	if n := len(o.Epochs); n > 0 {
		last := o.Epochs[n-1]
		out.TestLoss, out.TestAccuracy = last.TestLoss, last.TestAccuracy
		if final {
			out.TestLoss, out.TestAccuracy = last.ValLoss, last.ValAccuracy
		}
	}
	if final || task.WeightsTo != "" { // the coordinator keeps the model of a final or top-rung training
		out.Weights = o.Weights
	}
	return out, nil
}

// finalResult converts an Outcome to the legacy final result.
func finalResult(out models.Outcome) models.FinalResult {
	fr := models.FinalResult{TestLoss: out.TestLoss, TestAccuracy: out.TestAccuracy, Weights: out.Weights}
	for _, rep := range out.Curve {
		fr.Epochs = append(fr.Epochs, epochMetrics(rep))
		fr.Duration += rep.Duration
	}
	return fr
}

func epochMetrics(rep gahpo.EpochReport) models.EpochMetrics {
	m := rep.Metrics
	return models.EpochMetrics{Epoch: rep.Epoch, LR: float64(m["lr"]), TrainLoss: float64(m["train_loss"]),
		TestLoss: float64(m["test_loss"]), TestAccuracy: float64(m["test_accuracy"]), Duration: rep.Duration}
}

func init() {
	for _, p := range []struct {
		name  string
		space func() *ga.Space
	}{{CNN, CNNSpace}, {CNNShift, CNNShiftSpace}} {
		must(Register(Problem{
			Name:      p.name,
			Space:     p.space,
			DataFiles: mnistFiles,
			NeedsData: true,
			Budget:    CNNBudget,
			Trainer:   &cnnTrainer{space: p.space, data: cnnData},
			// A negative log-likelihood is never below 0.
			FitnessMin: 0, FitnessMax: math.Inf(1),
		}))
	}
}

func must(err error) {
	if err != nil {
		panic(fmt.Sprintf("problems: built-in problem: %v", err))
	}
}
