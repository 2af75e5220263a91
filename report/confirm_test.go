package report

import (
	"math"
	"strings"
	"testing"

	"github.com/gahpo/gahpo"
)

// confirmedRecord is a genome at the top rung (fitness first) with
// replicates of the given fitnesses; q marks one still training.
func confirmedRecord(id int, first float64, reps ...float64) gahpo.GenomeRecord {
	r := gahpo.GenomeRecord{ID: id, Status: gahpo.GenomeDone, Rung: 2, Epochs: 9, Fitness: gahpo.Float(first), Seed: uint64(id),
		RungFitness: []gahpo.Float{0.5, 0.2, gahpo.Float(first)}, Params: map[string]float64{"lr": float64(id) / 10}}
	for k, f := range reps {
		rep := gahpo.Replicate{Seed: uint64(100*id + k), Status: gahpo.GenomeDone, Fitness: gahpo.Float(f)}
		if f == q {
			rep = gahpo.Replicate{Seed: uint64(100*id + k), Status: gahpo.GenomeQueued}
		}
		r.Replicates = append(r.Replicates, rep)
	}
	return r
}

const q = -1 // a replicate still training

// TestConfirmations: the confirmed genomes, the lowest mean first, those
// with a training still out last; a failed replicate makes the mean +Inf;
// the chosen genome is the run's best once confirmed.
func TestConfirmations(t *testing.T) {
	inf := math.Inf(1)
	for _, tc := range []struct {
		name   string
		recs   []gahpo.GenomeRecord
		best   int
		order  []int
		means  []float64 // NaN: not all back
		chosen int
	}{
		{"the lucky first training second", []gahpo.GenomeRecord{confirmedRecord(1, 0.10, 0.40, 0.40), confirmedRecord(2, 0.20, 0.20, 0.20), {ID: 3, Status: gahpo.GenomeDone, Fitness: 0.01}},
			2, []int{2, 1}, []float64{0.20, 0.30}, 2},
		{"still training last, unchosen", []gahpo.GenomeRecord{confirmedRecord(1, 0.10, 0.10, q), confirmedRecord(2, 0.20, 0.30, 0.40)},
			0, []int{2, 1}, []float64{0.30, math.NaN()}, 0},
		{"a failed replicate", []gahpo.GenomeRecord{confirmedRecord(1, 0.10, inf, 0.10), confirmedRecord(2, 0.20, 0.20, 0.20)},
			2, []int{2, 1}, []float64{0.20, inf}, 2},
		{"none", []gahpo.GenomeRecord{{ID: 1, Status: gahpo.GenomeDone, Fitness: 0.1}}, 1, nil, nil, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for i := range tc.recs {
				if tc.recs[i].ID == tc.best && len(tc.recs[i].Replicates) > 0 {
					f := gahpo.Float(0)
					tc.recs[i].ConfirmedFitness = &f
				}
			}
			got := Confirmations(gahpo.Run{Best: tc.best}, tc.recs)
			if len(got) != len(tc.order) {
				t.Fatalf("%d confirmed genomes, want %d", len(got), len(tc.order))
			}
			for i, c := range got {
				m := float64(c.Mean)
				if c.Genome.ID != tc.order[i] || !(m == tc.means[i] || math.Abs(m-tc.means[i]) < 1e-12 || math.IsNaN(m) && math.IsNaN(tc.means[i])) {
					t.Errorf("%d-th: genome %d mean %v, want genome %d mean %v", i+1, c.Genome.ID, m, tc.order[i], tc.means[i])
				}
				if c.Chosen != (c.Genome.ID == tc.chosen) {
					t.Errorf("genome %d chosen %v", c.Genome.ID, c.Chosen)
				}
				if len(c.Trainings) != 3 || c.Trainings[0].Seed != uint64(c.Genome.ID) {
					t.Errorf("genome %d: trainings %+v, want its own first and two replicates", c.Genome.ID, c.Trainings)
				}
			}
		})
	}
}

