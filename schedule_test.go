package gahpo_test

import (
	"testing"

	"github.com/gahpo/gahpo"
)

// TestScheduleArg writes schedules as one line: names sorted, numbers in
// the fewest digits that read back, a choice parameter by its value.
func TestScheduleArg(t *testing.T) {
	for _, tc := range []struct {
		name  string
		steps []gahpo.ScheduleStep
		want  string
	}{
		{"none", nil, ""},
		{"the CNN's", []gahpo.ScheduleStep{
			{Epoch: 1, Params: map[string]float64{"lr": 1, "gamma": 0.7, "batch_size": 64, "weight_decay": 1e-7}},
			{Epoch: 4, Params: map[string]float64{"lr": 0.8, "gamma": 0.672, "batch_size": 92, "weight_decay": 1e-7}},
		}, "1:batch_size=64,gamma=0.7,lr=1,weight_decay=1e-07;4:batch_size=92,gamma=0.672,lr=0.8,weight_decay=1e-07"},
		{"a choice by its value", []gahpo.ScheduleStep{
			{Epoch: 1, Params: map[string]float64{"optimizer": 2, "lr": 0.1}, Choices: map[string]string{"optimizer": "adam"}},
			{Epoch: 3, Params: map[string]float64{"optimizer": 0, "lr": 0.12}, Choices: map[string]string{"optimizer": "sgd"}},
		}, "1:lr=0.1,optimizer=adam;3:lr=0.12,optimizer=sgd"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := gahpo.ScheduleArg(tc.steps); got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}
