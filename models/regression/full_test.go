package regression

import (
	"context"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/gahpo/gahpo/models"
)

func TestTrainFullReports(t *testing.T) {
	full := mustLoad(t)
	// 20 rows keep the 1000 epochs cheap.
	d := &Data{TrainX: full.TrainX[:20], TrainY: full.TrainY[:20], TestX: full.TestX, TestY: full.TestY}
	tests := []struct {
		epochs    int
		wantEvery int
		wantN     int // number of reports
	}{
		{epochs: 1, wantEvery: 1, wantN: 1},
		{epochs: 10, wantEvery: 1, wantN: 10},
		{epochs: 50, wantEvery: 1, wantN: 50},
		{epochs: 51, wantEvery: 2, wantN: 26},    // 2, 4, ..., 50, then 51
		{epochs: 300, wantEvery: 6, wantN: 50},   // 6, 12, ..., 300
		{epochs: 301, wantEvery: 7, wantN: 43},   // 7, ..., 294, then 301
		{epochs: 1000, wantEvery: 20, wantN: 50}, // 20, ..., 1000
	}
	for _, tt := range tests {
		cfg := Config{LR: 0.005, BatchSize: 64, Epochs: tt.epochs, Seed: 4}
		var seen []models.EpochMetrics
		res, err := TrainFull(context.Background(), d, cfg, func(m models.EpochMetrics) { seen = append(seen, m) })
		if err != nil {
			t.Fatalf("TrainFull(%d epochs): %v", tt.epochs, err)
		}
		if len(res.Epochs) != tt.wantN || len(seen) != tt.wantN {
			t.Fatalf("%d epochs: %d reports, %d callbacks; want %d", tt.epochs, len(res.Epochs), len(seen), tt.wantN)
		}
		for i, m := range res.Epochs {
			if m != seen[i] {
				t.Errorf("%d epochs: report %d is %+v, callback got %+v", tt.epochs, i, m, seen[i])
			}
			want := (i + 1) * tt.wantEvery
			if i == len(res.Epochs)-1 {
				want = tt.epochs
			}
			if m.Epoch != want || m.LR != cfg.LR || m.Duration <= 0 || !(m.TrainLoss > 0) || !(m.TestLoss > 0) {
				t.Errorf("%d epochs: report %d = %+v; want epoch %d, lr %v, positive losses and duration", tt.epochs, i, m, want, cfg.LR)
			}
		}
		if last := res.Epochs[len(res.Epochs)-1]; res.TestLoss != last.TestLoss {
			t.Errorf("%d epochs: TestLoss %v, last reported %v", tt.epochs, res.TestLoss, last.TestLoss)
		}
		if res.Duration <= 0 {
			t.Errorf("%d epochs: duration %v", tt.epochs, res.Duration)
		}
	}
}

// TestTrainFullWeights checks that Predict on the returned weights gives
// back the reported test MSE, and that the seed fixes the weights.
func TestTrainFullWeights(t *testing.T) {
	d := mustLoad(t)
	cfg := Config{LR: 0.01, BatchSize: 4, Epochs: 30, Seed: 8}
	res, err := TrainFull(context.Background(), d, cfg, nil)
	if err != nil {
		t.Fatalf("TrainFull: %v", err)
	}
	pred, err := Predict(res.Weights, d.TestX)
	if err != nil {
		t.Fatalf("Predict: %v", err)
	}
	if got := mse(pred, d.TestY); got != res.TestLoss {
		t.Errorf("MSE of Predict on the test set = %v; TrainFull reported %v", got, res.TestLoss)
	}
	again, err := TrainFull(context.Background(), d, cfg, nil)
	if err != nil {
		t.Fatalf("second TrainFull: %v", err)
	}
	if string(again.Weights) != string(res.Weights) {
		t.Error("same config and seed gave different weights")
	}
}

