package report

import (
	"bytes"
	"context"
	"image"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"testing"

	"gonum.org/v1/plot/vg"

	"github.com/gahpo/gahpo/models/problems"
)

// checkPNG decodes a figure and checks its size and that it is not blank.
func checkPNG(t *testing.T, name string, b []byte, w, h int) {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Errorf("%s: not a PNG: %v", name, err)
		return
	}
	if got := img.Bounds().Size(); got != (image.Point{X: w, Y: h}) {
		t.Errorf("%s: %v pixels, want %dx%d", name, got, w, h)
	}
	colours := map[[4]uint32]int{}
	for y := img.Bounds().Min.Y; y < img.Bounds().Max.Y; y += 3 {
		for x := img.Bounds().Min.X; x < img.Bounds().Max.X; x += 3 {
			r, g, b, a := img.At(x, y).RGBA()
			colours[[4]uint32{r, g, b, a}]++
		}
	}
	if len(colours) < 8 {
		t.Errorf("%s: only %d distinct colours: blank", name, len(colours))
	}
	nonWhite := 0
	for c, n := range colours {
		if c != [4]uint32{0xffff, 0xffff, 0xffff, 0xffff} {
			nonWhite += n
		}
	}
	if nonWhite < 200 {
		t.Errorf("%s: %d sampled pixels drawn: blank", name, nonWhite)
	}
}

func TestWriteEveryFigure(t *testing.T) {
	for _, tc := range []struct {
		name    string
		problem string
		curves  bool
		want    []string
	}{
		{"cnn", problems.CNN, false, []string{"best-boxes", "best-so-far", "best-so-far-time", "parallel", "param-lr-by-generation", "param-lr-vs-fitness",
			"param-weight_decay-by-generation", "param-batch_size-vs-fitness", "param-gamma-by-generation", "final-loss", "conv1-histograms", "conv1-activations", "test-image"}},
		{"cnn-multi-fidelity", problems.CNN, true, []string{"learning-curves", "conv1-activations"}},
		{"regression", problems.Regression, false, []string{"best-boxes", "best-so-far", "best-so-far-time", "parallel", "param-lr-by-generation", "param-epochs-vs-fitness", "final-loss", "regression-fit"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHistory(t, tc.problem, 10, 4, tc.curves)
			dir := filepath.Join(os.Getenv("GAHPO_REPORT_KEEP"), tc.name)
			if os.Getenv("GAHPO_REPORT_KEEP") == "" {
				dir = t.TempDir()
			}
			figs, err := Write(context.Background(), StoreSource{Store: h.st}, dir, Options{})
			if err != nil {
				t.Fatal(err)
			}
			drawn := map[string]bool{}
			for _, f := range figs {
				if f.Plot == nil {
					if slices.Contains(tc.want, f.Name) {
						t.Errorf("figure %s not drawn: %s", f.Name, f.Missing)
					}
					continue
				}
				drawn[f.Name] = true
				b, err := os.ReadFile(filepath.Join(dir, f.File()))
				if err != nil {
					t.Fatal(err)
				}
				checkPNG(t, f.Name, b, int(f.W.Dots(96)), int(f.H.Dots(96)))
			}
			for _, w := range tc.want {
				if !drawn[w] {
					t.Errorf("figure %s missing (drawn: %v)", w, drawn)
				}
			}
			if !tc.curves && drawn["learning-curves"] {
				t.Error("learning curves drawn for a run without curves")
			}
			checkHTML(t, dir)
		})
	}
}

// checkHTML checks that index.html references only files in its directory
// and every PNG there.
func checkHTML(t *testing.T, dir string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "index.html"))
	if err != nil {
		t.Fatal(err)
	}
	refs := regexp.MustCompile(`(?:src|href)="([^"]*)"`).FindAllSubmatch(b, -1)
	if len(refs) == 0 {
		t.Fatal("index.html references no figure")
	}
	seen := map[string]bool{}
	for _, r := range refs {
		ref := string(r[1])
		if regexp.MustCompile(`^[a-z]+:|^/|\.\.`).MatchString(ref) {
			t.Errorf("index.html references %q outside its directory", ref)
			continue
		}
		if _, err := os.Stat(filepath.Join(dir, ref)); err != nil {
			t.Errorf("index.html references %q, not shipped: %v", ref, err)
		}
		seen[ref] = true
	}
	pngs, _ := filepath.Glob(filepath.Join(dir, "*.png"))
	for _, p := range pngs {
		if !seen[filepath.Base(p)] {
			t.Errorf("%s is shipped but not shown", filepath.Base(p))
		}
	}
}

// TestFiguresOfOneGenome: a run with one result (a live dashboard after
// its first): every figure is drawn or said missing, none panics; the
// log-scaled parameters' axes (lr, weight decay) get a range of their own
// rather than gonum's one-each-way, which passes zero.
func TestFiguresOfOneGenome(t *testing.T) {
	h := newRunningHistory(t, problems.CNN, 1, 1, false)
	dir := filepath.Join(os.Getenv("GAHPO_REPORT_KEEP"), "one-genome")
	if os.Getenv("GAHPO_REPORT_KEEP") == "" {
		dir = t.TempDir()
	}
	figs, err := Write(context.Background(), StoreSource{Store: h.st}, dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	drawn := map[string]bool{}
	for _, f := range figs {
		drawn[f.Name] = f.Plot != nil
	}
	for _, name := range []string{"param-lr-vs-fitness", "param-weight_decay-vs-fitness"} {
		if !drawn[name] {
			t.Errorf("%s not drawn for one genome (drawn: %v)", name, drawn)
		}
	}
}

func TestBoxWidth(t *testing.T) {
	for _, tt := range []struct {
		n    int
		want vg.Length
	}{
		{0, 14}, {1, 14}, {26, 14}, {50, 0.75 * 0.85 * figW / 50}, {100, 0.75 * 0.85 * figW / 100}, {1000, 2},
	} {
		if got := boxWidth(tt.n); math.Abs(float64(got-tt.want)) > 1e-9 {
			t.Errorf("boxWidth(%d) = %v, want %v", tt.n, got, tt.want)
		}
		if tt.n > 0 && tt.n < 200 && float64(boxWidth(tt.n))*float64(tt.n) > 0.85*float64(figW) {
			t.Errorf("%d boxes of %v overlap across %v", tt.n, boxWidth(tt.n), 0.85*figW)
		}
	}
}

// TestBoxesOfManyGenerations draws 150 generations' boxes (looked at with
// GAHPO_REPORT_KEEP: they stand apart).
func TestBoxesOfManyGenerations(t *testing.T) {
	if testing.Short() {
		t.Skip("150 generations written to bbolt")
	}
	h := newHistory(t, problems.Regression, 4, 150, false)
	s, err := StoreSource{Store: h.st}.Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	p, err := BestBoxes(s)
	if err != nil {
		t.Fatal(err)
	}
	if dir := os.Getenv("GAHPO_REPORT_KEEP"); dir != "" {
		if err := p.Save(figW, figH, filepath.Join(dir, "boxes-150.png")); err != nil {
			t.Fatal(err)
		}
	}
}
