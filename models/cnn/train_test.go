package cnn

import (
	"context"
	"errors"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"gorgonia.org/tensor"

	"github.com/gahpo/gahpo/models"
	"github.com/gahpo/gahpo/models/mnist"
)

// smallSplits returns real MNIST splits cut to n training and v held-out
// images.
func smallSplits(t *testing.T, n, v int) mnist.Splits {
	t.Helper()
	train, test := loadMNIST(t)
	s, err := mnist.NewSplits(train, test, n)
	if err != nil {
		t.Fatal(err)
	}
	s.Val, s.Test = s.Val.Slice(0, v), s.Test.Slice(0, v)
	return s
}

func TestConfigValidate(t *testing.T) {
	ok := Config{BatchSize: 64, LR: 1, Gamma: 0.7}
	tests := []struct {
		name  string
		edit  func(*Config)
		valid bool
	}{
		{"paper", func(*Config) {}, true},
		{"batch 1", func(c *Config) { c.BatchSize = 1 }, true},
		{"batch 60000", func(c *Config) { c.BatchSize = 60000 }, true},
		{"gamma 0 and 1", func(c *Config) { c.Gamma = 1 }, true},
		{"batch 0", func(c *Config) { c.BatchSize = 0 }, false},
		{"batch 60001", func(c *Config) { c.BatchSize = 60001 }, false},
		{"lr 0", func(c *Config) { c.LR = 0 }, false},
		{"lr NaN", func(c *Config) { c.LR = math.NaN() }, false},
		{"lr Inf", func(c *Config) { c.LR = math.Inf(1) }, false},
		{"gamma 1.5", func(c *Config) { c.Gamma = 1.5 }, false},
		{"gamma NaN", func(c *Config) { c.Gamma = math.NaN() }, false},
		{"weight decay -1", func(c *Config) { c.WeightDecay = -1 }, false},
		{"weight decay Inf", func(c *Config) { c.WeightDecay = math.Inf(1) }, false},
		{"shift 3", func(c *Config) { c.Shift = 3 }, true},
		{"shift the most", func(c *Config) { c.Shift = MaxShift }, true},
		{"shift -1", func(c *Config) { c.Shift = -1 }, false},
		{"shift beyond the most", func(c *Config) { c.Shift = MaxShift + 1 }, false},
		{"epochs -1", func(c *Config) { c.Epochs = -1 }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ok
			tt.edit(&c)
			err := c.Validate()
			if tt.valid != (err == nil) || (err != nil && !errors.Is(err, ErrConfig)) {
				t.Errorf("Validate(%+v) = %v, want valid %v", c, err, tt.valid)
			}
		})
	}
	if _, err := Fitness(context.Background(), smallSplits(t, 10, 10), Config{}); !errors.Is(err, ErrConfig) {
		t.Errorf("Fitness with a zero Config: err = %v, want ErrConfig", err)
	}
}

