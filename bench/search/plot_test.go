package main

import (
	"bytes"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReadResults: results files are read by their header's names, and a
// file that is not one is refused, naming what is wrong.
func TestReadResults(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name, text, wantErr string
		want                int
	}{
		{name: "ok", text: "seed,method,test_loss,epochs_spent\n1,ga-halving,0.07,128\n2,ga-one-epoch,0.08,99\n", want: 2},
		{name: "empty", text: "", wantErr: "no result"},
		{name: "no loss", text: "method,seed,epochs_spent\nga-halving,1,40\n", wantErr: `no column "test_loss"`},
		{name: "bad number", text: "method,seed,epochs_spent,test_loss\nga-halving,1,forty,0.1\n", wantErr: "row 2"},
		{name: "ragged", text: "method,seed,epochs_spent,test_loss\nga-halving,1\n", wantErr: "wrong number of fields"},
		{name: "zero loss", text: "method,seed,epochs_spent,test_loss\nga-halving,1,40,0\n", wantErr: "row 2: test loss 0"},
		{name: "NaN loss", text: "method,seed,epochs_spent,test_loss\nga-halving,1,40,NaN\n", wantErr: "row 2: test loss NaN"},
	}
	for _, tt := range tests {
		pts, err := readResults([]string{write(tt.name+".csv", tt.text)})
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%s: %v, want an error with %q", tt.name, err, tt.wantErr)
			}
			continue
		}
		if err != nil || len(pts) != tt.want || pts[0].method != "ga-halving" || pts[0].spent != 128 || pts[0].loss != 0.07 {
			t.Errorf("%s: %+v, %v", tt.name, pts, err)
		}
	}
}

// TestLossTicks: ticks of a range with no decade to start from are none,
// not an endless loop.
func TestLossTicks(t *testing.T) {
	for _, r := range [][2]float64{{0, 1}, {-1, 1}, {0.5, 0.1}} {
		if got := (lossTicks{}).Ticks(r[0], r[1]); len(got) != 0 {
			t.Errorf("Ticks(%v, %v) = %v", r[0], r[1], got)
		}
	}
	if got := (lossTicks{}).Ticks(0.06, 0.5); len(got) < 5 || got[0].Value < 0.06 || got[len(got)-1].Value > 0.5 {
		t.Errorf("Ticks(0.06, 0.5) = %v", got)
	}
}

// TestPlotKeptResults draws the results kept in this directory.
func TestPlotKeptResults(t *testing.T) {
	files, err := filepath.Glob("results-2026-12-02-*.csv")
	if err != nil || len(files) == 0 {
		t.Fatalf("no kept results: %v", err)
	}
	pts, err := readResults(files)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := plotResults(&buf, pts, 9, 6000); err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() < 600 || b.Dy() < 300 {
		t.Errorf("a figure of %v", b)
	}
}
