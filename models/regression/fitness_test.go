package regression

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"
	"time"
)

func mustLoad(t testing.TB) *Data {
	t.Helper()
	d, err := Load()
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return d
}

func variance(y []float64) float64 {
	var m float64
	for _, v := range y {
		m += v
	}
	m /= float64(len(y))
	var s float64
	for _, v := range y {
		s += (v - m) * (v - m)
	}
	return s / float64(len(y))
}

// withProcs runs f with GOMAXPROCS set to p.
func withProcs(p int, f func()) {
	old := runtime.GOMAXPROCS(p)
	defer runtime.GOMAXPROCS(old)
	f()
}

func TestFitnessCounts(t *testing.T) {
	d := mustLoad(t)
	tests := []struct {
		cfg        Config
		wantImages int
	}{
		{cfg: Config{Epochs: 5}, wantImages: 10 * 180 * 5},
		{cfg: Config{Epochs: 3, Folds: 4, BatchSize: 1000}, wantImages: 4 * 150 * 3},
		{cfg: Config{Epochs: 2, Folds: 3, BatchSize: 7}, wantImages: 200 * 2 * 2}, // folds of 67, 67, 66
	}
	for _, tt := range tests {
		ev, err := Fitness(context.Background(), d, tt.cfg)
		if err != nil {
			t.Fatalf("Fitness(%+v): %v", tt.cfg, err)
		}
		if ev.Images != tt.wantImages {
			t.Errorf("Fitness(%+v).Images = %d; want %d", tt.cfg, ev.Images, tt.wantImages)
		}
		if ev.Duration <= 0 || ev.ImagesPerSec <= 0 || ev.Diverged != "" || !(ev.Loss > 0) || math.IsInf(ev.Loss, 0) {
			t.Errorf("Fitness(%+v) = %+v; want a positive finite loss, duration and rate", tt.cfg, ev)
		}
	}
}

// TestFitnessDeterministic checks that the seed fixes the result, whatever
// the number of goroutines running the folds.
func TestFitnessDeterministic(t *testing.T) {
	d := mustLoad(t)
	tests := []struct {
		name string
		cfg  Config
	}{
		{name: "converging", cfg: Config{LR: 0.01, BatchSize: 4, Epochs: 20, Seed: 11}},
		{name: "diverging", cfg: Config{LR: 0.1, BatchSize: 8, Epochs: 40, Seed: 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var evs []struct {
				loss     float64
				diverged string
			}
			for _, procs := range []int{1, 2, 4} {
				withProcs(procs, func() {
					ev, err := Fitness(context.Background(), d, tt.cfg)
					if err != nil {
						t.Fatalf("Fitness with GOMAXPROCS %d: %v", procs, err)
					}
					evs = append(evs, struct {
						loss     float64
						diverged string
					}{ev.Loss, ev.Diverged})
				})
			}
			for i := 1; i < len(evs); i++ {
				if evs[i] != evs[0] {
					t.Errorf("results differ with the number of goroutines: %+v", evs)
				}
			}
			other := tt.cfg
			other.Seed++
			ev, err := Fitness(context.Background(), d, other)
			if err != nil {
				t.Fatalf("Fitness: %v", err)
			}
			if ev.Loss == evs[0].loss && ev.Diverged == "" {
				t.Errorf("seeds %d and %d gave the same loss %v", tt.cfg.Seed, other.Seed, ev.Loss)
			}
		})
	}
}

func TestFitnessDiverged(t *testing.T) {
	d := mustLoad(t)
	for _, cfg := range []Config{
		{LR: 1, BatchSize: 1, Epochs: 300},
		{LR: 0.3, BatchSize: 8, Epochs: 100, Seed: 2},
		{LR: 1e6, BatchSize: 64, Epochs: 10, Folds: 3},
	} {
		ev, err := Fitness(context.Background(), d, cfg)
		if err != nil {
			t.Fatalf("Fitness(%+v): %v", cfg, err)
		}
		if !math.IsInf(ev.Loss, 1) || !strings.Contains(ev.Diverged, "loss") {
			t.Errorf("Fitness(%+v) = loss %v, diverged %q; want +Inf and a reason", cfg, ev.Loss, ev.Diverged)
		}
		t.Logf("%+v: %s after %d examples in %v", cfg, ev.Diverged, ev.Images, ev.Duration)
	}
}

