package main

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"testing"

	"github.com/gahpo/gahpo/models/cnn"
	"github.com/gahpo/gahpo/models/mnist"
)

var mnistData = sync.OnceValues(func() ([2]*mnist.Set, error) {
	train, test, err := mnist.Load("")
	return [2]*mnist.Set{train, test}, err
})

func loadMNIST(t *testing.T) (train, test *mnist.Set) {
	t.Helper()
	d, err := mnistData()
	if err != nil {
		t.Fatalf("load MNIST: %v", err)
	}
	return d[0], d[1]
}

// TestStepperKeepsWeightsAcrossSizes checks that a Stepper trains one
// network whatever the batch size: after ten batches of 32, a batch of 64
// (a new graph) must start from the trained weights, so that the network
// beats one that took the same step from the initial weights.
func TestStepperKeepsWeightsAcrossSizes(t *testing.T) {
	if testing.Short() {
		t.Skip("trains at several batch sizes: -short")
	}
	train, test := loadMNIST(t)
	test = test.Slice(0, 500)
	ctx := context.Background()
	cfg := cnn.Config{BatchSize: 32, LR: 1, Seed: 1}
	s, err := cnn.NewStepper(cfg, train)
	if err != nil {
		t.Fatal(err)
	}
	ord := newOrder(train.N, 1)
	_, acc0, err := s.Evaluate(ctx, test)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		if _, err := s.Step(ctx, ord.next(32)); err != nil {
			t.Fatalf("step %d: %v", i+1, err)
		}
	}
	_, acc1, err := s.Evaluate(ctx, test)
	if err != nil {
		t.Fatal(err)
	}
	batch := ord.next(64)
	if _, err := s.Step(ctx, batch); err != nil {
		t.Fatalf("step of 64: %v", err)
	}
	_, acc2, err := s.Evaluate(ctx, test)
	if err != nil {
		t.Fatal(err)
	}
	fresh, err := cnn.NewStepper(cfg, train)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fresh.Step(ctx, batch); err != nil {
		t.Fatalf("fresh step of 64: %v", err)
	}
	_, accFresh, err := fresh.Evaluate(ctx, test)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("test accuracy: %.3f untrained, %.3f after 10×32, %.3f after one more step of 64; %.3f after that step alone",
		acc0, acc1, acc2, accFresh)
	if acc1 < acc0+0.2 {
		t.Errorf("accuracy %.3f after 10 steps of 32, from %.3f: want a gain of at least 0.2", acc1, acc0)
	}
	if acc2 < accFresh+0.15 {
		t.Errorf("accuracy %.3f after 10×32 then 64, %.3f after the step of 64 alone: the new size did not keep the weights",
			acc2, accFresh)
	}
}

// TestStepperDeterministic checks that the same seed and batches give the
// same losses, bit for bit.
func TestStepperDeterministic(t *testing.T) {
	train, _ := loadMNIST(t)
	ctx := context.Background()
	var losses [2][]float64
	for run := range losses {
		s, err := cnn.NewStepper(cnn.Config{BatchSize: 16, LR: 1, Seed: 7}, train)
		if err != nil {
			t.Fatal(err)
		}
		ord := newOrder(train.N, 7)
		for _, bs := range []int{16, 16, 8, 16} {
			l, err := s.Step(ctx, ord.next(bs))
			if err != nil {
				t.Fatal(err)
			}
			losses[run] = append(losses[run], l)
		}
	}
	for i := range losses[0] {
		if losses[0][i] != losses[1][i] {
			t.Errorf("step %d: loss %v then %v with the same seed", i+1, losses[0][i], losses[1][i])
		}
	}
}

func TestStepperErrors(t *testing.T) {
	train, _ := loadMNIST(t)
	small := train.Slice(0, 100)
	s, err := cnn.NewStepper(cnn.Config{BatchSize: 4, LR: 1, Seed: 1}, small)
	if err != nil {
		t.Fatal(err)
	}
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name    string
		ctx     context.Context
		indices []int
		wantErr error
	}{
		{"empty batch", context.Background(), nil, cnn.ErrConfig},
		{"index past the set", context.Background(), []int{0, 100}, nil},
		{"negative index", context.Background(), []int{-1}, nil},
		{"cancelled", cancelled, []int{0, 1, 2, 3}, context.Canceled},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.Step(tc.ctx, tc.indices)
			if err == nil {
				t.Fatalf("Step(%v) succeeded", tc.indices)
			}
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Errorf("Step(%v) = %v, want %v", tc.indices, err, tc.wantErr)
			}
		})
	}
	if _, err := cnn.NewStepper(cnn.Config{BatchSize: 4}, small); !errors.Is(err, cnn.ErrConfig) {
		t.Errorf("NewStepper with LR 0 = %v, want %v", err, cnn.ErrConfig)
	}
	if l, err := s.Step(context.Background(), []int{96, 97, 98, 99}); err != nil || !(l > 0) {
		t.Errorf("Step after the errors = %v, %v; want a positive loss", l, err)
	}
}

// heapMB returns the live heap after a full collection.
func heapMB() float64 {
	runtime.GC()
	runtime.GC() // a second cycle frees what finalizers released
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return float64(ms.HeapAlloc) / (1 << 20)
}

// TestStepperFreesOldGraphs checks that a Stepper lets go of the graph of
// a batch size it left: after a step of 128, a step of 10 must give back
// most of the larger graph's memory (a graph of gorgonia's is easily kept
// alive for good by a cycle through its finalizer).
func TestStepperFreesOldGraphs(t *testing.T) {
	train, _ := loadMNIST(t)
	ctx := context.Background()
	s, err := cnn.NewStepper(cnn.Config{BatchSize: 10, LR: 1, Seed: 1}, train)
	if err != nil {
		t.Fatal(err)
	}
	ord := newOrder(train.N, 1)
	var heap []float64
	for _, bs := range []int{10, 128, 10} {
		if _, err := s.Step(ctx, ord.next(bs)); err != nil {
			t.Fatalf("step of %d: %v", bs, err)
		}
		heap = append(heap, heapMB())
	}
	t.Logf("live heap after steps of 10, 128, 10: %.0f, %.0f, %.0f MB", heap[0], heap[1], heap[2])
	if grown, back := heap[1]-heap[0], heap[2]-heap[0]; back > grown/4 {
		t.Errorf("the graph of 128 took %.0f MB; %.0f MB still held after going back to 10, want at most a quarter", grown, back)
	}
}
