package main

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/gahpo/gahpo/models/cnn"
	"github.com/gahpo/gahpo/models/mnist"
)

// runBench trains one network at each of m.Batches in turn: m.Warmup
// untimed steps, then m.Rounds rounds of m.Steps timed steps, and writes a
// RESULT line per batch size with the median, minimum and maximum of the
// rounds' images/s and the last loss.
func (m *Main) runBench(ctx context.Context, env string, train *mnist.Set) error {
	for _, bs := range m.Batches {
		if bs > train.N {
			return fmt.Errorf("%w: batch size %d above the %d training images", ErrUsage, bs, train.N)
		}
	}
	s, err := cnn.NewStepper(cnn.Config{BatchSize: m.Batches[0], LR: m.LR, Seed: m.Seed}, train)
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	ord := newOrder(train.N, m.Seed)
	for _, bs := range m.Batches {
		var loss float64
		for i := range m.Warmup {
			if loss, err = s.Step(ctx, ord.next(bs)); err != nil {
				return fmt.Errorf("bench: batch %d: warm-up step %d: %w", bs, i+1, err)
			}
		}
		rates := make([]float64, m.Rounds)
		for r := range rates {
			start := time.Now()
			for i := range m.Steps {
				if loss, err = s.Step(ctx, ord.next(bs)); err != nil {
					return fmt.Errorf("bench: batch %d: round %d, step %d: %w", bs, r+1, i+1, err)
				}
			}
			rates[r] = float64(m.Steps*bs) / time.Since(start).Seconds()
		}
		fmt.Fprintf(m.Out, "RESULT %s batch=%d img_per_s=%.1f min=%.1f max=%.1f loss=%.3f\n",
			env, bs, median(rates), slices.Min(rates), slices.Max(rates), loss)
		m.Logger.Info("batch size measured", "batch", bs, "img_per_s", median(rates))
	}
	return nil
}

// median returns the median of xs, the mean of the middle two when their
// number is even, as Python's statistics.median; xs must not be empty.
func median(xs []float64) float64 {
	s := slices.Sorted(slices.Values(xs))
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}
