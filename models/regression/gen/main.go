// Command gen writes the regression problem's data set: data/train.csv and
// data/test.csv under models/regression, each with the header "x,y".
//
// Run it from the repository root:
//
//	go run ./models/regression/gen
//
// The data are drawn from a fixed seed, so a second run writes the same bytes
// (a test checks that the committed files are what gen writes).
package main

import (
	"bytes"
	"flag"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
)

// The data set's definition. The regression package's Gaps and Domain must
// agree with these (gen's test checks it).
const (
	seed      = 20261127 // fixed seed of the PCG source
	nTrain    = 200      // training rows
	nTest     = 200      // test rows
	lo, hi    = -6.0, 6.0
	noiseStd  = 0.1 // standard deviation of the Gaussian noise on train y
	precision = 6   // decimals written to the CSV files
)

// gaps are the input ranges the training part leaves empty.
var gaps = [][2]float64{{-3, -2}, {1.5, 3}}

// truth is the function the data sample: sin(x) + 0.3·x.
func truth(x float64) float64 { return math.Sin(x) + 0.3*x }

func inGap(x float64) bool {
	for _, g := range gaps {
		if x >= g[0] && x <= g[1] {
			return true
		}
	}
	return false
}

// generate returns the train and test CSV files. Train x are uniform on
// [lo, hi] outside the gaps (rejection sampling), sorted, with noisy y; test x
// are evenly spaced over the whole of [lo, hi], gaps included, with y = truth(x).
func generate(s uint64) (train, test []byte) {
	rng := rand.New(rand.NewPCG(s, 0))
	xs := make([]float64, 0, nTrain)
	for len(xs) < nTrain {
		x := lo + (hi-lo)*rng.Float64()
		if !inGap(x) {
			xs = append(xs, x)
		}
	}
	slices.Sort(xs)
	ys := make([]float64, nTrain)
	for i, x := range xs {
		ys[i] = truth(x) + noiseStd*rng.NormFloat64()
	}
	train = encode(xs, ys)

	xs = make([]float64, nTest)
	ys = make([]float64, nTest)
	for i := range nTest {
		xs[i] = lo + (hi-lo)*float64(i)/float64(nTest-1)
		ys[i] = truth(xs[i])
	}
	return train, encode(xs, ys)
}

func encode(xs, ys []float64) []byte {
	var b bytes.Buffer
	b.WriteString("x,y\n")
	for i := range xs {
		b.WriteString(strconv.FormatFloat(xs[i], 'f', precision, 64))
		b.WriteByte(',')
		b.WriteString(strconv.FormatFloat(ys[i], 'f', precision, 64))
		b.WriteByte('\n')
	}
	return b.Bytes()
}

func run(dir string) error {
	train, test := generate(seed)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create data dir: %w", err)
	}
	for name, content := range map[string][]byte{"train.csv": train, "test.csv": test} {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, content, 0o644); err != nil {
			return fmt.Errorf("write %s: %w", name, err)
		}
		slog.Info("wrote data file", "path", path, "bytes", len(content))
	}
	return nil
}

func main() {
	dir := flag.String("out", filepath.Join("models", "regression", "data"), "directory to write train.csv and test.csv to")
	flag.Parse()
	if err := run(*dir); err != nil {
		slog.Error("gen failed", "err", err)
		os.Exit(1)
	}
}
