package ga

import (
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestNewSpaceValidation(t *testing.T) {
	nan := math.NaN()
	tests := []struct {
		name    string
		params  []Param
		edit    func(*Space)
		wantErr string // substring; "" means valid
	}{
		{name: "paper", params: paperSpace().Params},
		{name: "fixed value", params: []Param{FloatParam("x", 2, 2, Linear)}},
		{name: "logit full range", params: []Param{FloatParam("p", 0, 1, Logit)}},
		{name: "log int", params: []Param{{Name: "n", Kind: Int, Min: 1, Max: 1024, Scale: Log}}},
		{name: "empty", params: nil, wantErr: "no parameters"},
		{name: "inverted", params: []Param{FloatParam("x", 2, 1, Linear)}, wantErr: `"x": inverted bounds`},
		{name: "NaN min", params: []Param{FloatParam("x", nan, 1, Linear)}, wantErr: `"x": NaN bound`},
		{name: "NaN max", params: []Param{FloatParam("x", 0, nan, Linear)}, wantErr: `"x": NaN bound`},
		{name: "infinite", params: []Param{FloatParam("x", 0, math.Inf(1), Linear)}, wantErr: "infinite bound"},
		{name: "range overflow", params: []Param{FloatParam("x", -1.7e308, 1.7e308, Linear)}, wantErr: "overflows"},
		{name: "log at zero", params: []Param{FloatParam("lr", 0, 1, Log)}, wantErr: `"lr": log scale needs min > 0`},
		{name: "logit above 1", params: []Param{FloatParam("p", 0, 1.5, Logit)}, wantErr: "logit scale needs bounds in [0, 1]"},
		{name: "int fraction", params: []Param{{Name: "n", Kind: Int, Min: 0.5, Max: 3}}, wantErr: "not integers"},
		{name: "int huge", params: []Param{{Name: "n", Kind: Int, Min: 0, Max: 1e17}}, wantErr: "exceed ±2^53"},
		{name: "int logit", params: []Param{{Name: "n", Kind: Int, Min: 0, Max: 1, Scale: Logit}}, wantErr: "logit"},
		{name: "log int at 0", params: []Param{{Name: "n", Kind: Int, Min: 0, Max: 8, Scale: Log}}, wantErr: "min >= 1"},
		{name: "unknown kind", params: []Param{{Name: "n", Kind: 7, Max: 1}}, wantErr: "unknown kind 7"},
		{name: "unknown scale", params: []Param{{Name: "n", Scale: 9, Max: 1}}, wantErr: "unknown scale 9"},
		{name: "no name", params: []Param{FloatParam("", 0, 1, Linear)}, wantErr: "empty name"},
		{name: "choice", params: []Param{ChoiceParam("opt", "sgd", "adam")}},
		{name: "choice of one", params: []Param{ChoiceParam("opt", "sgd")}},
		{name: "choice empty", params: []Param{ChoiceParam("opt")}, wantErr: `"opt": a choice needs at least one value`},
		{name: "choice value twice", params: []Param{ChoiceParam("opt", "sgd", "adam", "sgd")}, wantErr: `value "sgd" appears twice`},
		{name: "choice bad bounds", params: []Param{{Name: "opt", Kind: Choice, Max: 5, Values: []string{"a", "b"}}}, wantErr: "indices [0, 1]"},
		{name: "choice log", params: []Param{{Name: "opt", Kind: Choice, Max: 1, Scale: Log, Values: []string{"a", "b"}}}, wantErr: "no scale"},
		{name: "values on a float", params: []Param{{Name: "x", Max: 1, Values: []string{"a"}}}, wantErr: "values are for a choice"},
		{name: "twice", params: []Param{FloatParam("x", 0, 1, Linear), IntParam("x", 0, 3)}, wantErr: `"x" appears twice`},
		{name: "rate above 1", params: paperSpace().Params, edit: func(s *Space) { s.MutationRate = 1.5 }, wantErr: "mutation rate 1.5 outside [0, 1]"},
		{name: "rate NaN", params: paperSpace().Params, edit: func(s *Space) { s.MutationRate = nan }, wantErr: "mutation rate NaN"},
		{name: "rate negative", params: paperSpace().Params, edit: func(s *Space) { s.MutationRate = -0.1 }, wantErr: "mutation rate"},
		{name: "sigma negative", params: paperSpace().Params, edit: func(s *Space) { s.MutationSigma = -1 }, wantErr: "mutation sigma"},
		{name: "alpha NaN", params: paperSpace().Params, edit: func(s *Space) { s.BLXAlpha = nan }, wantErr: "blx alpha"},
		{name: "eta Inf", params: paperSpace().Params, edit: func(s *Space) { s.SBXEta = math.Inf(1) }, wantErr: "sbx eta"},
		{name: "bad crossover", params: paperSpace().Params, edit: func(s *Space) { s.CrossoverKind = 5 }, wantErr: "unknown crossover kind 5"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			if tt.edit == nil {
				_, err = NewSpace(tt.params...)
			} else {
				s, _ := NewSpace(tt.params...)
				tt.edit(s)
				err = s.Validate()
			}
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("got error %v, want none", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("got error %v, want one containing %q", err, tt.wantErr)
			}
			if !errors.Is(err, ErrInvalidSpace) {
				t.Errorf("error %v does not wrap ErrInvalidSpace", err)
			}
		})
	}
}

