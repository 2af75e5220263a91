package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestParseBaseline(t *testing.T) {
	for _, tc := range []struct {
		in       string
		wantArgs string // "" wants an error
	}{
		{pytorchDefault, "-batch 64 -lr 1 -gamma 0.7 -wd 0"},
		{"paper=batch_size=10,lr=0.419,gamma=0.8366,weight_decay=7.511239e-05", "-batch 10 -lr 0.419 -gamma 0.8366 -wd 7.511239e-05"},
		{"g = batch_size=63, lr=0.925028 ,gamma=0.63336,weight_decay=1.9504e-07", "-batch 63 -lr 0.925028 -gamma 0.63336 -wd 1.9504e-07"},
		{"g=batch_size=63.4,lr=1,gamma=0.7,weight_decay=0", ""}, // not a whole batch
		{"g=batch_size=0,lr=1,gamma=0.7,weight_decay=0", ""},    // cnntrain would refuse it
		{"g=batch_size=64,lr=0,gamma=0.7,weight_decay=0", ""},
		{"g=batch_size=64,lr=1,gamma=1.5,weight_decay=0", ""},
		{"g=batch_size=64,lr=1,gamma=0.7,weight_decay=-1", ""},
		{"a|b=batch_size=64,lr=1,gamma=0.7,weight_decay=0", ""},            // breaks the table
		{"batch_size=64,lr=1,gamma=0.7,weight_decay=0", ""},                // no label: batch_size taken as the label, then "64" is not name=number
		{"search=batch_size=64,lr=1,gamma=0.7,weight_decay=0", ""},         // the search's own label
		{"a/b=batch_size=64,lr=1,gamma=0.7,weight_decay=0", ""},            // a label that is no file name
		{"d=batch_size=64,lr=1,gamma=0.7", ""},                             // a gene missing
		{"d=batch_size=64,lr=1,gamma=0.7,weight_decay=0,momentum=0.9", ""}, // one too many
		{"d=batch_size=64,lr=1,lr=1,weight_decay=0", ""},                   // twice
		{"d=batch_size=64,lr=NaN,gamma=0.7,weight_decay=0", ""},
		{"d=batch_size=64,lr=fast,gamma=0.7,weight_decay=0", ""},
		{"d=", ""},
		{"s=batch_size=64,lr=1,gamma=0.7,weight_decay=0,shift=2", "-batch 64 -lr 1 -gamma 0.7 -wd 0 -shift 2"}, // a cnn-shift genome
		{"s=batch_size=64,lr=1,gamma=0.7,weight_decay=0,shift=0", "-batch 64 -lr 1 -gamma 0.7 -wd 0 -shift 0"},
		{"s=batch_size=64,lr=1,gamma=0.7,weight_decay=0,shift=1.5", ""}, // not a whole shift
		{"s=batch_size=64,lr=1,gamma=0.7,weight_decay=0,shift=9", ""},   // cnntrain would refuse it
		{"s=batch_size=64,lr=1,gamma=0.7,shift=2", ""},                  // a gene missing beside shift
	} {
		c, err := parseBaseline(tc.in)
		if tc.wantArgs == "" {
			if err == nil {
				t.Errorf("parseBaseline(%q) = %+v, want an error", tc.in, c)
			}
			continue
		}
		if err != nil || strings.Join(c.args, " ") != tc.wantArgs {
			t.Errorf("parseBaseline(%q) = %q, %v; want %q", tc.in, c.args, err, tc.wantArgs)
		}
	}
}

