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
		var ceil *ceiling
		if !m.NoCeiling {
			ceil = newCeiling(bs)
			if _, err := ceil.steps(ctx, 1); err != nil { // warm-up
				return fmt.Errorf("bench: batch %d: %w", bs, err)
			}
		}
		rates := make([]float64, m.Rounds)
		var gflops, ceils, fractions []float64
		var cpu, wall time.Duration
		cpuOK := true
		for r := range rates {
			c0, ok := cpuTime()
			cpuOK = cpuOK && ok
			start := time.Now()
			for i := range m.Steps {
				if loss, err = s.Step(ctx, ord.next(bs)); err != nil {
					return fmt.Errorf("bench: batch %d: round %d, step %d: %w", bs, r+1, i+1, err)
				}
			}
			w := time.Since(start)
			c1, _ := cpuTime()
			cpu, wall = cpu+c1-c0, wall+w
			rates[r] = float64(m.Steps*bs) / w.Seconds()
			if ceil == nil {
				continue
			}
			// The ceiling right after each round, so that both see the
			// same load: their ratio is the figure that holds on a busy
			// machine.
			c, err := ceil.steps(ctx, m.Steps)
			if err != nil {
				return fmt.Errorf("bench: batch %d: %w", bs, err)
			}
			g := rates[r] * stepFlops(bs) / float64(bs) / 1e9
			gflops, ceils, fractions = append(gflops, g), append(ceils, c), append(fractions, g/c)
		}
		line := fmt.Sprintf("RESULT %s batch=%d img_per_s=%.1f min=%.1f max=%.1f loss=%.3f",
			env, bs, median(rates), slices.Min(rates), slices.Max(rates), loss)
		if cpuOK {
			// The share of the cores the training kept busy (200 for two
			// cores all the time), and its CPU time per image: on a busy
			// machine the CPU time moves less than the wall time.
			line += fmt.Sprintf(" cpu_pct=%.0f cpu_us_per_img=%.0f", 100*cpu.Seconds()/wall.Seconds(),
				cpu.Seconds()*1e6/float64(m.Rounds*m.Steps*bs))
		}
		if ceil != nil {
			line += fmt.Sprintf(" gflops=%.1f ceiling_gflops=%.1f ceiling_fraction=%.3f",
				median(gflops), median(ceils), median(fractions))
		}
		if m.EvalImages > 0 {
			ev, err := m.evalSpeed(ctx, s, train)
			if err != nil {
				return fmt.Errorf("bench: batch %d: %w", bs, err)
			}
			line += fmt.Sprintf(" eval_img_per_s=%.1f eval_over_train=%.2f", ev, ev/median(rates))
		}
		fmt.Fprintln(m.Out, line)
		m.Logger.Info("batch size measured", "batch", bs, "img_per_s", median(rates))
	}
	return nil
}

// evalSpeed times the evaluation (no dropout, no gradients) of the
// current weights on the first m.EvalImages training images, once to
// compile and warm up, then m.Rounds times, and returns the median
// images/s.
func (m *Main) evalSpeed(ctx context.Context, s *cnn.Stepper, train *mnist.Set) (float64, error) {
	set := train.Slice(0, min(m.EvalImages, train.N))
	if _, _, err := s.Evaluate(ctx, set); err != nil {
		return 0, fmt.Errorf("evaluate: %w", err)
	}
	rates := make([]float64, m.Rounds)
	for r := range rates {
		start := time.Now()
		if _, _, err := s.Evaluate(ctx, set); err != nil {
			return 0, fmt.Errorf("evaluate: %w", err)
		}
		rates[r] = float64(set.N) / time.Since(start).Seconds()
	}
	return median(rates), nil
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