func TestNewSpaceDefaults(t *testing.T) {
	s := paperSpace()
	want := []Param{
		{Name: "batch_size", Kind: Int, Min: 10, Max: 128, Scale: Linear},
		{Name: "lr", Kind: Float, Min: 1e-8, Max: 1, Scale: Log},
		{Name: "gamma", Kind: Float, Min: 0, Max: 1, Scale: Linear},
		{Name: "weight_decay", Kind: Float, Min: 1e-7, Max: 1e-4, Scale: Log},
	}
	if !reflect.DeepEqual(s.Params, want) {
		t.Errorf("params = %+v, want %+v", s.Params, want)
	}
	if s.CrossoverKind != BLX || s.BLXAlpha != 0.5 || s.SBXEta != 15 || s.MutationRate != 0.25 || s.MutationSigma != 0.1 {
		t.Errorf("defaults = %v %v %v %v %v", s.CrossoverKind, s.BLXAlpha, s.SBXEta, s.MutationRate, s.MutationSigma)
	}
	if got := s.Names(); !reflect.DeepEqual(got, []string{"batch_size", "lr", "gamma", "weight_decay"}) {
		t.Errorf("Names() = %v", got)
	}
}

func TestSpaceWithout(t *testing.T) {
	custom := paperSpace()
	custom.MutationRate = 0.6
	tests := []struct {
		name     string
		space    *Space
		drop     string
		want     []string
		wantRate float64
		wantErr  string
	}{
		{name: "default rate follows", space: paperSpace(), drop: "gamma", want: []string{"batch_size", "lr", "weight_decay"}, wantRate: 1.0 / 3},
		{name: "first", space: paperSpace(), drop: "batch_size", want: []string{"lr", "gamma", "weight_decay"}, wantRate: 1.0 / 3},
		{name: "a rate of one's own stays", space: custom, drop: "lr", want: []string{"batch_size", "gamma", "weight_decay"}, wantRate: 0.6},
		{name: "unknown", space: paperSpace(), drop: "epochs", wantErr: `no parameter "epochs"`},
		{name: "the last", space: mustSpace(t, nil, FloatParam("x", 0, 1, Linear)), drop: "x", wantErr: "only parameter"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := slices.Clone(tt.space.Params)
			got, err := tt.space.Without(tt.drop)
			if !reflect.DeepEqual(tt.space.Params, before) {
				t.Fatalf("Without changed its receiver: %v", tt.space.Params)
			}
			if tt.wantErr != "" {
				if err == nil || !errors.Is(err, ErrInvalidSpace) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want ErrInvalidSpace with %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got.Names(), tt.want) || got.MutationRate != tt.wantRate {
				t.Errorf("Without(%q) = %v rate %v, want %v rate %v", tt.drop, got.Names(), got.MutationRate, tt.want, tt.wantRate)
			}
			if got.CrossoverKind != tt.space.CrossoverKind || got.BLXAlpha != tt.space.BLXAlpha || got.MutationSigma != tt.space.MutationSigma {
				t.Errorf("operators changed: %+v", got)
			}
		})
	}
}

