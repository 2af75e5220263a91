package main

import (
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/gahpo/gahpo"
	"github.com/gahpo/gahpo/coordinator"
	"github.com/gahpo/gahpo/models/mnist"
	"github.com/gahpo/gahpo/models/problems"
)

// lineage is what training a population based training's schedule again
// needs beyond the schedule: the run's configuration (set whenever the run
// was read) and the seed its first step trained with. A genome that exploits another goes on from
// that one's checkpoint, random sources included (the CNN's shuffling and
// dropout), and its own seed names only its tasks: the weights of every
// step come from the seed of the schedule's first genome, where the
// lineage began (as the worker's replay of a lost checkpoint trains it).
type lineage struct {
	rc   gahpo.RunConfig
	root int    // the schedule's first genome
	seed uint64 // its seed
}

// known tells whether the lineage was found.
func (l lineage) known() bool { return l.root != 0 }

// lineageOf finds the lineage of a schedule (none when it has one step or
// none, or the run or the first genome cannot be read).
func lineageOf(ctx context.Context, q querier, run string, steps []gahpo.ScheduleStep) lineage {
	if len(steps) < 2 {
		return lineage{}
	}
	r, err := queriedRun(ctx, q, run)
	if err != nil {
		return lineage{}
	}
	var g gahpo.GenomeRecord
	if err := q.query(ctx, coordinator.EndpointGenome, coordinator.QueryRequest{Run: r.ID, Genome: steps[0].Genome}, &g); err != nil {
		return lineage{rc: r.Config}
	}
	return lineage{rc: r.Config, root: g.ID, seed: g.Seed}
}

// lineageIn finds the lineage of a schedule among a run's records.
func lineageIn(rc gahpo.RunConfig, recs []gahpo.GenomeRecord, steps []gahpo.ScheduleStep) lineage {
	if len(steps) < 2 {
		return lineage{}
	}
	for _, g := range recs {
		if g.ID == steps[0].Genome {
			return lineage{rc: rc, root: g.ID, seed: g.Seed}
		}
	}
	return lineage{rc: rc}
}

// cnnSchedule tells whether a schedule is the built-in CNN's, which
// cnntrain -schedule trains: a problem file's with the same genes (the
// PyTorch example's) is trained by its own command, not cnntrain.
func (l lineage) cnnSchedule(steps []gahpo.ScheduleStep) bool {
	if !problems.IsCNN(l.rc.Problem) || len(steps) == 0 {
		return false
	}
	p, err := problems.Lookup(l.rc.Problem)
	if err != nil {
		return false
	}
	genes := p.Space().Names() // the paper's four, and shift on cnn-shift
	slices.Sort(genes)
	return slices.Equal(slices.Sorted(maps.Keys(steps[len(steps)-1].Params)), genes)
}

// command is the cnntrain command that trains the schedule again to
// epochs as the search did (its training images, the seed where the
// lineage began): on the same kind of machine, the same weights and
// figures, epoch by epoch (cnntrain's test loss is the search's
// test_loss). "" for a schedule that is not the CNN's.
func (l lineage) command(steps []gahpo.ScheduleStep, epochs int) string {
	if !l.known() || !l.cnnSchedule(steps) {
		return ""
	}
	n := 60000 - mnist.ValidationSize // the search trains on the first 54,000 (mnist.NewSplits)
	if s := l.rc.TrainSubset; s > 0 && s < n {
		n = s
	}
	return fmt.Sprintf("cnntrain -epochs %d -train-images %d -seed %d -schedule '%s'", epochs, n, l.seed, gahpo.ScheduleArg(steps))
}

// origin says where a schedule's weights began: the first genome's seed.
func (l lineage) origin() string {
	return fmt.Sprintf("genome %d's seed %d, where its weights began (each later step went on from the step before's checkpoint)", l.root, l.seed)
}
