package main

import (
	"context"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"

	"github.com/gahpo/gahpo/models"
	"github.com/gahpo/gahpo/models/cnn"
	"github.com/gahpo/gahpo/models/mnist"
)

// Step is one step of a schedule: the hyperparameters from epoch Epoch
// (1-based) on.
type Step struct {
	Epoch int
	cnn.Config
}

// ParseSchedule reads 'EPOCH:batch_size=B,lr=L,gamma=G,weight_decay=W;...':
// steps in increasing epochs, the first at epoch 1, each naming the four
// hyperparameters once, and shift=S if the genome moves its images.
func ParseSchedule(s string) ([]Step, error) {
	var steps []Step
	for _, part := range strings.Split(s, ";") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		at, genome, ok := strings.Cut(part, ":")
		if !ok {
			return nil, fmt.Errorf("-schedule: %q is not EPOCH:name=value", part)
		}
		e, err := strconv.Atoi(strings.TrimSpace(at))
		if err != nil || e < 1 {
			return nil, fmt.Errorf("-schedule: %q: %q is not an epoch", part, at)
		}
		if n := len(steps); (n == 0 && e != 1) || (n > 0 && e <= steps[n-1].Epoch) {
			return nil, fmt.Errorf("-schedule: step at epoch %d: steps start at epoch 1 and go up", e)
		}
		st := Step{Epoch: e}
		seen := map[string]bool{}
		for _, kv := range strings.Split(genome, ",") {
			name, val, ok := strings.Cut(strings.TrimSpace(kv), "=")
			v, err := strconv.ParseFloat(strings.TrimSpace(val), 64)
			if !ok || err != nil {
				return nil, fmt.Errorf("-schedule: %q is not name=number", kv)
			}
			if (name == "batch_size" || name == "shift") && (v != math.Trunc(v) || math.Abs(v) > 1<<20) {
				return nil, fmt.Errorf("-schedule: %s=%s at epoch %d: want a whole number", name, strings.TrimSpace(val), e)
			}
			switch name {
			case "batch_size":
				st.BatchSize = int(v)
			case "lr":
				st.LR = v
			case "gamma":
				st.Gamma = v
			case "weight_decay":
				st.WeightDecay = v
			case "shift":
				st.Shift = int(v)
			default:
				return nil, fmt.Errorf("-schedule: unknown hyperparameter %q (batch_size, lr, gamma, weight_decay, shift)", name)
			}
			if seen[name] {
				return nil, fmt.Errorf("-schedule: %s given twice at epoch %d", name, e)
			}
			seen[name] = true
		}
		n := len(seen)
		if seen["shift"] { // optional: the paper's genomes have none
			n--
		}
		if n != 4 {
			return nil, fmt.Errorf("-schedule: step at epoch %d names %d of the 4 hyperparameters", e, n)
		}
		steps = append(steps, st)
	}
	if len(steps) == 0 {
		return nil, fmt.Errorf("-schedule: no step")
	}
	return steps, nil
}

// runSchedule trains the schedule on the whole training set, measuring the
// test set after each epoch: each step goes on from the state the last
// left, as a population based training's genome goes on from the genome it
// exploited (the learning rate scaled by the new step's over the last's).
func (m *Main) runSchedule(ctx context.Context, train, test *mnist.Set) (models.FinalResult, error) {
	var res models.FinalResult
	dir, err := os.MkdirTemp("", "cnntrain-schedule-")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(dir)
	splits := mnist.Splits{Train: train, Test: test}
	var from *cnn.Config
	for i, st := range m.Schedule {
		cfg := st.Config
		cfg.Seed, cfg.Epochs, cfg.FitnessOnTest = m.Config.Seed, m.Config.Epochs, true
		to := m.Config.Epochs
		if i+1 < len(m.Schedule) {
			to = m.Schedule[i+1].Epoch - 1
		}
		m.Logger.Info("schedule step", "from epoch", st.Epoch, "to epoch", to, "config", fmt.Sprintf("%+v", cfg), "train", train.N, "test", test.N)
		out, err := cnn.Train(ctx, splits, cfg, cnn.Run{Dir: dir, To: to, From: from, OnEpoch: func(e cnn.Epoch) {
			em := models.EpochMetrics{Epoch: e.Epoch, LR: e.LR, TrainLoss: e.TrainLoss, TestLoss: e.ValLoss,
				TestAccuracy: e.ValAccuracy, Duration: e.Duration}
			m.printEpoch(em)
			res.Epochs = append(res.Epochs, em)
			res.TestLoss, res.TestAccuracy = e.ValLoss, e.ValAccuracy
			res.Duration += e.Duration
		}})
		if err != nil {
			return res, err
		}
		if out.Diverged != "" {
			return res, fmt.Errorf("diverged: %s", out.Diverged)
		}
		res.Weights = out.Weights
		from = &cfg
	}
	return res, nil
}
