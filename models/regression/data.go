package regression

import (
	"bytes"
	"embed"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
)

//go:embed data/train.csv data/test.csv
var dataFS embed.FS

// Data is the regression data set: a training part (which leaves gaps in the
// input range, see Gaps) and a test part covering the whole Domain.
type Data struct {
	TrainX, TrainY []float64
	TestX, TestY   []float64
}

// Interval is the closed interval [Lo, Hi].
type Interval struct {
	Lo, Hi float64
}

// Contains reports whether Lo <= x <= Hi.
func (i Interval) Contains(x float64) bool { return x >= i.Lo && x <= i.Hi }

// Gaps returns the input ranges that the embedded training set leaves empty
// while the test set covers them: [-3, -2] and [1.5, 3].
func Gaps() []Interval { return []Interval{{-3, -2}, {1.5, 3}} }

// Domain returns the input range of the embedded data set, [-6, 6].
func Domain() Interval { return Interval{-6, 6} }

// Load parses the embedded data set: about 200 noisy training rows of
// y = sin(x) + 0.3·x with x outside the Gaps, and 200 noiseless test rows
// evenly spaced over the Domain. Each call returns fresh slices.
func Load() (*Data, error) {
	var d Data
	var err error
	if d.TrainX, d.TrainY, err = readEmbedded("data/train.csv"); err != nil {
		return nil, err
	}
	if d.TestX, d.TestY, err = readEmbedded("data/test.csv"); err != nil {
		return nil, err
	}
	return &d, nil
}

func readEmbedded(name string) (x, y []float64, err error) {
	b, err := dataFS.ReadFile(name)
	if err != nil {
		return nil, nil, fmt.Errorf("read embedded %s: %w", name, err)
	}
	x, y, err = ReadCSV(bytes.NewReader(b))
	if err != nil {
		return nil, nil, fmt.Errorf("parse embedded %s: %w", name, err)
	}
	return x, y, nil
}

// ReadCSV reads a two-column CSV file with the header "x,y" and at least one
// data row of finite numbers. Errors wrap ErrMalformedCSV and name the line.
func ReadCSV(r io.Reader) (x, y []float64, err error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1 // checked below, for a clearer message
	cr.ReuseRecord = true
	header := true
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return nil, nil, fmt.Errorf("%w: line %d: %w", ErrMalformedCSV, pe.Line, pe.Err)
			}
			return nil, nil, fmt.Errorf("read CSV: %w", err)
		}
		line, _ := cr.FieldPos(0)
		if len(rec) != 2 {
			return nil, nil, fmt.Errorf("%w: line %d: want 2 fields, got %d", ErrMalformedCSV, line, len(rec))
		}
		if header {
			if strings.TrimSpace(rec[0]) != "x" || strings.TrimSpace(rec[1]) != "y" {
				return nil, nil, fmt.Errorf("%w: line %d: want header \"x,y\", got %q", ErrMalformedCSV, line, strings.Join(rec, ","))
			}
			header = false
			continue
		}
		var v [2]float64
		for i, name := range [2]string{"x", "y"} {
			f, err := strconv.ParseFloat(strings.TrimSpace(rec[i]), 64)
			if err != nil {
				return nil, nil, fmt.Errorf("%w: line %d: field %s: %w", ErrMalformedCSV, line, name, err)
			}
			if math.IsNaN(f) || math.IsInf(f, 0) {
				return nil, nil, fmt.Errorf("%w: line %d: field %s: %q is not finite", ErrMalformedCSV, line, name, rec[i])
			}
			v[i] = f
		}
		x = append(x, v[0])
		y = append(y, v[1])
	}
	if header {
		return nil, nil, fmt.Errorf("%w: empty input, want header \"x,y\"", ErrMalformedCSV)
	}
	if len(x) == 0 {
		return nil, nil, fmt.Errorf("%w: no data rows after the header", ErrMalformedCSV)
	}
	return x, y, nil
}
