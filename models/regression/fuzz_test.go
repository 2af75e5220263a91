package regression_test

import (
	"bytes"
	"errors"
	"math"
	"os"
	"testing"

	"github.com/gahpo/gahpo/models/regression"
)

// FuzzReadCSV: any input gives finite columns of equal, non-zero length or
// an error wrapping ErrMalformedCSV, never a panic.
func FuzzReadCSV(f *testing.F) {
	for _, name := range []string{"data/train.csv", "data/test.csv"} {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		if i := bytes.IndexByte(b[200:], '\n'); i > 0 {
			f.Add(b[:200+i+1])
		}
	}
	for _, s := range []string{"x,y\n1,2\n", "x,y\r\n1,2", " x , y \n1e308,-1e-308\n", "x,y\n1,NaN\n", "x,y\n\"1\",2\n", "x\n1\n", ""} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		x, y, err := regression.ReadCSV(bytes.NewReader(data))
		if err != nil {
			if !errors.Is(err, regression.ErrMalformedCSV) {
				t.Fatalf("error %v does not wrap ErrMalformedCSV", err)
			}
			return
		}
		if len(x) == 0 || len(x) != len(y) {
			t.Fatalf("%d x and %d y accepted", len(x), len(y))
		}
		for i := range x {
			if math.IsNaN(x[i]) || math.IsInf(x[i], 0) || math.IsNaN(y[i]) || math.IsInf(y[i], 0) {
				t.Fatalf("row %d: %v, %v accepted", i, x[i], y[i])
			}
		}
	})
}