func TestParseFlags(t *testing.T) {
	cfg, err := parseFlags(nil, &bytes.Buffer{})
	if err != nil || len(cfg.seeds) != 3 || len(cfg.baselines) != 1 || cfg.baselines[0].label != "default" || cfg.epochs != 14 {
		t.Fatalf("defaults: %+v, %v", cfg, err)
	}
	cfg, err = parseFlags([]string{"-baseline", "a=batch_size=10,lr=1,gamma=0.5,weight_decay=1e-5", "-baseline", pytorchDefault, "-seeds", "4, 5"}, &bytes.Buffer{})
	if err != nil || len(cfg.baselines) != 2 || cfg.baselines[0].label != "a" || cfg.baselines[1].label != "default" || fmt.Sprint(cfg.seeds) != "[4 5]" {
		t.Fatalf("-baseline twice, -seeds: %+v, %v", cfg, err)
	}
	for _, args := range [][]string{
		{"-search", "--preset best --db x.db"},
		{"-search", "--db=x.db"},
		{"-seeds", "1,x"},
		{"-seeds", "0"},
		{"-seeds", "1,2,1"},
		{"-baseline", "a=batch_size=64,lr=1,gamma=0.7,weight_decay=0", "-baseline", "a=batch_size=32,lr=1,gamma=0.7,weight_decay=0"},
		{"-epochs", "0"},
		{"-parallel", "0"},
		{"-train-images", "-1"},
		{"-baseline", "nolabel"},
		{"extra"},
	} {
		if _, err := parseFlags(args, &bytes.Buffer{}); err == nil {
			t.Errorf("parseFlags(%q): no error", args)
		}
	}
}

func TestMeanSE(t *testing.T) {
	for _, tc := range []struct {
		in       []float64
		mean, se float64
	}{
		{[]float64{0.5}, 0.5, 0},
		{[]float64{1, 3}, 2, 1}, // sd √2, / √2
		{[]float64{2, 4, 4, 4, 5, 5, 7, 9}, 5, math.Sqrt(32.0/7) / math.Sqrt(8)},
		{[]float64{-0.001, -0.001, -0.001}, -0.001, 0},
	} {
		m, se := meanSE(tc.in)
		if math.Abs(m-tc.mean) > 1e-12 || math.Abs(se-tc.se) > 1e-12 {
			t.Errorf("meanSE(%v) = %v, %v; want %v, %v", tc.in, m, se, tc.mean, tc.se)
		}
	}
}

func TestPaired(t *testing.T) {
	cfg := config{seeds: []uint64{1, 2, 3}}
	res := map[string]training{
		"train-search-s1": {loss: 0.0283, accuracy: 0.9908}, "train-default-s1": {loss: 0.0261, accuracy: 0.9917},
		"train-search-s2": {loss: 0.0270, accuracy: 0.9916}, "train-default-s2": {loss: 0.0251, accuracy: 0.9930},
		"train-search-s3": {loss: 0.0273, accuracy: 0.9907}, "train-default-s3": {loss: 0.0299, accuracy: 0.9909},
	}
	got := paired(cfg, "default", res)
	for _, w := range []string{"search − default", "test loss +0.0022, +0.0019, -0.0026 (mean +0.0005, standard error 0.0016)",
		"test accuracy -0.09, -0.14, -0.02 points (mean -0.08, standard error 0.03)"} {
		if !strings.Contains(got, w) {
			t.Errorf("paired: %q lacks %q", got, w)
		}
	}
}

