package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/gahpo/gahpo/models"
	"github.com/gahpo/gahpo/models/cnn"
	"github.com/gahpo/gahpo/models/mnist"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	m := NewMain(os.Stdout, os.Stderr)
	if err := m.ParseFlags(os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(2)
		}
		fmt.Fprintln(os.Stderr, "cnntrain:", err)
		os.Exit(2)
	}
	if err := m.Run(ctx); err != nil {
		m.Logger.Error("training failed", "err", err)
		os.Exit(1)
	}
}

// Main is the command, separated from the process for tests.
type Main struct {
	Config      cnn.Config
	DataDir     string // "" finds the GoMNIST module in the module cache
	TrainImages int    // 0: all 60,000 (full) or 54,000 (fitness)
	TestImages  int    // 0: all 10,000
	Fitness     bool
	WeightsOut  string // file to write the trained weights to; "" writes none
	EvalFile    string // weights to evaluate on the test set instead of training
	JSONOut     string // file to write the training's Report to; "" writes none
	// Schedule, when set, trains a population based training's schedule:
	// each step's hyperparameters from its first epoch on (Config's seed
	// and epochs; its other hyperparameters are ignored).
	Schedule     []Step
	scheduleText string // the -schedule flag, for the report

	Stdout io.Writer
	Logger *slog.Logger
}

// NewMain returns a Main writing results to stdout and logs to stderr.
func NewMain(stdout, stderr io.Writer) *Main {
	return &Main{Stdout: stdout, Logger: slog.New(slog.NewTextHandler(stderr, nil))}
}

