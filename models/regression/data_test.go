package regression

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestReadCSV(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		wantX   []float64
		wantY   []float64
		wantErr string // substring of the error; "" means no error
	}{
		{name: "valid", in: "x,y\n1,2\n-3.5,4e-1\n", wantX: []float64{1, -3.5}, wantY: []float64{2, 0.4}},
		{name: "no final newline", in: "x,y\n1,2", wantX: []float64{1}, wantY: []float64{2}},
		{name: "CRLF and spaces", in: "x, y\r\n 1 , 2 \r\n", wantX: []float64{1}, wantY: []float64{2}},
		{name: "blank lines skipped", in: "x,y\n\n1,2\n\n3,4\n", wantX: []float64{1, 3}, wantY: []float64{2, 4}},
		{name: "empty", in: "", wantErr: "empty input"},
		{name: "header only", in: "x,y\n", wantErr: "no data rows"},
		{name: "missing header", in: "1,2\n3,4\n", wantErr: `line 1: want header "x,y", got "1,2"`},
		{name: "swapped header", in: "y,x\n1,2\n", wantErr: "line 1: want header"},
		{name: "one field", in: "x,y\n1,2\n3\n", wantErr: "line 3: want 2 fields, got 1"},
		{name: "three fields", in: "x,y\n1,2,3\n", wantErr: "line 2: want 2 fields, got 3"},
		{name: "bad x", in: "x,y\n1,2\n2,3\nabc,4\n", wantErr: "line 4: field x"},
		{name: "bad y", in: "x,y\n1,\n", wantErr: "line 2: field y"},
		{name: "NaN", in: "x,y\n1,NaN\n", wantErr: `line 2: field y: "NaN" is not finite`},
		{name: "Inf", in: "x,y\n-Inf,1\n", wantErr: `line 2: field x: "-Inf" is not finite`},
		{name: "bad quote", in: "x,y\n1,\"2\n", wantErr: "line 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			x, y, err := ReadCSV(strings.NewReader(tt.in))
			if tt.wantErr != "" {
				if err == nil {
					t.Fatalf("ReadCSV = %v, %v, nil; want error containing %q", x, y, tt.wantErr)
				}
				if !errors.Is(err, ErrMalformedCSV) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ReadCSV error = %q; want ErrMalformedCSV containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ReadCSV: %v", err)
			}
			if !slices.Equal(x, tt.wantX) || !slices.Equal(y, tt.wantY) {
				t.Errorf("ReadCSV = %v, %v; want %v, %v", x, y, tt.wantX, tt.wantY)
			}
		})
	}
}

func TestLoad(t *testing.T) {
	d, err := Load()
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if len(d.TrainX) != 200 || len(d.TrainY) != 200 || len(d.TestX) != 200 || len(d.TestY) != 200 {
		t.Fatalf("Load sizes train %d/%d test %d/%d; want 200 each", len(d.TrainX), len(d.TrainY), len(d.TestX), len(d.TestY))
	}
	dom := Domain()
	for i, x := range d.TrainX {
		if !dom.Contains(x) {
			t.Errorf("train x[%d] = %v outside %v", i, x, dom)
		}
		for _, g := range Gaps() {
			if g.Contains(x) {
				t.Errorf("train x[%d] = %v inside gap %v", i, x, g)
			}
		}
	}
	// The test set must cover every gap and both ends of the domain.
	for _, g := range Gaps() {
		n := 0
		for _, x := range d.TestX {
			if g.Contains(x) {
				n++
			}
		}
		if n < 5 {
			t.Errorf("test set has %d points in gap %v; want at least 5", n, g)
		}
	}
	if lo, hi := slices.Min(d.TestX), slices.Max(d.TestX); lo != dom.Lo || hi != dom.Hi {
		t.Errorf("test x span [%v, %v]; want %v", lo, hi, dom)
	}
	// Each call returns fresh slices.
	d.TrainX[0] = 1e9
	d2, err := Load()
	if err != nil {
		t.Fatalf("second Load: %v", err)
	}
	if d2.TrainX[0] == 1e9 {
		t.Error("Load returned slices shared with an earlier call")
	}
}