func TestTrainFullFailures(t *testing.T) {
	d := mustLoad(t)

	res, err := TrainFull(context.Background(), d, Config{LR: 1, BatchSize: 1, Epochs: 100}, nil)
	if !errors.Is(err, ErrDiverged) || !math.IsInf(res.TestLoss, 1) || res.Weights != nil {
		t.Errorf("diverging TrainFull = test loss %v, %d weight bytes, %v; want +Inf, none, ErrDiverged", res.TestLoss, len(res.Weights), err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	var reports int
	_, err = TrainFull(ctx, d, Config{LR: 0.001, BatchSize: 1, Epochs: 300}, func(m models.EpochMetrics) {
		if reports++; reports == 3 {
			cancel()
		}
	})
	if !errors.Is(err, context.Canceled) || reports != 3 {
		t.Errorf("TrainFull cancelled at the 3rd report: %v after %d reports; want context.Canceled after 3", err, reports)
	}

	for _, bad := range []*Data{nil, {TrainX: d.TrainX, TrainY: d.TrainY}} {
		if _, err := TrainFull(context.Background(), bad, Config{}, nil); !errors.Is(err, ErrInvalidData) {
			t.Errorf("TrainFull on %v: %v; want ErrInvalidData", bad, err)
		}
	}
	if _, err := TrainFull(context.Background(), d, Config{Epochs: -1}, nil); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("TrainFull with epochs -1: %v; want ErrInvalidConfig", err)
	}
}

func mse(pred, y []float64) float64 {
	var s float64
	for i := range y {
		s += (pred[i] - y[i]) * (pred[i] - y[i])
	}
	return s / float64(len(y))
}

// grid returns n evenly spaced points on [lo, hi] and f at each.
func grid(n int, lo, hi float64, f func(float64) float64) (x, y []float64) {
	for i := range n {
		v := lo + (hi-lo)*float64(i)/float64(n-1)
		x = append(x, v)
		y = append(y, f(v))
	}
	return x, y
}

// TestFitKnownFunction trains on noiseless samples of known functions and
// checks the test error, on points between the training points, against the
// error of predicting the mean.
func TestFitKnownFunction(t *testing.T) {
	tests := []struct {
		name     string
		f        func(float64) float64
		lo, hi   float64
		maxRatio float64 // test MSE / variance of the test y
	}{
		{name: "line", f: func(x float64) float64 { return 0.5*x - 1 }, lo: -3, hi: 3, maxRatio: 0.01},
		{name: "sine", f: math.Sin, lo: -3, hi: 3, maxRatio: 0.05},
		{name: "step-like", f: func(x float64) float64 { return math.Tanh(3 * x) }, lo: -2, hi: 2, maxRatio: 0.05},
		{name: "paper function", f: func(x float64) float64 { return math.Sin(x) + 0.3*x }, lo: -6, hi: 6, maxRatio: 0.1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var d Data
			d.TrainX, d.TrainY = grid(100, tt.lo, tt.hi, tt.f)
			step := (tt.hi - tt.lo) / 99
			d.TestX, d.TestY = grid(99, tt.lo+step/2, tt.hi-step/2, tt.f) // midpoints
			res, err := TrainFull(context.Background(), &d, Config{LR: 0.01, BatchSize: 1, Epochs: 200, Seed: 1}, nil)
			if err != nil {
				t.Fatalf("TrainFull: %v", err)
			}
			v := variance(d.TestY)
			t.Logf("test MSE %.5f, variance %.5f, ratio %.4f", res.TestLoss, v, res.TestLoss/v)
			if res.TestLoss > tt.maxRatio*v {
				t.Errorf("test MSE %v above %v × variance %v", res.TestLoss, tt.maxRatio, v)
			}
		})
	}
}

// TestGapGeneralisation trains a good config on the embedded data and logs
// the test MSE inside the training gaps and outside them: the paper's
// question. It asserts only that the fit outside the gaps is good.
//
//	go test -run GapGeneralisation -v ./models/regression/
func TestGapGeneralisation(t *testing.T) {
	d := mustLoad(t)
	for _, cfg := range []Config{
		{LR: 0.01, BatchSize: 1, Epochs: 300, Seed: 1},
		{LR: 0.01, BatchSize: 4, Epochs: 300, Seed: 1},
		{LR: DefaultLR, BatchSize: DefaultBatchSize, Epochs: DefaultEpochs, Seed: 1},
	} {
		start := time.Now()
		res, err := TrainFull(context.Background(), d, cfg, nil)
		if err != nil {
			t.Fatalf("TrainFull(%+v): %v", cfg, err)
		}
		pred, err := Predict(res.Weights, d.TestX)
		if err != nil {
			t.Fatalf("Predict: %v", err)
		}
		var in, out []int
		for i, x := range d.TestX {
			inGap := false
			for _, g := range Gaps() {
				inGap = inGap || g.Contains(x)
			}
			if inGap {
				in = append(in, i)
			} else {
				out = append(out, i)
			}
		}
		sub := func(idx []int) float64 {
			var s float64
			for _, i := range idx {
				s += (pred[i] - d.TestY[i]) * (pred[i] - d.TestY[i])
			}
			return s / float64(len(idx))
		}
		gapMSE, outMSE := sub(in), sub(out)
		t.Logf("lr %v batch %d epochs %d: test MSE %.4f; in the gaps (%d points) %.4f, outside (%d points) %.4f; %v",
			cfg.LR, cfg.BatchSize, cfg.Epochs, res.TestLoss, len(in), gapMSE, len(out), outMSE, time.Since(start).Round(time.Millisecond))
		if outMSE > 0.2 {
			t.Errorf("%+v: test MSE outside the gaps %v above 0.2", cfg, outMSE)
		}
	}
}