// ParseFlags reads the command line.
func (m *Main) ParseFlags(args []string) error {
	fs := flag.NewFlagSet("cnntrain", flag.ContinueOnError)
	fs.IntVar(&m.Config.BatchSize, "batch", 64, "batch size")
	fs.Float64Var(&m.Config.LR, "lr", 1.0, "Adadelta learning rate")
	fs.Float64Var(&m.Config.Gamma, "gamma", 0.7, "StepLR factor per epoch")
	fs.Float64Var(&m.Config.WeightDecay, "wd", 0, "weight decay")
	fs.IntVar(&m.Config.Shift, "shift", 0, fmt.Sprintf("move each training image by up to this many pixels along each axis, drawn anew each epoch (data augmentation; 0 to %d, 0: the paper's training)", cnn.MaxShift))
	fs.IntVar(&m.Config.Epochs, "epochs", cnn.DefaultEpochs, "epochs of the full training")
	fs.Uint64Var(&m.Config.Seed, "seed", 1, "seed of init, shuffling and dropout")
	fs.BoolVar(&m.Config.FitnessOnTest, "fitness-on-test", false, "with -fitness: loss on the test set (the paper's choice)")
	fs.StringVar(&m.DataDir, "data", "", "folder of the four MNIST files (default: the GoMNIST module)")
	fs.IntVar(&m.TrainImages, "train-images", 0, "train on the first N images only (0: all)")
	fs.IntVar(&m.TestImages, "test-images", 0, "test on the first N test images only (0: all)")
	fs.BoolVar(&m.Fitness, "fitness", false, "run one fitness evaluation instead of the full training")
	fs.StringVar(&m.WeightsOut, "out", "", "write the trained weights to this file")
	fs.StringVar(&m.JSONOut, "json", "", "write the training's settings, every epoch's metrics and the final test figures to this file as JSON (once the training has ended)")
	fs.StringVar(&m.EvalFile, "eval", "", "evaluate the weights in this file on the test set, without training")
	schedule := fs.String("schedule", "", "train a population based training's schedule: 'EPOCH:batch_size=B,lr=L,gamma=G,weight_decay=W;EPOCH:...', each step from its first epoch on (the first at epoch 1; gahpo query genome N shows a genome's, with the -seed and -train-images that train it again); each step may add shift=S; replaces -batch, -lr, -gamma, -wd and -shift")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *schedule != "" {
		steps, err := ParseSchedule(*schedule)
		if err != nil {
			return err
		}
		if last := steps[len(steps)-1].Epoch; last > m.Config.Epochs {
			return fmt.Errorf("-schedule: a step at epoch %d of a %d-epoch training", last, m.Config.Epochs)
		}
		m.Schedule, m.scheduleText = steps, *schedule
		m.Config.BatchSize, m.Config.LR, m.Config.Gamma, m.Config.WeightDecay, m.Config.Shift = steps[0].BatchSize, steps[0].LR, steps[0].Gamma, steps[0].WeightDecay, steps[0].Shift
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if err := m.Config.Validate(); err != nil {
		return err
	}
	if m.JSONOut != "" && (m.Fitness || m.EvalFile != "") {
		return errors.New("-json reports a training: not with -fitness or -eval")
	}
	if m.TrainImages < 0 || m.TestImages < 0 {
		return fmt.Errorf("negative image count")
	}
	return nil
}

// Run loads the data and trains.
func (m *Main) Run(ctx context.Context) error {
	start := time.Now()
	train, test, err := mnist.Load(m.DataDir)
	if err != nil {
		return err
	}
	if m.TestImages > 0 && m.TestImages < test.N {
		test = test.Slice(0, m.TestImages)
	}
	m.Logger.Info("data loaded", "train", train.N, "test", test.N, "elapsed", time.Since(start).Round(time.Millisecond))
	if m.EvalFile != "" {
		return m.runEval(ctx, test)
	}
	if m.Fitness {
		return m.runFitness(ctx, train, test)
	}
	if m.TrainImages > 0 && m.TrainImages < train.N {
		train = train.Slice(0, m.TrainImages)
	}
	var res models.FinalResult
	if m.Schedule != nil {
		res, err = m.runSchedule(ctx, train, test)
	} else {
		m.Logger.Info("full training", "config", fmt.Sprintf("%+v", m.Config), "train", train.N, "test", test.N)
		res, err = cnn.TrainFull(ctx, train, test, m.Config, m.printEpoch)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(m.Stdout, "final  test_loss %.4f  test_acc %.2f%%  epochs %d  train %v  total %v\n",
		res.TestLoss, 100*res.TestAccuracy, len(res.Epochs), res.Duration.Round(time.Second), time.Since(start).Round(time.Second))
	if m.WeightsOut != "" {
		if err := os.WriteFile(m.WeightsOut, res.Weights, 0o644); err != nil {
			return fmt.Errorf("write weights: %w", err)
		}
		m.Logger.Info("weights written", "file", m.WeightsOut, "bytes", len(res.Weights))
	}
	if m.JSONOut != "" {
		if err := m.writeReport(res, train.N, test.N); err != nil {
			return err
		}
		m.Logger.Info("report written", "file", m.JSONOut)
	}
	return nil
}

func (m *Main) printEpoch(e models.EpochMetrics) {
	fmt.Fprintf(m.Stdout, "epoch %2d  lr %.6f  train_loss %.4f  test_loss %.4f  test_acc %.2f%%  %v\n",
		e.Epoch, e.LR, e.TrainLoss, e.TestLoss, 100*e.TestAccuracy, e.Duration.Round(time.Second))
}

// writeReport writes the -json report (cnn.Report) of a finished training.
func (m *Main) writeReport(res models.FinalResult, trainN, testN int) error {
	r := cnn.Report{Seed: m.Config.Seed, TrainImages: trainN, TestImages: testN, Epochs: res.Epochs,
		TestLoss: res.TestLoss, TestAccuracy: res.TestAccuracy, TrainSeconds: res.Duration.Seconds()}
	if m.Schedule != nil {
		r.Schedule = m.scheduleText
	} else {
		r.BatchSize, r.LR, r.Gamma, r.WeightDecay, r.Shift = m.Config.BatchSize, m.Config.LR, m.Config.Gamma, m.Config.WeightDecay, m.Config.Shift
	}
	return cnn.WriteReport(m.JSONOut, r)
}

func (m *Main) runEval(ctx context.Context, test *mnist.Set) error {
	w, err := os.ReadFile(m.EvalFile)
	if err != nil {
		return fmt.Errorf("read weights: %w", err)
	}
	start := time.Now()
	loss, acc, err := cnn.Evaluate(ctx, w, test)
	if err != nil {
		return fmt.Errorf("evaluate %s: %w", m.EvalFile, err)
	}
	fmt.Fprintf(m.Stdout, "eval  test_loss %.4f  test_acc %.2f%%  images %d  %v\n",
		loss, 100*acc, test.N, time.Since(start).Round(time.Millisecond))
	return nil
}

func (m *Main) runFitness(ctx context.Context, train, test *mnist.Set) error {
	s, err := mnist.NewSplits(train, test, m.TrainImages)
	if err != nil {
		return err
	}
	m.Logger.Info("fitness", "config", fmt.Sprintf("%+v", m.Config), "train", s.Train.N, "val", s.Val.N)
	ev, err := cnn.Fitness(ctx, s, m.Config)
	if err != nil {
		return err
	}
	fmt.Fprintf(m.Stdout, "fitness %.4f  accuracy %.2f%%  images %d  img/s %.1f  duration %v  diverged %q\n",
		ev.Loss, 100*ev.Accuracy, ev.Images, ev.ImagesPerSec, ev.Duration.Round(time.Millisecond), ev.Diverged)
	return nil
}
