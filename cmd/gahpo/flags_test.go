package main

import (
	"bytes"
	"context"
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/gahpo/gahpo"
	"github.com/gahpo/gahpo/ga"
)

// TestParseGenome: --enqueue's genomes, as a user writes them or pastes
// them from query: numbers, choices by value or by index, and the errors.
func TestParseGenome(t *testing.T) {
	space, err := ga.NewSpace(
		ga.FloatParam("lr", 1e-5, 1, ga.Log),
		ga.IntParam("batch_size", 16, 256),
		ga.ChoiceParam("optimizer", "sgd", "adam", "adadelta"),
	)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		in    string
		genes []float64 // lr, batch_size, optimizer's index
		err   string
	}{
		{"lr=0.1,batch_size=64,optimizer=adam", []float64{0.1, 64, 1}, ""},
		{" lr = 0.1 , batch_size=64, optimizer = adadelta ", []float64{0.1, 64, 2}, ""},
		{"lr=0.1,batch_size=64,optimizer=0", []float64{0.1, 64, 0}, ""}, // the index, as before
		{"lr=0.1,batch_size=64,optimizer=adamw", nil, `optimizer: "adamw" is not one of ["sgd" "adam" "adadelta"]`},
		{"lr=0.1,batch_size=64,optimizer=5", nil, "optimizer"},
		{"lr=fast,batch_size=64,optimizer=sgd", nil, `lr: "fast" is not a number`},
		{"lr=0.1,batch_size=64", nil, "optimizer"},
		{"lr=0.1,batch_size=64,optimizer=sgd,momentum=0.9", nil, `unknown parameter "momentum"`},
		{"lr=0.1,batch_size=64,optimzer=adam", nil, `unknown parameter "optimzer"`},
		{"lr=0.1,lr=0.2,batch_size=64,optimizer=sgd", nil, "lr given twice"},
		{"lr=2,batch_size=64,optimizer=sgd", nil, "lr"},
		{"lr0.1,batch_size=64,optimizer=sgd", nil, "is not name=value"},
	}
	for _, tt := range tests {
		genes, err := parseGenome(tt.in, space)
		switch {
		case tt.err != "":
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%q: %v, want an error saying %q", tt.in, err, tt.err)
			}
		case err != nil:
			t.Errorf("%q: %v", tt.in, err)
		default:
			for i, want := range tt.genes {
				if got := genes[i]; got != want && !(i == 0 && abs(got-want) < 1e-12) {
					t.Errorf("%q: genes %v, want %v", tt.in, genes, tt.genes)
					break
				}
			}
		}
	}
}

func abs(x float64) float64 {
	if x < 0 {
		return -x
	}
	return x
}

func TestErrorLine(t *testing.T) {
	for _, tt := range []struct{ err, want string }{
		{"gahpo: min epochs 400 above max epochs 300", "gahpo: min epochs 400 above max epochs 300"},
		{"coordinator: --nats URL is required", "gahpo: coordinator: --nats URL is required"},
		{"gahpo:x", "gahpo: gahpo:x"},
	} {
		if got := errorLine(errors.New(tt.err)); got != tt.want {
			t.Errorf("errorLine(%q) = %q, want %q", tt.err, got, tt.want)
		}
	}
}

// TestIgnoredFlags: a flag the run does not use is warned about, with why.
func TestIgnoredFlags(t *testing.T) {
	tests := []struct {
		args []string
		want []string // substrings of the warnings, in order; none: no warning
	}{
		{[]string{"--preset", "quick"}, nil},
		{[]string{"--preset", "quick", "--min-epochs", "2", "--eta", "4"}, []string{"--min-epochs has no effect with --fidelity one-epoch", "--eta has no effect without --fidelity halving"}},
		{[]string{"--preset", "best", "--min-epochs", "2", "--eta", "4", "--in-flight", "5"}, nil},
		{[]string{"--preset", "paper", "--in-flight", "5"}, []string{"--in-flight has no effect without steady-state"}},
		{[]string{"--preset", "pbt", "--in-flight", "5", "--max-epochs", "10"}, []string{"--in-flight has no effect"}},
		{[]string{"--problem", "regression", "--train-subset", "100", "--fitness-on-test"}, []string{"--fitness-on-test has no effect on problem regression", "--train-subset has no effect on problem regression"}},
		{[]string{"--problem", "cnn", "--train-subset", "100"}, nil},
		{[]string{"--preset", "best", "--final-epochs", "6"}, []string{"--final-epochs has no effect with --fidelity halving (the final training is the best genome's own training to --max-epochs)"}},
		{[]string{"--problem-file", "../../examples/toy/problem.yaml", "--train-subset", "100", "--fitness-on-test"}, []string{"--fitness-on-test has no effect on problem toy"}},
	}
	for _, tt := range tests {
		rc, sf, err := searchConfigOf(t, tt.args)
		if err != nil {
			t.Fatalf("%q: %v", tt.args, err)
		}
		got := ignored(rc, sf.set)
		if len(got) != len(tt.want) {
			t.Errorf("%q: warnings %q, want %d", tt.args, got, len(tt.want))
			continue
		}
		for i, w := range tt.want {
			if !strings.Contains(got[i], w) {
				t.Errorf("%q: warning %q, want one saying %q", tt.args, got[i], w)
			}
		}
	}
}