// TestReadReport: a report is used only for the training asked for.
func TestReadReport(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.json")
	// As cnntrain -json writes it for the default genome (weight decay 0).
	const text = `{"seed": 2, "batch_size": 64, "lr": 1, "gamma": 0.7, "weight_decay": 0, "train_images": 60000, "test_images": 10000,
		"epochs": [{"epoch": 1}, {"epoch": 2}], "test_loss": 0.03, "test_accuracy": 0.99, "train_seconds": 100}`
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	def, _ := parseBaseline(pytorchDefault)
	other, _ := parseBaseline("default=batch_size=64,lr=1,gamma=0.8,weight_decay=0")
	sched := candidate{label: "search", schedule: "1:batch_size=64,gamma=0.7,lr=1,weight_decay=0"}
	shifted, err := genomeCandidate("search", map[string]float64{"batch_size": 64, "lr": 1, "gamma": 0.7, "weight_decay": 0, "shift": 2})
	if err != nil {
		t.Fatal(err)
	}
	cfg := config{epochs: 2}
	for _, tc := range []struct {
		name string
		cfg  config
		c    candidate
		seed uint64
		ok   bool
	}{
		{"the same", cfg, def, 2, true},
		{"another seed", cfg, def, 3, false},
		{"another gamma", cfg, other, 2, false},
		{"a schedule", cfg, sched, 2, false},
		{"the same with shift 2", cfg, shifted, 2, false},
		{"more epochs", config{epochs: 14}, def, 2, false},
		{"fewer images", config{epochs: 2, trainImages: 600}, def, 2, false},
		{"fewer test images", config{epochs: 2, testImages: 500}, def, 2, false},
		{"more images than there are", config{epochs: 2, trainImages: 70_000, testImages: 20_000}, def, 2, true},
	} {
		r, err := readReport(path, tc.cfg, tc.c, tc.seed)
		if (err == nil) != tc.ok || (tc.ok && (r.loss != 0.03 || r.accuracy != 0.99 || r.seconds != 100)) {
			t.Errorf("%s: %+v, %v", tc.name, r, err)
		}
	}
	if _, err := readReport(filepath.Join(t.TempDir(), "none.json"), cfg, def, 2); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("no report: %v, want os.ErrNotExist", err)
	}
}

func TestVerdict(t *testing.T) {
	cfg := config{goalAccuracy: 99.25}
	cands := []candidate{{label: "search"}, {label: "default"}, {label: "paper"}}
	for _, tc := range []struct {
		name  string
		means map[string]training
		want  []string
	}{
		{"met", map[string]training{"search": {loss: 0.0260, accuracy: 0.9926}, "default": {loss: 0.0270}, "paper": {loss: 0.0322}},
			[]string{"goal is met", "99.260%"}},
		{"accuracy short", map[string]training{"search": {loss: 0.0260, accuracy: 0.9924}, "default": {loss: 0.0270}, "paper": {loss: 0.0322}},
			[]string{"not met", "accuracy 99.240% is below 99.25%"}},
		{"loss not lower", map[string]training{"search": {loss: 0.0270, accuracy: 0.9930}, "default": {loss: 0.0270}, "paper": {loss: 0.0322}},
			[]string{"not met", "not below default's 0.0270"}},
		{"both", map[string]training{"search": {loss: 0.0275, accuracy: 0.9910}, "default": {loss: 0.0270}, "paper": {loss: 0.0322}},
			[]string{"not met", "default's", "below 99.25%"}},
	} {
		got := verdict(cfg, cands, tc.means)
		for _, w := range tc.want {
			if !strings.Contains(got, w) {
				t.Errorf("%s: verdict %q lacks %q", tc.name, got, w)
			}
		}
		if strings.Contains(got, "paper's") {
			t.Errorf("%s: verdict %q names a baseline the search beat", tc.name, got)
		}
	}
}

