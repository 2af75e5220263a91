package report

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/gahpo/gahpo"
	"github.com/gahpo/gahpo/search"
)

// Shape describes the size of a run's search as a user set it: its
// population and generations, or, for a population based training, which
// breeds no generations, its population and the epochs it trains to in
// steps (its rungs).
func Shape(rc gahpo.RunConfig) string {
	if rc.PBT() {
		rungs := rc.RungEpochs()
		step := rungs[0]
		return fmt.Sprintf("population %d, %d rungs to %d epochs, judged every %d %s", rc.GA.Population, len(rungs), rungs[len(rungs)-1], step, plural(step, "epoch"))
	}
	return fmt.Sprintf("population %d, %d %s", rc.GA.Population, rc.GA.Generations, plural(rc.GA.Generations, "generation"))
}

// Method describes how a run trains and breeds its genomes: the fidelity
// with its rungs, the breeding, and a confirmation on more seeds.
func Method(rc gahpo.RunConfig) string {
	var parts []string
	rungs := rc.RungEpochs()
	switch {
	case rc.Halving():
		parts = append(parts, fmt.Sprintf("successive halving over rungs of %s epochs (eta %d)", joinInts(rungs), rc.Eta))
	case rc.PBT():
		parts = append(parts, fmt.Sprintf("population based training to %d epochs, exploit and explore every %d", rungs[len(rungs)-1], rungs[0]))
	case rc.FitnessEpochs > 1:
		parts = append(parts, fmt.Sprintf("fitness after %d epochs", rc.FitnessEpochs))
	default:
		parts = append(parts, "one-epoch fitness")
	}
	switch {
	case rc.PBT():
	case rc.Breeding == gahpo.BreedingRandom:
		parts = append(parts, "random search")
	case rc.SteadyState():
		parts = append(parts, "steady-state breeding")
	default:
		parts = append(parts, "generational breeding")
	}
	if rc.ConfirmSeeds > 1 {
		parts = append(parts, fmt.Sprintf("the best %d confirmed on %d seeds each", rc.ConfirmTop, rc.ConfirmSeeds))
	}
	if rc.BudgetGene != "" {
		parts = append(parts, "the rungs decide "+rc.BudgetGene)
	}
	return strings.Join(parts, "; ")
}

func joinInts(v []int) string {
	s := make([]string, len(v))
	for i, n := range v {
		s[i] = fmt.Sprint(n)
	}
	return strings.Join(s, ", ")
}

// ShapeShort is Shape in a table's cell: population × generations, or a
// population based training's population and the epochs it trains to
// ("8 to 14 ep").
func ShapeShort(rc gahpo.RunConfig) string {
	if rc.PBT() {
		rungs := rc.RungEpochs()
		return fmt.Sprintf("%d to %d ep", rc.GA.Population, rungs[len(rungs)-1])
	}
	return fmt.Sprintf("%d×%d", rc.GA.Population, rc.GA.Generations)
}

// StopText says why a run stopped breeding (gahpo.Run.StoppedBy), with the
// run's budget when rc has it; "" when it has not stopped (or the run was
// stored before this was recorded).
func StopText(why string, rc gahpo.RunConfig) string {
	switch why {
	case gahpo.StopGenerations:
		if rc.GA.Generations > 0 {
			return fmt.Sprintf("every generation was bred (%d)", rc.GA.Generations)
		}
		return "every generation was bred"
	case gahpo.StopBudgetEpochs:
		if rc.BudgetEpochs > 0 {
			return fmt.Sprintf("the epoch budget was spent (--budget-epochs %d)", rc.BudgetEpochs)
		}
		return "the epoch budget was spent (--budget-epochs)"
	case gahpo.StopTimeBudget:
		if rc.TimeBudget > 0 {
			return fmt.Sprintf("the time budget ran out (--time-budget %s)", rc.TimeBudget)
		}
		return "the time budget ran out (--time-budget)"
	case gahpo.StopFailures:
		switch n, whileNone := rc.FailureStop(); {
		case !whileNone:
			return fmt.Sprintf("%d genomes failed (--max-failures %d)", n, n)
		case n > 0 && rc.MultiFidelity():
			// Either of the default's rules: the run's error says which.
			return fmt.Sprintf("its first %d genomes trained, or %d trainings resumed from a checkpoint, all failed, none succeeded (--max-failures, by default the population)", n, n)
		case n > 0:
			return fmt.Sprintf("its first %d genomes trained all failed, none succeeded (--max-failures, by default the population)", n)
		}
		return "genomes failed (--max-failures)"
	case gahpo.StopMaxEpochs:
		if rc.MaxEpochs > 0 {
			return fmt.Sprintf("the population trained to --max-epochs %d", rc.MaxEpochs)
		}
		return "the population trained to --max-epochs"
	case "":
		return ""
	}
	return why
}

