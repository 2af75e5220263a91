package regression

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkTrain measures Train at the default config (10 folds, 100
// epochs, batch 8) against BenchmarkFitness/default: it also trains the
// whole-set network and measures the CV MSE after every epoch; "checkpoint"
// also writes the state file, "resume" trains the last epoch from one.
//
//	go test -run '^$' -bench 'Train|Fitness/default' -benchtime 20x ./models/regression/
func BenchmarkTrain(b *testing.B) {
	d := mustLoad(b)
	ctx := context.Background()
	b.Run("epochs=100", func(b *testing.B) {
		for b.Loop() {
			if _, err := Train(ctx, d, Config{}, Run{To: DefaultEpochs}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("epochs=100/checkpoint", func(b *testing.B) {
		for b.Loop() {
			if _, err := Train(ctx, d, Config{}, Run{Dir: b.TempDir(), To: DefaultEpochs}); err != nil {
				b.Fatal(err)
			}
		}
	})
	dir := b.TempDir()
	if _, err := Train(ctx, d, Config{}, Run{Dir: dir, To: DefaultEpochs - 1}); err != nil {
		b.Fatal(err)
	}
	state, err := os.ReadFile(filepath.Join(dir, StateFile))
	if err != nil {
		b.Fatal(err)
	}
	b.Run("resume/last-epoch", func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			if err := os.WriteFile(filepath.Join(dir, StateFile), state, 0o600); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			if _, err := Train(ctx, d, Config{}, Run{Dir: dir, To: DefaultEpochs}); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(state)), "state_bytes")
	})
}
