package search

import (
	"cmp"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/gahpo/gahpo"
	"github.com/gahpo/gahpo/internal/cause"
)

// Diverged tells whether a genome's failure is its own divergence: a NaN
// or infinite loss, an objective out of the problem's bounds (the
// worker's "diverged: ...", or the machine's "fitness NaN" for a
// non-finite fitness reported without a failure). Such a genome was
// trained and measured: it says the genome is bad, not that the training
// is broken, so it never counts towards a stop for failures
// (gahpo.RunConfig.FailureStop). Every other failure does: a command that
// exits in error or times out, a result refused, a genome whose every
// worker died.
func Diverged(failure string) bool {
	switch failure {
	case "fitness NaN", "fitness +Inf", "fitness -Inf": // checkFitness's
		return true
	}
	return strings.HasPrefix(failure, "diverged: ")
}

// counted tells whether record r counts towards a stop for failures:
// failed for a cause not its own divergence (a duplicate never trained).
func counted(r gahpo.GenomeRecord) bool {
	return r.DuplicateOf == 0 && r.Status == gahpo.GenomeFailed && !Diverged(r.Failure)
}

// worked tells whether record r shows that the genomes' training works: a
// result at some rung that is not a counted failure (a fitness, or a
// divergence).
func worked(r gahpo.GenomeRecord) bool {
	if r.DuplicateOf != 0 || len(r.RungFitness) == 0 {
		return false
	}
	return !counted(r) || len(r.RungFitness) > 1 // a failure above its first rung trained below it
}

// resumption tells how genome r's trainings that went on from a
// checkpoint went: its results above its first rung (a promotion under
// halving, a round of pbt; all of its own, for a genome that exploited
// another's checkpoint). failed: the last of them is a counted failure;
// ok: one of them is not (a fitness, or a divergence).
func resumption(r gahpo.GenomeRecord) (failed, ok bool) {
	if r.DuplicateOf != 0 {
		return false, false
	}
	n := len(r.RungFitness) - max(1, r.Inherited) // its results above its first rung
	if n <= 0 {
		return false, false
	}
	if counted(r) {
		return true, n > 1
	}
	return false, true
}

// resumeStop is how many trainings resumed from a checkpoint, all failed
// and none succeeded, stop a run by the default rule (0: never): the
// population, as for the first rung. A trainer that trains from scratch
// but fails every time it resumes passes the first rung, which the rule of
// gahpo.RunConfig.FailureStop reads; under halving, it would fail every
// promotion, then every genome the run's end promotes one by one in
// search of one that reaches the top rung. An explicit --max-failures
// counts such failures as any other.
func resumeStop(rc gahpo.RunConfig) int {
	if rc.MaxFailures != nil || !rc.MultiFidelity() {
		return 0
	}
	return rc.GA.Population
}

// failuresStop tells whether the machine's failures stop the run now, by
// the rule of gahpo.RunConfig.FailureStop, or, by default, by resumeStop's.
func (m *Machine) failuresStop() bool {
	n, whileNone := m.rc.FailureStop()
	if n > 0 && m.failures >= n && !(whileNone && m.worked) {
		return true
	}
	k := resumeStop(m.rc)
	return k > 0 && m.resumeFailures >= k && !m.resumeWorked
}

// countResult counts r's record after a result (failures, worked, and
// those of the trainings resumed from a checkpoint).
func (m *Machine) countResult(r gahpo.GenomeRecord) {
	if counted(r) {
		m.failures++
	}
	m.worked = m.worked || worked(r)
	failed, ok := resumption(r)
	if failed {
		m.resumeFailures++
	}
	m.resumeWorked = m.resumeWorked || ok
}

// noteFailures stops the run for failures when the rule holds, the first
// time it does: breeding, promotions and exploits stop; what is under way
// finishes (finish, tellEngine then end the run as failed).
func (m *Machine) noteFailures() {
	if m.run.StoppedBy == gahpo.StopFailures || m.run.Status != gahpo.RunRunning || !m.failuresStop() {
		return
	}
	m.run.StoppedBy = gahpo.StopFailures
	m.touchRun()
	if n := len(m.recs); n > 0 {
		m.gens[m.recs[n-1].Generation] = true // complete now: cut short
	}
}

// stoppedForFailures tells whether the run stopped for failures.
func (m *Machine) stoppedForFailures() bool { return m.run.StoppedBy == gahpo.StopFailures }

// failRun ends a run stopped for failures: no genome is chosen and none
// is trained again; the error says how many failed and why most did.
func (m *Machine) failRun(now time.Time) {
	m.run.Best = 0
	m.run.Status, m.run.Ended, m.run.Error = gahpo.RunFailed, now, FailuresError(m.run.Config, m.recs)
	m.touchRun()
}

