package main

import (
	"strings"
	"testing"

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
		{"lr=0.1,batch_size=64,optimizer=sgd,momentum=0.9", nil, "momentum"},
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