func TestFitnessCancel(t *testing.T) {
	d := mustLoad(t)
	worst := Config{LR: 0.001, BatchSize: 1, Epochs: 300}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Fitness(ctx, d, worst); !errors.Is(err, context.Canceled) {
		t.Errorf("Fitness on a cancelled context: %v; want context.Canceled", err)
	}

	ctx, cancel = context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	start := time.Now()
	ev, err := Fitness(ctx, d, worst)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Fitness past its deadline: %v; want context.DeadlineExceeded", err)
	}
	full := 10 * 180 * worst.Epochs
	if ev.Images <= 0 || ev.Images >= full {
		t.Errorf("cancelled Fitness processed %d examples; want some, fewer than %d", ev.Images, full)
	}
	t.Logf("cancelled after %v, %d of %d examples", time.Since(start), ev.Images, full)
}

func TestFitnessInvalid(t *testing.T) {
	d := mustLoad(t)
	tests := []struct {
		name    string
		d       *Data
		cfg     Config
		wantErr error
	}{
		{name: "nil data", d: nil, wantErr: ErrInvalidData},
		{name: "length mismatch", d: &Data{TrainX: []float64{1, 2}, TrainY: []float64{1}}, wantErr: ErrInvalidData},
		{name: "fewer rows than folds", d: &Data{TrainX: d.TrainX[:9], TrainY: d.TrainY[:9]}, wantErr: ErrInvalidData},
		{name: "bad config", d: d, cfg: Config{LR: -1}, wantErr: ErrInvalidConfig},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Fitness(context.Background(), tt.d, tt.cfg); !errors.Is(err, tt.wantErr) {
				t.Errorf("Fitness = %v; want %v", err, tt.wantErr)
			}
		})
	}
	// As many rows as folds is enough: each validation fold holds one row.
	small := &Data{TrainX: d.TrainX[:10], TrainY: d.TrainY[:10]}
	if _, err := Fitness(context.Background(), small, Config{Epochs: 2}); err != nil {
		t.Errorf("Fitness on 10 rows, 10 folds: %v", err)
	}
}

// TestFitnessLearns checks that cross-validation scores a learnable data set
// far better than the same x with shuffled y, and better than predicting the
// mean.
func TestFitnessLearns(t *testing.T) {
	d := mustLoad(t)
	cfg := Config{LR: 0.01, BatchSize: 1, Epochs: 50, Seed: 1}
	ev, err := Fitness(context.Background(), d, cfg)
	if err != nil {
		t.Fatalf("Fitness: %v", err)
	}
	shuffled := &Data{TrainX: d.TrainX, TrainY: append([]float64(nil), d.TrainY...)}
	rng := rand.New(rand.NewPCG(1, 2))
	rng.Shuffle(len(shuffled.TrainY), func(i, j int) {
		shuffled.TrainY[i], shuffled.TrainY[j] = shuffled.TrainY[j], shuffled.TrainY[i]
	})
	noise, err := Fitness(context.Background(), shuffled, cfg)
	if err != nil {
		t.Fatalf("Fitness on shuffled y: %v", err)
	}
	v := variance(d.TrainY)
	t.Logf("CV MSE %.4f, with shuffled y %.4f, variance of y %.4f", ev.Loss, noise.Loss, v)
	if ev.Loss > 0.2*v {
		t.Errorf("CV MSE %v above a fifth of the variance of y %v", ev.Loss, v)
	}
	if ev.Loss > 0.2*noise.Loss {
		t.Errorf("CV MSE %v not below a fifth of the MSE with shuffled y %v", ev.Loss, noise.Loss)
	}
}

// TestBlewUp: a loss that is not a number, infinite or beyond any fit of
// the data (whose targets lie in [-2, 2]) ends a training as diverged.
func TestBlewUp(t *testing.T) {
	for _, tt := range []struct {
		loss float64
		want bool
	}{
		{0.05, false}, {4, false}, {1e12, false}, {2.9e283, true}, {1.01e12, true},
		{math.NaN(), true}, {math.Inf(1), true}, {math.Inf(-1), true},
	} {
		if got := blewUp(tt.loss); got != tt.want {
			t.Errorf("blewUp(%v) = %v, want %v", tt.loss, got, tt.want)
		}
	}
}