// FailuresError is the error of a run stopped for failures: how many of
// its genomes failed (by the rule of gahpo.RunConfig.FailureStop), and the
// commonest cause among them with its first genome, as
// gahpo query genome shows it whole.
func FailuresError(rc gahpo.RunConfig, recs []gahpo.GenomeRecord) string {
	var failed []gahpo.GenomeRecord
	for _, r := range recs {
		if counted(r) {
			failed = append(failed, r)
		}
	}
	_, trained := FailureGroups(recs)
	n, whileNone := rc.FailureStop()
	var resumed []gahpo.GenomeRecord // failed on going on from a checkpoint
	resumedOK := false
	for _, r := range recs {
		f, ok := resumption(r)
		if f {
			resumed = append(resumed, r)
		}
		resumedOK = resumedOK || ok
	}
	firstRule := n > 0 && len(failed) >= n && !slices.ContainsFunc(recs, worked)
	var s string
	switch {
	case whileNone && !firstRule && resumeStop(rc) > 0 && len(resumed) >= resumeStop(rc) && !resumedOK:
		s = fmt.Sprintf("stopped for failures (--max-failures): its first %d trainings resumed from a checkpoint all failed, none succeeded", len(resumed))
		failed = resumed // the cause is theirs
	case whileNone && len(failed) == 1:
		s = "stopped for failures (--max-failures): the one genome trained failed"
	case whileNone:
		s = fmt.Sprintf("stopped for failures (--max-failures): its first %d genomes trained all failed, none succeeded", len(failed))
	default:
		s = fmt.Sprintf("stopped for failures (--max-failures %d): %d of %d genomes trained failed", n, len(failed), trained)
	}
	groups, _ := FailureGroups(failed)
	if len(groups) == 0 {
		return s
	}
	top := groups[0]
	which := "most often"
	if len(groups) == 1 {
		which = "the reason"
	}
	return s + fmt.Sprintf("; %s (%d): %s (gahpo query genome %d shows it whole)", which, top.Count, top.Reason, top.First)
}

// FailureGroup is one cause of a run's failed genomes: its words (the
// first such genome's, see FailureCause), how many genomes failed so, and
// the first of them.
type FailureGroup struct {
	Reason string
	Count  int
	First  int
}

// FailureGroups groups the failed genomes of a run by cause (FailureCause,
// with the numbers in its words left out: the same cause with other
// values), duplicates and genomes not trained yet left out: the commonest
// first, a tie by its first genome. trained is how many genomes were
// trained, failed or not (a promoted genome has its rung's result).
func FailureGroups(genomes []gahpo.GenomeRecord) (groups []FailureGroup, trained int) {
	at := map[string]int{} // a cause's key → its group
	for _, g := range genomes {
		if g.DuplicateOf != 0 || (g.Status != gahpo.GenomeDone && g.Status != gahpo.GenomeFailed && g.Status != gahpo.GenomePromoted) {
			continue
		}
		trained++
		if g.Status != gahpo.GenomeFailed {
			continue
		}
		why := FailureCause(g.Failure)
		key := numbers.ReplaceAllString(why, "#")
		i, ok := at[key]
		if !ok {
			i, at[key] = len(groups), len(groups)
			groups = append(groups, FailureGroup{Reason: cmp.Or(why, "no reason recorded"), First: g.ID})
		}
		groups[i].Count++
	}
	slices.SortStableFunc(groups, func(a, b FailureGroup) int { return cmp.Or(b.Count-a.Count, a.First-b.First) })
	return groups, trained
}

// numbers are the values in a failure's words (an objective's, a size,
// an epoch), which FailureGroups leaves out when it groups causes.
var numbers = regexp.MustCompile(`[-+]?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?`)

// stderrEnds is what a training command's failure puts before the last
// lines of its standard error (models/command).
const stderrEnds = "; standard error ends:\n"

// FailureCause is the line of a genome's failure that says why: a command
// that exited in error is explained by its standard error's line that says
// so (cause.Line: a Python traceback's last line, a Java, Node.js, Rust or
// Go program's message above its stack trace), any other failure (no
// objective, a timeout, an objective out of bounds) by gahpo's own words,
// whatever the command printed last ("done"); at most 200 bytes.
func FailureCause(failure string) string {
	head, stderr, _ := strings.Cut(failure, stderrEnds)
	if strings.Contains(head, "the command failed: ") && strings.TrimSpace(stderr) != "" {
		if c := cause.Line(strings.Split(stderr, "\n")); c != "" {
			return lastLine(c)
		}
		return lastLine(stderr)
	}
	const untrainable = "cannot train this genome: "
	if i := strings.LastIndex(head, untrainable); i >= 0 {
		head = head[i+len(untrainable):]
	}
	return lastLine(head)
}

// lastLine is the last non-blank line of s, trimmed, at most 200 bytes.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	l := strings.TrimSpace(lines[len(lines)-1])
	if len(l) > 200 {
		l = strings.ToValidUTF8(l[:200], "") + "…"
	}
	return l
}