// TestHeadline runs the whole experiment at a tiny size: a real search on
// real MNIST images, real cnntrain processes, then again (nothing is
// trained twice) and with one report spoilt (that training alone again).
func TestHeadline(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a search and four trainings of the CNN: -short")
	}
	dir := t.TempDir()
	bins := map[string]string{"gahpo": "github.com/gahpo/gahpo/cmd/gahpo", "cnntrain": "github.com/gahpo/gahpo/models/cnn/cmd/cnntrain"}
	for name, pkg := range bins {
		out, err := exec.Command("go", "build", "-o", filepath.Join(dir, name), pkg).CombinedOutput()
		if err != nil {
			t.Fatalf("build %s: %v\n%s", pkg, err, out)
		}
	}
	out := filepath.Join(dir, "exp")
	args := []string{"-out", out, "-gahpo", filepath.Join(dir, "gahpo"), "-cnntrain", filepath.Join(dir, "cnntrain"),
		"-search", "--preset quick --population 4 --generations 1 --train-subset 600 --final-subset 600 --final-epochs 1 --workers 1 --seed 3",
		"-seeds", "1,2", "-epochs", "1", "-train-images", "300", "-test-images", "200", "-parallel", "2"}
	cfg, err := parseFlags(args, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	runOnce := func() (string, string) {
		t.Helper()
		var stdout, stderr bytes.Buffer
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		if err := run(ctx, cfg, &stdout, &stderr); err != nil {
			t.Fatalf("run: %v\n%s", err, stderr.String())
		}
		return stdout.String(), stderr.String()
	}
	table, _ := runOnce()

	// The table holds each report's figures, the search's genome is the
	// one its history chose, and the verdict is the figures'.
	_, chosen, err := searched(filepath.Join(out, "search.db"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []candidate{chosen, cfg.baselines[0]} {
		row := ""
		for _, l := range strings.Split(table, "\n") {
			if strings.HasPrefix(l, "| "+c.label+": "+c.about+" |") {
				row = l
			}
		}
		if row == "" {
			t.Fatalf("no row for %s (%s) in\n%s", c.label, c.about, table)
		}
		for _, s := range cfg.seeds {
			r, err := readReport(filepath.Join(out, fmt.Sprintf("train-%s-s%d.json", c.label, s)), cfg, c, s)
			if err != nil {
				t.Fatal(err)
			}
			if cell := fmt.Sprintf(" %.4f / %.2f%% |", r.loss, 100*r.accuracy); !strings.Contains(row, cell) {
				t.Errorf("row %q lacks seed %d's %q", row, s, cell)
			}
		}
	}
	if !strings.Contains(table, "goal is not met") || !strings.Contains(table, "is below 99.25%") {
		t.Errorf("one epoch on 300 images reaches 99.25%%? table:\n%s", table)
	}
	if md, err := os.ReadFile(filepath.Join(out, "headline.md")); err != nil || string(md) != table {
		t.Errorf("headline.md differs from the printed table: %v", err)
	}

	// Again: nothing is searched or trained again, the same table.
	before := map[string]time.Time{}
	reports, _ := filepath.Glob(filepath.Join(out, "train-*.json"))
	if len(reports) != 4 {
		t.Fatalf("%d reports, want 4: %q", len(reports), reports)
	}
	for _, r := range reports {
		fi, _ := os.Stat(r)
		before[r] = fi.ModTime()
	}
	again, log := runOnce()
	t.Logf("table:\n%s", table)
	if again != table || strings.Contains(log, "cnntrain -") || strings.Contains(log, "the search: gahpo") {
		t.Errorf("a second run trained again or changed the table:\n%s\n%s", log, again)
	}

	// A spoilt report: that training alone runs again, to the same figures
	// (cnntrain is deterministic on one machine).
	spoilt := filepath.Join(out, "train-default-s2.json")
	if err := os.WriteFile(spoilt, []byte(`{"epochs": [`), 0o644); err != nil {
		t.Fatal(err)
	}
	third, log := runOnce()
	// The figures are the same; the time the retrained report took may
	// round to another second on a busy machine.
	timing := regexp.MustCompile(`Each training took .* to .* \(`)
	if timing.ReplaceAllString(third, "") != timing.ReplaceAllString(table, "") || strings.Count(log, "cnntrain -") != 1 || !strings.Contains(log, "training again") {
		t.Errorf("after a spoilt report:\n%s\n%s", log, third)
	}
	for r, mt := range before {
		fi, _ := os.Stat(r)
		if changed := !fi.ModTime().Equal(mt); changed != (r == spoilt) {
			t.Errorf("%s: rewritten %v", r, changed)
		}
	}
}
