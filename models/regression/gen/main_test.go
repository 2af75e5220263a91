package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/gahpo/gahpo/models/regression"
)

// TestCommittedData checks that the committed CSV files are what gen
// writes, so that the embedded data can be regenerated.
func TestCommittedData(t *testing.T) {
	train, test := generate(seed)
	for name, want := range map[string][]byte{"train.csv": train, "test.csv": test} {
		got, err := os.ReadFile(filepath.Join("..", "data", name))
		if err != nil {
			t.Fatalf("read committed %s: %v", name, err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("committed %s differs from what gen writes; run go run ./models/regression/gen", name)
		}
	}
}

// TestRun writes the files to a temporary directory and parses them back.
func TestRun(t *testing.T) {
	dir := t.TempDir()
	if err := run(dir); err != nil {
		t.Fatalf("run: %v", err)
	}
	for name, n := range map[string]int{"train.csv": nTrain, "test.csv": nTest} {
		f, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		x, y, err := regression.ReadCSV(f)
		f.Close()
		if err != nil {
			t.Fatalf("ReadCSV(%s): %v", name, err)
		}
		if len(x) != n || len(y) != n {
			t.Errorf("%s: %d rows; want %d", name, len(x), n)
		}
	}
}

// TestAgreesWithPackage checks that gen's gaps and domain are those the
// regression package documents.
func TestAgreesWithPackage(t *testing.T) {
	pg := regression.Gaps()
	if len(pg) != len(gaps) {
		t.Fatalf("gen has %d gaps, package %d", len(gaps), len(pg))
	}
	for i, g := range gaps {
		if pg[i].Lo != g[0] || pg[i].Hi != g[1] {
			t.Errorf("gap %d: gen %v, package %v", i, g, pg[i])
		}
	}
	if d := regression.Domain(); d.Lo != lo || d.Hi != hi {
		t.Errorf("domain: gen [%v, %v], package %v", lo, hi, d)
	}
}