func TestSpaceCheck(t *testing.T) {
	s := paperSpace()
	tests := []struct {
		name    string
		genes   []float64
		wantErr []string
	}{
		{name: "valid", genes: []float64{64, 0.01, 0.7, 1e-5}},
		{name: "bounds inclusive", genes: []float64{10, 1e-8, 0, 1e-4}},
		{name: "short", genes: []float64{64, 0.01}, wantErr: []string{"2 genes, want 4"}},
		{name: "long", genes: []float64{64, 0.01, 0.7, 1e-5, 1}, wantErr: []string{"5 genes, want 4"}},
		{name: "batch too large", genes: []float64{129, 0.01, 0.7, 1e-5}, wantErr: []string{`"batch_size": 129 outside [10, 128]`}},
		{name: "batch fraction", genes: []float64{64.5, 0.01, 0.7, 1e-5}, wantErr: []string{`"batch_size": 64.5 is not an integer`}},
		{name: "lr NaN", genes: []float64{64, math.NaN(), 0.7, 1e-5}, wantErr: []string{`"lr": value NaN`}},
		{name: "two bad", genes: []float64{64, 2, -0.1, 1e-5}, wantErr: []string{`"lr": 2 outside`, `"gamma": -0.1 outside`}},
		{name: "wd Inf", genes: []float64{64, 0.01, 0.7, math.Inf(-1)}, wantErr: []string{`"weight_decay": value -Inf`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := s.Check(tt.genes)
			if len(tt.wantErr) == 0 {
				if err != nil {
					t.Fatalf("Check: %v", err)
				}
				return
			}
			if !errors.Is(err, ErrOutOfSpace) {
				t.Fatalf("got %v, want ErrOutOfSpace", err)
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestSpaceMaps(t *testing.T) {
	s := paperSpace()
	tests := []struct {
		name    string
		m       map[string]float64
		want    []float64
		wantErr []string
	}{
		{
			name: "round trip",
			m:    map[string]float64{"batch_size": 64, "lr": 0.01, "gamma": 0.7, "weight_decay": 1e-5},
			want: []float64{64, 0.01, 0.7, 1e-5},
		},
		{
			name:    "missing and unknown",
			m:       map[string]float64{"batch_size": 64, "lr": 0.01, "gama": 0.7, "weight_decay": 1e-5},
			wantErr: []string{`parameter "gamma" missing`, `unknown parameter "gama"`},
		},
		{
			name:    "several missing: one error naming them",
			m:       map[string]float64{"lr": 0.01},
			wantErr: []string{`ga: genes outside the space: parameters "batch_size", "gamma", "weight_decay" missing`},
		},
		{
			name:    "out of range",
			m:       map[string]float64{"batch_size": 64, "lr": 0.01, "gamma": 0.7, "weight_decay": 1},
			wantErr: []string{`"weight_decay": 1 outside`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := s.FromMap(tt.m)
			if len(tt.wantErr) > 0 {
				if err == nil {
					t.Fatalf("FromMap = %v, want an error", got)
				}
				for _, w := range tt.wantErr {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q lacks %q", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("FromMap: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("FromMap = %v, want %v", got, tt.want)
			}
			if back := s.ToMap(got); !reflect.DeepEqual(back, tt.m) {
				t.Errorf("ToMap = %v, want %v", back, tt.m)
			}
		})
	}
}

func TestCanonical(t *testing.T) {
	tests := []struct {
		name string
		p    Param
		in   float64
		want float64
	}{
		{"int rounds", IntParam("n", 10, 128), 63.5, 64},
		{"int clamps", IntParam("n", 10, 128), 128.4, 128},
		{"linear unit range 6 decimals", FloatParam("g", 0, 1, Linear), 0.123456789, 0.123457},
		{"linear range 118", FloatParam("x", 10, 128, Linear), 63.123456789, 63.1235},
		{"linear large range", FloatParam("x", 0, 2e7, Linear), 12345678.9, 12345680},
		{"linear negative zero", FloatParam("x", -1, 1, Linear), -1e-9, 0},
		{"linear clamps to min", FloatParam("x", 0.1234564, 1, Linear), 0.1234564, 0.1234564},
		{"log 6 significant", FloatParam("lr", 1e-8, 1, Log), 0.000123456789, 0.000123457},
		{"log tiny", FloatParam("lr", 1e-8, 1, Log), 1.00000049e-8, 1e-8},
		{"logit low", FloatParam("p", 0, 1, Logit), 0.0123456789, 0.0123457},
		{"logit high keeps 1-p digits", FloatParam("p", 0, 1, Logit), 1 - 0.0000123456789, 1 - 0.0000123457},
		{"logit away from 0", FloatParam("p", 0, 1, Logit), 0, 1e-9},
		{"logit away from 1", FloatParam("p", 0, 1, Logit), 1, 1 - 1e-9},
		{"fixed", FloatParam("x", 3, 3, Linear), 3, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := NewSpace(tt.p)
			if err != nil {
				t.Fatal(err)
			}
			in := []float64{tt.in}
			got := s.Canonical(in)
			if got[0] != tt.want {
				t.Errorf("Canonical(%v) = %v, want %v", tt.in, got[0], tt.want)
			}
			if math.Signbit(got[0]) != math.Signbit(tt.want) {
				t.Errorf("Canonical(%v) = %v has the wrong sign bit", tt.in, got[0])
			}
			if again := s.Canonical(got); again[0] != got[0] {
				t.Errorf("not idempotent: %v -> %v", got[0], again[0])
			}
			if in[0] != tt.in {
				t.Errorf("input modified to %v", in[0])
			}
		})
	}
}

func TestTextEncodings(t *testing.T) {
	type text interface {
		MarshalText() ([]byte, error)
		String() string
	}
	tests := []struct {
		v    text
		want string
		back func(string) (text, error)
	}{
		{Linear, "linear", func(s string) (text, error) { var v Scale; err := v.UnmarshalText([]byte(s)); return v, err }},
		{Log, "log", func(s string) (text, error) { var v Scale; err := v.UnmarshalText([]byte(s)); return v, err }},
		{Logit, "logit", func(s string) (text, error) { var v Scale; err := v.UnmarshalText([]byte(s)); return v, err }},
		{Float, "float", func(s string) (text, error) { var v Kind; err := v.UnmarshalText([]byte(s)); return v, err }},
		{Int, "int", func(s string) (text, error) { var v Kind; err := v.UnmarshalText([]byte(s)); return v, err }},
		{Choice, "choice", func(s string) (text, error) { var v Kind; err := v.UnmarshalText([]byte(s)); return v, err }},
		{BLX, "blx", func(s string) (text, error) { var v CrossoverKind; err := v.UnmarshalText([]byte(s)); return v, err }},
		{SBX, "sbx", func(s string) (text, error) { var v CrossoverKind; err := v.UnmarshalText([]byte(s)); return v, err }},
		{Uniform, "uniform", func(s string) (text, error) { var v CrossoverKind; err := v.UnmarshalText([]byte(s)); return v, err }},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			b, err := tt.v.MarshalText()
			if err != nil || string(b) != tt.want || tt.v.String() != tt.want {
				t.Fatalf("MarshalText = %q, %v; String = %q; want %q", b, err, tt.v.String(), tt.want)
			}
			got, err := tt.back(tt.want)
			if err != nil || got != tt.v {
				t.Errorf("UnmarshalText(%q) = %v, %v; want %v", tt.want, got, err, tt.v)
			}
			if _, err := tt.back(strings.ToUpper(tt.want) + "x"); err == nil {
				t.Errorf("UnmarshalText accepted %q", strings.ToUpper(tt.want)+"x")
			}
		})
	}
	if _, err := Scale(3).MarshalText(); err == nil {
		t.Error("Scale(3).MarshalText succeeded")
	}
	if got := Scale(3).String(); got != "Scale(3)" {
		t.Errorf("Scale(3).String() = %q", got)
	}
}

func TestSpaceJSON(t *testing.T) {
	s := paperSpace()
	s.CrossoverKind = SBX
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{`"scale":"log"`, `"kind":"int"`, `"crossover":"sbx"`, `"name":"weight_decay"`} {
		if !strings.Contains(string(b), w) {
			t.Errorf("JSON %s lacks %s", b, w)
		}
	}
	var back Space
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(&back, s) {
		t.Errorf("round trip: got %+v, want %+v", back, *s)
	}
	if err := json.Unmarshal([]byte(`{"params":[{"name":"x","kind":"real"}]}`), &back); err == nil {
		t.Error("unknown kind decoded without error")
	}
}

// TestChoiceJSON checks a choice parameter's JSON form and that the JSON
// of numeric parameters has no values field.
func TestChoiceJSON(t *testing.T) {
	s := mustSpace(t, nil, FloatParam("lr", 1e-5, 1, Log), ChoiceParam("optimizer", "sgd", "adam"))
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"name":"optimizer","kind":"choice","min":0,"max":1,"scale":"linear","values":["sgd","adam"]}`
	if !strings.Contains(string(b), want) {
		t.Errorf("JSON %s lacks %s", b, want)
	}
	if !strings.Contains(string(b), `{"name":"lr","kind":"float","min":0.00001,"max":1,"scale":"log"}`) {
		t.Errorf("JSON %s: the float's form changed", b)
	}
	var back Space
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(&back, s) {
		t.Errorf("round trip: got %+v, want %+v", back, *s)
	}
}

// TestValuesRoundTrip checks the readable form of a genome: choices as
// strings, numbers as numbers, and back.
func TestValuesRoundTrip(t *testing.T) {
	s := mustSpace(t, nil, IntParam("batch", 16, 256), FloatParam("lr", 1e-5, 1, Log),
		ChoiceParam("optimizer", "sgd", "adam", "adadelta"))
	genes := []float64{64, 0.01, 1}
	got := s.Values(genes)
	want := map[string]any{"batch": 64.0, "lr": 0.01, "optimizer": "adam"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Values = %v, want %v", got, want)
	}
	// Through JSON, as the history and the queries carry it.
	b, err := json.Marshal(got)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != `{"batch":64,"lr":0.01,"optimizer":"adam"}` {
		t.Errorf("JSON = %s", b)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	back, err := s.FromValues(m)
	if err != nil || !slices.Equal(back, genes) {
		t.Errorf("FromValues = %v, %v; want %v", back, err, genes)
	}
	// The numeric map form keeps the index.
	if nm := s.ToMap(genes); nm["optimizer"] != 1 {
		t.Errorf("ToMap = %v, want optimizer 1", nm)
	}
	tests := []struct {
		name string
		in   map[string]any
		want string
	}{
		{"unknown value", map[string]any{"batch": 64, "lr": 0.01, "optimizer": "rmsprop"}, `"rmsprop" is not one of`},
		{"index out of range", map[string]any{"batch": 64, "lr": 0.01, "optimizer": 3.0}, `3 outside [0, 2]`},
		{"string for a number", map[string]any{"batch": "big", "lr": 0.01, "optimizer": "sgd"}, `"big" is not one of`},
		{"unknown name", map[string]any{"batch": 64, "lr": 0.01, "optimizer": "sgd", "x": "y"}, `unknown parameter "x"`},
		{"bad type", map[string]any{"batch": true, "lr": 0.01, "optimizer": "sgd"}, "type bool"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.FromValues(tt.in)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !errors.Is(err, ErrOutOfSpace) {
				t.Errorf("FromValues error %v, want ErrOutOfSpace containing %q", err, tt.want)
			}
		})
	}
	r := s.Readable(map[string]float64{"batch": 64, "lr": 0.01, "optimizer": 2, "extra": 1})
	if want := map[string]any{"batch": 64.0, "lr": 0.01, "optimizer": "adadelta", "extra": 1.0}; !reflect.DeepEqual(r, want) {
		t.Errorf("Readable = %v, want %v", r, want)
	}
	if r := s.Readable(map[string]float64{"optimizer": 9}); r["optimizer"] != 9.0 {
		t.Errorf("Readable of a bad index = %v, want it left a number", r)
	}
	if l := s.Params[2].Label(7); l != "7" {
		t.Errorf("Label of an index out of range = %q, want 7", l)
	}
}

func TestNormalize(t *testing.T) {
	s := paperSpace()
	got := s.Normalize([]float64{10, 1e-4, 0.25, 1e-4})
	want := []float64{0, 0.5, 0.25, 1}
	for i := range want {
		if math.Abs(got[i]-want[i]) > 1e-12 {
			t.Errorf("Normalize[%d] = %v, want %v", i, got[i], want[i])
		}
	}
}

// TestLabel: what a command's {name} placeholder and the views print of a
// gene: an Int whole, however large (a trainer parses 1e+06 as 1).
func TestLabel(t *testing.T) {
	steps := Param{Name: "steps", Kind: Int, Min: 1000, Max: 1e7, Scale: Log}
	lr := Param{Name: "lr", Kind: Float, Min: 1e-8, Max: 1, Scale: Log}
	opt := ChoiceParam("opt", "sgd", "adam")
	for _, tt := range []struct {
		p    Param
		x    float64
		want string
	}{
		{steps, 1000, "1000"},
		{steps, 1e6, "1000000"},
		{steps, 6612471, "6612471"},
		{lr, 1e-7, "1e-07"},
		{lr, 0.419, "0.419"},
		{lr, 1e6, "1e+06"},
		{opt, 1, "adam"},
	} {
		if got := tt.p.Label(tt.x); got != tt.want {
			t.Errorf("%s.Label(%v) = %q, want %q", tt.p.Name, tt.x, got, tt.want)
		}
	}
}