// SpentText says what a run spent: its epoch-trainings (gahpo.Run.EpochsSpent)
// against its --budget-epochs, and the part of them that confirmed the
// best genomes on more seeds; "" when nothing is recorded. A run stored
// before it recorded them, or still running, is counted from its genomes.
func SpentText(run gahpo.Run, genomes []gahpo.GenomeRecord) string {
	spent := run.EpochsSpent
	if spent == 0 {
		spent = search.EpochsSpent(run.Config.RungEpochs(), genomes)
	}
	if spent == 0 {
		return ""
	}
	s := fmt.Sprintf("%d epoch-trainings", spent)
	if b := run.Config.BudgetEpochs; b > 0 {
		s += fmt.Sprintf(" (budget %d)", b)
	}
	reps := 0
	for _, g := range genomes {
		reps += len(g.Replicates)
	}
	if rungs := run.Config.RungEpochs(); reps > 0 {
		s += fmt.Sprintf(", of which %d in %d confirmation trainings", reps*rungs[len(rungs)-1], reps)
	}
	return s
}

// ConfirmShortfall says when a run confirmed fewer genomes than
// --confirm-top asked, and why; "" when it confirmed as many, or confirms
// nothing (yet).
func ConfirmShortfall(rc gahpo.RunConfig, genomes []gahpo.GenomeRecord) string {
	if rc.ConfirmSeeds < 2 {
		return ""
	}
	confirmed, reached := search.ConfirmCounts(rc, genomes)
	if confirmed == 0 || confirmed >= rc.ConfirmTop {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "confirmed %d %s of the %d asked (--confirm-top %d): ", confirmed, plural(confirmed, "genome"), rc.ConfirmTop, rc.ConfirmTop)
	if reached <= confirmed {
		fmt.Fprintf(&b, "only %d reached the top rung", reached)
	} else {
		fmt.Fprintf(&b, "%d reached the top rung, the others' schedules are too long to send", reached)
	}
	if confirmed == 1 {
		b.WriteString(", so none was compared: the result is the one genome, its mean over more seeds")
	}
	return b.String()
}

// GenomeStatus is the state a view shows of genome g: its stored status,
// but "stopped" for a population based training's genome that lost its
// place to a copy of a better one (GenomeRecord.Stopped): it is done at
// its rung and never trains again. (Halving has no such state: a genome
// not promoted stays done at its rung, and may still be promoted.) A
// failed genome stays failed.
func GenomeStatus(g gahpo.GenomeRecord) string {
	if g.Stopped != "" && g.Status == gahpo.GenomeDone {
		return "stopped"
	}
	return string(g.Status)
}

// FinalWorkers names the workers that trained a final training: every
// one that trained a rung of it (halving, population based training),
// else its one worker.
func FinalWorkers(f gahpo.FinalTraining) string {
	switch n := len(f.Workers); {
	case n == 0:
		return f.Worker
	case n == 1:
		return f.Workers[0]
	default:
		return strings.Join(f.Workers[:n-1], ", ") + " and " + f.Workers[n-1]
	}
}

// FinalDuration says how long a final training took, its duration written
// by format: after a population based training, in all, the genomes its
// schedule went on from included.
func FinalDuration(f gahpo.FinalTraining, format func(time.Duration) string) string {
	if len(f.Schedule) > 1 && len(f.Workers) > 0 {
		return fmt.Sprintf("%s in all (its %d epochs, those the genomes of its schedule trained before it included)", format(f.Duration), len(f.Epochs))
	}
	return format(f.Duration)
}

