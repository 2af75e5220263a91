package main

import (
	"testing"

	"github.com/gahpo/gahpo"
	"github.com/gahpo/gahpo/models/problems"
)

// TestCNNSchedule: a schedule is cnntrain's when its genes are those of
// its built-in CNN problem: the paper's four for cnn, with shift for
// cnn-shift; another problem's, or other genes, are not.
func TestCNNSchedule(t *testing.T) {
	t.Parallel()
	four := map[string]float64{"batch_size": 64, "lr": 1, "gamma": 0.7, "weight_decay": 0}
	five := map[string]float64{"batch_size": 64, "lr": 1, "gamma": 0.7, "weight_decay": 0, "shift": 2}
	for _, tc := range []struct {
		problem string
		params  map[string]float64
		want    bool
	}{
		{problems.CNN, four, true},
		{problems.CNN, five, false},
		{problems.CNNShift, five, true},
		{problems.CNNShift, four, false},
		{problems.Regression, four, false},
		{"pytorch-mnist", four, false},
	} {
		l := lineage{rc: gahpo.RunConfig{Problem: tc.problem}}
		steps := []gahpo.ScheduleStep{{Epoch: 1, Params: tc.params}}
		if got := l.cnnSchedule(steps); got != tc.want {
			t.Errorf("%s with %d genes: cnnSchedule %v, want %v", tc.problem, len(tc.params), got, tc.want)
		}
		if l.cnnSchedule(nil) {
			t.Errorf("%s: an empty schedule is cnntrain's", tc.problem)
		}
	}
}