// TestFitnessAccuracy is the paper's run on 6,000 images: one epoch at
// batch 64 and lr 1 (PyTorch reaches 94.8% test accuracy with it).
func TestFitnessAccuracy(t *testing.T) {
	if testing.Short() {
		t.Skip("trains on 6,000 images")
	}
	train, test := loadMNIST(t)
	s, err := mnist.NewSplits(train, test, 6000)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := Fitness(context.Background(), s, Config{BatchSize: 64, LR: 1, Gamma: 0.7, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", ev)
	if ev.Accuracy < 0.93 || ev.Diverged != "" {
		t.Errorf("validation accuracy %.4f (loss %.4f, diverged %q), want >= 0.93", ev.Accuracy, ev.Loss, ev.Diverged)
	}
	if ev.Loss > 0.35 || ev.Images != 6000 || ev.ImagesPerSec <= 0 || ev.Duration <= 0 {
		t.Errorf("Eval %+v: want a loss under 0.35 and the figures of 6,000 images", ev)
	}
}

func TestFitnessDeterministic(t *testing.T) {
	s := smallSplits(t, 160, 100)
	cfg := Config{BatchSize: 32, LR: 1, Gamma: 0.7, Seed: 42}
	first, err := Fitness(context.Background(), s, cfg)
	if err != nil {
		t.Fatal(err)
	}
	again, err := Fitness(context.Background(), s, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if first.Loss != again.Loss || first.Accuracy != again.Accuracy {
		t.Errorf("same seed: loss %v then %v, accuracy %v then %v", first.Loss, again.Loss, first.Accuracy, again.Accuracy)
	}
	cfg.Seed = 43
	other, err := Fitness(context.Background(), s, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if other.Loss == first.Loss {
		t.Errorf("seeds 42 and 43 both give loss %v: the seed is not used", first.Loss)
	}
	cfg.FitnessOnTest = true
	onTest, err := Fitness(context.Background(), s, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if onTest.Loss == other.Loss {
		t.Errorf("loss on the test set equals the validation loss %v", other.Loss)
	}
	if math.IsInf(first.Loss, 0) || first.Loss > 2.3 {
		t.Errorf("loss %v after 160 images: no learning", first.Loss)
	}
}

func TestFitnessDiverges(t *testing.T) {
	s := smallSplits(t, 96, 100)
	for _, lr := range []float64{1e30, 1e36, 1e300} {
		ev, err := Fitness(context.Background(), s, Config{BatchSize: 32, LR: lr, Seed: 1})
		if err != nil {
			t.Fatalf("lr %g: %v", lr, err)
		}
		if !math.IsInf(ev.Loss, 1) || ev.Diverged == "" {
			t.Errorf("lr %g: loss %v, diverged %q; want +Inf and a reason", lr, ev.Loss, ev.Diverged)
		}
		if ev.Images >= s.Train.N {
			t.Errorf("lr %g: %d images trained of %d: the training did not stop at the divergence", lr, ev.Images, s.Train.N)
		}
		t.Logf("lr %g: %s", lr, ev.Diverged)
	}
}

// TestInjectedNaN puts a NaN in one weight: in conv2 (every window of its
// channel reaches the max-pool as NaN, whose backward pass would panic) and
// in fc2 (only the loss sees it).
func TestInjectedNaN(t *testing.T) {
	train := loadTrain(t)
	for _, tt := range []struct {
		param int
		want  string
	}{{2, "NaN activation"}, {6, "training loss NaN"}} {
		t.Run(specs[tt.param].name, func(t *testing.T) {
			p := newParams(tensor.Float32, 1)
			tr, err := newTrainer(p, Config{BatchSize: 16, LR: 1})
			if err != nil {
				t.Fatal(err)
			}
			p[tt.param].Data().([]float32)[5] = float32(math.NaN())
			_, err = tr.epoch(context.Background(), train.Slice(0, 32))
			if !errors.Is(err, ErrDiverged) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("epoch with a NaN weight: err = %v, want ErrDiverged saying %q", err, tt.want)
			}
		})
	}
}

func TestFitnessCancel(t *testing.T) {
	s := smallSplits(t, 54000, 100)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Fitness(ctx, s, Config{BatchSize: 64, LR: 1}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: err = %v, want context.Canceled", err)
	}
	ctx, cancel = context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := Fitness(ctx, s, Config{BatchSize: 64, LR: 1})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("deadline during training: err = %v, want context.DeadlineExceeded", err)
	}
	// One batch of 64 takes well under a second on 2 cores.
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Fitness returned %v after a 500ms deadline", d)
	}
}

func TestTrainFullAndEvaluate(t *testing.T) {
	if testing.Short() {
		t.Skip("a full training and evaluation: -short")
	}
	train, test := loadMNIST(t)
	train, test = train.Slice(0, 160), test.Slice(0, 100)
	var seen []models.EpochMetrics
	res, err := TrainFull(context.Background(), train, test, Config{BatchSize: 40, LR: 1, Gamma: 0.5, Epochs: 2, Seed: 5},
		func(m models.EpochMetrics) { seen = append(seen, m) })
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Epochs) != 2 || len(seen) != 2 || seen[1] != res.Epochs[1] {
		t.Fatalf("epochs %+v, callbacks %+v", res.Epochs, seen)
	}
	if res.Epochs[0].LR != 1 || res.Epochs[1].LR != 0.5 {
		t.Errorf("learning rates %v, %v; want 1, 0.5 (StepLR)", res.Epochs[0].LR, res.Epochs[1].LR)
	}
	if !(res.Epochs[1].TrainLoss < res.Epochs[0].TrainLoss) {
		t.Errorf("train loss %v then %v: not decreasing", res.Epochs[0].TrainLoss, res.Epochs[1].TrainLoss)
	}
	if res.TestLoss != res.Epochs[1].TestLoss || res.TestAccuracy != res.Epochs[1].TestAccuracy || res.Duration <= 0 {
		t.Errorf("result %v/%v/%v does not report the last epoch", res.TestLoss, res.TestAccuracy, res.Duration)
	}

	loss, acc, err := Evaluate(context.Background(), res.Weights, test)
	if err != nil {
		t.Fatal(err)
	}
	if loss != res.TestLoss || acc != res.TestAccuracy {
		t.Errorf("Evaluate of the saved weights: %v, %v; training reported %v, %v", loss, acc, res.TestLoss, res.TestAccuracy)
	}

	bad := func(edit func([]byte) []byte) []byte { return edit(append([]byte(nil), res.Weights...)) }
	for name, w := range map[string][]byte{
		"empty":     nil,
		"truncated": res.Weights[:len(res.Weights)-100],
		"flipped":   bad(func(b []byte) []byte { b[len(b)/2] ^= 1; return b }),
		"magic":     bad(func(b []byte) []byte { b[0] = 'X'; return b }),
	} {
		if _, _, err := Evaluate(context.Background(), w, test); !errors.Is(err, ErrWeights) {
			t.Errorf("%s weights: err = %v, want ErrWeights", name, err)
		}
	}
}

func TestWeightsFormat(t *testing.T) {
	p := newParams(tensor.Float32, 9)
	data := p.marshal()
	q, err := unmarshalParams(data)
	if err != nil {
		t.Fatal(err)
	}
	for i := range p {
		if !q[i].Shape().Eq(p[i].Shape()) {
			t.Fatalf("%s: shape %v, want %v", specs[i].name, q[i].Shape(), p[i].Shape())
		}
		for j, v := range p[i].Data().([]float32) {
			if q[i].Data().([]float32)[j] != v {
				t.Fatalf("%s[%d] = %v, want %v", specs[i].name, j, q[i].Data().([]float32)[j], v)
			}
		}
	}
	// A file of another version or another shape, with a valid checksum.
	other := newParams(tensor.Float32, 9)
	other[4] = tensor.New(tensor.WithShape(9216, 64), tensor.Of(tensor.Float32))
	saved := specs[4].shape
	specs[4].shape = tensor.Shape{9216, 64}
	wrongShape := other.marshal()
	specs[4].shape = saved
	if _, err := unmarshalParams(wrongShape); !errors.Is(err, ErrWeights) || !strings.Contains(err.Error(), "fc1.weight") {
		t.Errorf("fc1 of 64 units: err = %v, want ErrWeights naming fc1.weight", err)
	}
}

func TestInitBounds(t *testing.T) {
	p := newParams(tensor.Float32, 1)
	q := newParams(tensor.Float32, 1)
	for i, s := range specs {
		bound := 1 / math.Sqrt(float64(s.fanIn))
		var sum, sumSq float64
		d := p[i].Data().([]float32)
		for j, v := range d {
			if math.Abs(float64(v)) > bound {
				t.Fatalf("%s[%d] = %v outside ±%v", s.name, j, v, bound)
			}
			if v != q[i].Data().([]float32)[j] {
				t.Fatalf("%s: seed 1 gave two different inits", s.name)
			}
			sum += float64(v)
			sumSq += float64(v) * float64(v)
		}
		if len(d) >= 1000 { // U(±b) has variance b²/3
			mean, variance := sum/float64(len(d)), sumSq/float64(len(d))
			if math.Abs(mean) > bound/10 || math.Abs(variance/(bound*bound/3)-1) > 0.1 {
				t.Errorf("%s: mean %v, variance %v; want U(±%v)", s.name, mean, variance, bound)
			}
		}
	}
}

// TestFitnessConcurrent runs two fitness evaluations at once, as a worker
// with two slots does: each must give the result of a lone run.
func TestFitnessConcurrent(t *testing.T) {
	s := smallSplits(t, 32, 100)
	cfg := Config{BatchSize: 16, LR: 1, Seed: 3}
	want, err := Fitness(context.Background(), s, cfg)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			got, err := Fitness(context.Background(), s, cfg)
			if err != nil || got.Loss != want.Loss {
				t.Errorf("concurrent fitness: loss %v, err %v; alone %v", got.Loss, err, want.Loss)
			}
		})
	}
	wg.Wait()
}