// TestPrintGenomesRungs: a generation of a halving run lists each genome's
// rung (from 0, as in the JSON) and epochs beside its fitness; a one-epoch
// run's has no such columns.
func TestPrintGenomesRungs(t *testing.T) {
	g := func(id, rung, epochs int, fit gahpo.Float) gahpo.GenomeRecord {
		return gahpo.GenomeRecord{ID: id, Status: gahpo.GenomeDone, Rung: rung, Epochs: epochs, Fitness: fit, Params: map[string]float64{"lr": 0.1}}
	}
	var b strings.Builder
	printGenomes(&b, gahpo.RunConfig{}, []gahpo.GenomeRecord{g(2, 2, 9, 0.5), g(1, 0, 1, 0.3)})
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 3 || !strings.HasPrefix(strings.Join(strings.Fields(lines[0]), " "), "GENOME STATUS RUNG EPOCHS FITNESS") ||
		!strings.HasPrefix(strings.Join(strings.Fields(lines[1]), " "), "2 done 2 9 0.5") || !strings.HasPrefix(strings.Join(strings.Fields(lines[2]), " "), "1 done 0 1 0.3") {
		t.Errorf("halving generation:\n%s", b.String())
	}
	b.Reset()
	printGenomes(&b, gahpo.RunConfig{}, []gahpo.GenomeRecord{g(1, 0, 1, 0.3), g(2, 0, 0, 0.5)})
	if strings.Contains(b.String(), "RUNG") || !strings.Contains(strings.Join(strings.Fields(b.String()), " "), "1 done 0.3") {
		t.Errorf("one-epoch generation:\n%s", b.String())
	}
	// A generation under way: a queued genome has no fitness and no
	// duration yet, which showed as "NaN" and "0s".
	b.Reset()
	queued := g(3, 0, 0, gahpo.Float(math.NaN()))
	queued.Status = gahpo.GenomeQueued
	done := g(1, 0, 1, 0.3)
	done.Duration, done.Worker = 1500*time.Millisecond, "local-1"
	printGenomes(&b, gahpo.RunConfig{}, []gahpo.GenomeRecord{done, queued})
	if got := strings.Join(strings.Fields(b.String()), " "); !strings.Contains(got, "1 done 0.3 local-1 1.5 s") || !strings.Contains(got, "3 queued - -") || strings.Contains(got, "NaN") {
		t.Errorf("generation under way:\n%s", b.String())
	}
	b.Reset()
	printGenome(&b, gahpo.RunConfig{}, queued, lineage{})
	if strings.Contains(b.String(), "NaN") || !strings.Contains(b.String(), "queued") {
		t.Errorf("a queued genome:\n%s", b.String())
	}
}

// TestParseGenomeNumericChoices: a choice whose values look like numbers
// (YAML values: [1, 2, 4]) takes them as values; one that is also the
// index of another value is refused as ambiguous, not read one way silently.
func TestParseGenomeNumericChoices(t *testing.T) {
	space, err := ga.NewSpace(ga.ChoiceParam("hidden", "1", "2", "4"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		in   string
		gene float64
		err  string
	}{
		{"hidden=4", 2, ""},          // a value, no index of that number
		{"hidden=0", 0, ""},          // an index, no value of that number
		{"hidden=2", 0, "ambiguous"}, // the value "2" (index 1) or the index of "4"
		{"hidden=1", 0, "ambiguous"},
		{"hidden=8", 0, "hidden"},
	} {
		genes, err := parseGenome(tt.in, space)
		switch {
		case tt.err != "":
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("%q: %v %v, want an error saying %q", tt.in, genes, err, tt.err)
			}
		case err != nil || genes[0] != tt.gene:
			t.Errorf("%q: %v %v, want gene %v", tt.in, genes, err, tt.gene)
		}
	}
}

// TestHelpHidesUnsetDefaults: a flag whose -1 means "not given" shows its
// default in words only; the subsets say that a problem file's command is
// given them (their help said "CNN:" only, and a user of
// examples/pytorch-mnist looked for another way to train on a few images).
func TestHelpHidesUnsetDefaults(t *testing.T) {
	for _, cmd := range []string{"run", "coordinator"} {
		var out, errOut bytes.Buffer
		m := &Main{Stdout: &out, Stderr: &errOut}
		_ = m.Run(context.Background(), []string{cmd, "-h"})
		help := errOut.String() + out.String()
		if !strings.Contains(help, "-final-epochs") || strings.Contains(help, "(default -1)") {
			t.Errorf("gahpo %s -h:\n%s", cmd, help)
		}
		if n := strings.Count(help, "a problem file's command is given it as GAHPO_TRAIN_SUBSET"); n != 2 {
			t.Errorf("gahpo %s -h: --train-subset and --final-subset: %d say that a problem file's command gets them:\n%s", cmd, n, help)
		}
	}
}
