package main

import (
	"context"
	"fmt"
	"time"

	"github.com/gahpo/gahpo/models/cnn"
	"github.com/gahpo/gahpo/models/mnist"
)

// runEpoch trains m.Images/m.Batch steps of m.Batch images, timed as a
// whole, then measures the test accuracy (untimed), and writes an EPOCH
// line.
func (m *Main) runEpoch(ctx context.Context, env string, train, test *mnist.Set) error {
	if m.Batch > train.N {
		return fmt.Errorf("%w: batch size %d above the %d training images", ErrUsage, m.Batch, train.N)
	}
	s, err := cnn.NewStepper(cnn.Config{BatchSize: m.Batch, LR: m.LR, Seed: m.Seed}, train)
	if err != nil {
		return fmt.Errorf("epoch: %w", err)
	}
	ord := newOrder(train.N, m.Seed)
	steps := m.Images / m.Batch
	var loss float64
	start := time.Now()
	for i := range steps {
		if loss, err = s.Step(ctx, ord.next(m.Batch)); err != nil {
			return fmt.Errorf("epoch: step %d of %d: %w", i+1, steps, err)
		}
		if (i+1)%100 == 0 {
			m.Logger.Info("training", "step", i+1, "of", steps, "loss", loss, "elapsed", time.Since(start).Round(time.Millisecond))
		}
	}
	trainS := time.Since(start).Seconds()
	testLoss, acc, err := s.Evaluate(ctx, test)
	if err != nil {
		return fmt.Errorf("epoch: test set: %w", err)
	}
	images := steps * m.Batch
	fmt.Fprintf(m.Out, "EPOCH %s batch=%d images=%d train_s=%.1f img_per_s=%.1f last_loss=%.3f test_loss=%.4f test_acc=%.2f\n",
		env, m.Batch, images, trainS, float64(images)/trainS, loss, testLoss, 100*acc)
	return nil
}
