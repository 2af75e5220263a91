package report

import (
	"fmt"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/gahpo/gahpo"
)

// TestEpochTable: the final training's table has the metrics its epochs
// reported, the CNN's first in their order, accuracies in percent, at most
// 15 rows; a training stored before curves shows its fixed metrics.
func TestEpochTable(t *testing.T) {
	rep := func(e int, m map[string]gahpo.Float) gahpo.EpochReport {
		return gahpo.EpochReport{Epoch: e, Duration: time.Second, Metrics: m}
	}
	var long []gahpo.EpochReport
	for e := 1; e <= 30; e++ {
		long = append(long, rep(e, map[string]gahpo.Float{"val_loss": gahpo.Float(1 / float64(e))}))
	}
	tests := []struct {
		name  string
		f     gahpo.FinalTraining
		cols  []string
		first []string
		rows  int
	}{
		{"the CNN", gahpo.FinalTraining{Curve: []gahpo.EpochReport{rep(1, map[string]gahpo.Float{
			"test_accuracy": 0.9917, "lr": 1, "train_loss": 0.2, "test_loss": 0.0268})}},
			[]string{"lr", "train_loss", "test_loss", "test_accuracy"}, []string{"1", "0.2", "0.0268", "99.17%"}, 1},
		{"a problem file's command", gahpo.FinalTraining{Curve: []gahpo.EpochReport{
			rep(1, map[string]gahpo.Float{"w": 0.7, "val_loss": 0.1}), rep(2, map[string]gahpo.Float{"w": 0.9, "val_loss": 0.05, "acc": 0.5})}},
			[]string{"val_loss", "acc", "w"}, []string{"0.1", "-", "0.7"}, 2},
		{"a NaN", gahpo.FinalTraining{Curve: []gahpo.EpochReport{rep(1, map[string]gahpo.Float{"val_loss": gahpo.Float(math.NaN())})}},
			[]string{"val_loss"}, []string{"-"}, 1},
		{"30 epochs", gahpo.FinalTraining{Curve: long}, []string{"val_loss"}, []string{"1"}, 15},
		{"stored before curves", gahpo.FinalTraining{Epochs: []gahpo.EpochMetrics{{Epoch: 1, LR: 1, TrainLoss: 0.2, TestLoss: 0.03, TestAccuracy: 0.99}}},
			[]string{"lr", "train_loss", "test_loss", "test_accuracy"}, []string{"1", "0.2", "0.03", "99.00%"}, 1},
	}
	for _, tt := range tests {
		got := newEpochTable(&tt.f)
		if !slices.Equal(got.Cols, tt.cols) || len(got.Rows) != tt.rows || !slices.Equal(got.Rows[0].Vals, tt.first) {
			t.Errorf("%s: columns %q, %d rows, first %q; want %q, %d, %q", tt.name, got.Cols, len(got.Rows), fmt.Sprint(got.Rows[0].Vals), tt.cols, tt.rows, tt.first)
		}
	}
	if got := newEpochTable(&gahpo.FinalTraining{Curve: long}); got.All != 30 || got.Rows[14].Epoch != 30 || got.Rows[1].Epoch != 3 {
		t.Errorf("30 epochs sampled: %d recorded, rows from %d to %d", got.All, got.Rows[0].Epoch, got.Rows[14].Epoch)
	}
}