// TestPageShowsConfirmation: the report's page tables the confirmation,
// the trainings still out, and says on how many trainings the final
// genome was chosen, and its live version moves with every replicate's
// result; a run without one has no such section.
func TestPageShowsConfirmation(t *testing.T) {
	mean := gahpo.Float(0.2)
	recs := []gahpo.GenomeRecord{confirmedRecord(1, 0.10, 0.40, q), confirmedRecord(2, 0.20, 0.20, 0.20)}
	recs[1].ConfirmedFitness = &mean
	s := &Snapshot{Run: gahpo.Run{ID: "r", Best: 2, Status: gahpo.RunDone}, Genomes: recs,
		Final: &gahpo.FinalTraining{GenomeID: 2, Seeds: 3, ConfirmedFitness: &mean, TestLoss: 0.03}}
	b, err := newPage(s, nil, false).render()
	if err != nil {
		t.Fatal(err)
	}
	html := string(b)
	for _, want := range []string{
		`id="confirmation"`,
		"<td>2</td><td class=\"l\">lr=0.2</td><td class=\"l\">0.2 (2), 0.2 (200), 0.2 (201)</td><td>0.2</td><td class=\"l\">chosen</td>",
		"0.1 (1), 0.4 (100), training (101)</td><td>-</td>",
		"Chosen on the mean fitness of 3 trainings, 0.2",
	} {
		if !strings.Contains(html, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	v := Version(s)
	s.Genomes[0].Replicates[1] = gahpo.Replicate{Seed: 101, Status: gahpo.GenomeDone, Fitness: 0.3}
	if Version(s) == v {
		t.Error("a replicate's result did not change the page's version: a live page would not update")
	}
	v = Version(s)
	s.Genomes[1].RungFitness = append(s.Genomes[1].RungFitness, 0.1)
	if Version(s) == v {
		t.Error("a result at the next rung did not change the page's version: a live halving page would not update")
	}
	s.Run.Config.Objective, s.Run.Config.Maximize = "val_acc", true // its goal the highest: the caption says so
	if b, _ := newPage(s, nil, false).render(); !strings.Contains(string(b), "the genome with the highest mean val_acc over its trainings") {
		t.Error("a maximised objective's confirmation caption does not say its result is the highest mean")
	}
	s.Genomes[0].Replicates, s.Genomes[1].Replicates, s.Final.ConfirmedFitness = nil, nil, nil
	if b, _ := newPage(s, nil, false).render(); strings.Contains(string(b), "confirmation") || strings.Contains(string(b), "Chosen on") {
		t.Error("a run without a confirmation shows one")
	}
}

// TestConfirmShortfall: a confirmation of fewer genomes than --confirm-top
// asked says so and why; one of as many as asked, or none, says nothing.
func TestConfirmShortfall(t *testing.T) {
	rc := gahpo.RunConfig{Fidelity: gahpo.FidelityHalving, MinEpochs: 1, MaxEpochs: 9, Eta: 3, ConfirmSeeds: 3, ConfirmTop: 3}
	notTop := gahpo.GenomeRecord{ID: 9, Status: gahpo.GenomeDone, RungFitness: []gahpo.Float{0.5}}
	unconfirmed := confirmedRecord(3, 0.3)
	for _, tc := range []struct {
		name string
		rc   gahpo.RunConfig
		recs []gahpo.GenomeRecord
		want string // "" or a part of the text
	}{
		{"one of three, the only one at the top rung", rc, []gahpo.GenomeRecord{confirmedRecord(1, 0.1, 0.2, 0.3), notTop},
			"confirmed 1 genome of the 3 asked (--confirm-top 3): only 1 reached the top rung, so none was compared"},
		{"two of three", rc, []gahpo.GenomeRecord{confirmedRecord(1, 0.1, 0.2, 0.3), confirmedRecord(2, 0.1, 0.2, 0.3), notTop},
			"confirmed 2 genomes of the 3 asked (--confirm-top 3): only 2 reached the top rung"},
		{"two of three, a third at the top not sent", rc, []gahpo.GenomeRecord{confirmedRecord(1, 0.1, 0.2, 0.3), confirmedRecord(2, 0.1, 0.2, 0.3), unconfirmed},
			"3 reached the top rung, the others' schedules are too long to send"},
		{"as many as asked", rc, []gahpo.GenomeRecord{confirmedRecord(1, 0.1, 0.2), confirmedRecord(2, 0.1, 0.2), confirmedRecord(4, 0.1, 0.2)}, ""},
		{"not started", rc, []gahpo.GenomeRecord{notTop}, ""},
		{"no confirmation asked", gahpo.RunConfig{}, []gahpo.GenomeRecord{confirmedRecord(1, 0.1, 0.2)}, ""},
	} {
		got := ConfirmShortfall(tc.rc, tc.recs)
		if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}