func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}

// FailureGroup is one cause of a run's failed genomes (search's).
type FailureGroup = search.FailureGroup

// FailureGroups groups the failed genomes of a run by cause, as
// FailureText does (search.FailureGroups).
func FailureGroups(genomes []gahpo.GenomeRecord) (groups []FailureGroup, trained int) {
	return search.FailureGroups(genomes)
}

// FailureText says how many of a run's trained genomes failed and the
// reason most of them gave (its last line: a training command's standard
// error ends with the cause), with a genome to look at; "" when none
// failed; and that run has no result when it chose none. A run whose every genome failed the same way most often has a
// set-up fault (a module not installed, a data file missing), not bad
// genomes.
func FailureText(run gahpo.Run, genomes []gahpo.GenomeRecord) string {
	groups, trained := FailureGroups(genomes)
	if len(groups) == 0 {
		return ""
	}
	top := groups[0]
	which := "most often"
	if len(groups) == 1 {
		which = "the reason"
	}
	return failureHeadline(run, groups, trained) + fmt.Sprintf("; %s (%d): %s (gahpo query genome %d shows it whole)", which, top.Count, top.Reason, top.First)
}

// CheckpointText says how many of a run's genomes left their trainer's
// checkpoint directory empty at a rung they could be promoted from (their
// log's gahpo.NoCheckpointNote), so that their later rungs trained again
// from the first epoch, paying those epochs twice; "" when none did.
func CheckpointText(genomes []gahpo.GenomeRecord) string {
	n, first := 0, 0
	for _, g := range genomes {
		if slices.ContainsFunc(g.Log, func(l string) bool { return strings.HasPrefix(l, gahpo.NoCheckpointNote) }) {
			n++
			if first == 0 {
				first = g.ID
			}
		}
	}
	if n == 0 {
		return ""
	}
	return fmt.Sprintf("checkpoints: the trainer left GAHPO_CHECKPOINT_DIR empty for %d %s that could be promoted, so a promoted one "+
		"trains from its first epoch again at each rung, paying those epochs twice (a trainer keeps its state there and goes on from it, "+
		"as examples/toy/train.py does; gahpo query genome %d shows one)", n, plural(n, "genome"), first)
}

// failureHeadline says how many of the trained genomes failed, and that
// the run has no result when it has none for that.
func failureHeadline(run gahpo.Run, groups []FailureGroup, trained int) string {
	failed := 0
	for _, g := range groups {
		failed += g.Count
	}
	s := fmt.Sprintf("failed: %d of %d trained %s", failed, trained, plural(trained, "genome"))
	switch {
	case failed == 1 && trained == 1:
		s = "failed: the one genome trained, so the run has no result"
	case failed == trained:
		s = fmt.Sprintf("failed: every one of the %d genomes trained, so the run has no result", trained)
	case run.Status == gahpo.RunDone && run.Best == 0 && run.Config.MultiFidelity() && len(run.Config.RungEpochs()) > 0:
		// The others stopped below the last rung (halving, pbt).
		rungs := run.Config.RungEpochs()
		s += fmt.Sprintf(", and none completed the last rung (%d epochs), so the run has no result", rungs[len(rungs)-1])
	}
	return s
}

// ObjectiveText says what a problem file's fitness is: its metric, or the
// metric negated when its goal is the highest (the search minimises), which
// the tables and figures show in its own sign; "" for a built-in problem.
func ObjectiveText(rc gahpo.RunConfig) string {
	switch {
	case rc.Objective == "":
		return ""
	case rc.Maximize:
		return rc.Objective + ", maximised: tables and figures show its value; a fitness (JSON's fitness) is its value negated (−0.93 is " + rc.Objective + " 0.93)"
	}
	return rc.Objective + ", minimised: a fitness is its value"
}

// ShellQuote writes s as one word of a POSIX shell command: as it is when
// it holds only characters no shell reads specially, in single quotes
// otherwise (a single quote in s closes them, is written escaped with a
// backslash, and opens them again).
func ShellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("_-+=.,/:@%", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
