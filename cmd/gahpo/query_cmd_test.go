package main

import (
	"bytes"
	"context"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gahpo/gahpo"
	"github.com/gahpo/gahpo/store"
)

// TestQueryCommand runs each query of `gahpo query` on a history file in
// this process: what it asks for, how its arguments are refused, and the
// view or JSON that each answer is printed as.
func TestQueryCommand(t *testing.T) {
	db := filepath.Join(t.TempDir(), "h.db")
	st, err := store.Open(db, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	params := map[string]float64{"lr": 0.1}
	genomes := []gahpo.GenomeRecord{
		{ID: 1, Status: gahpo.GenomeDone, Fitness: 0.25, Epochs: 1, Params: params, Worker: "w1"},
		{ID: 2, Status: gahpo.GenomeDone, Fitness: 0.125, Epochs: 1, Params: params, Worker: "w2"},
	}
	if err := st.CreateRun(gahpo.Run{ID: "r", Status: gahpo.RunDone, Best: 2, Params: []string{"lr"}}, []byte("{}"), genomes); err != nil {
		t.Fatal(err)
	}
	st.Close()
	tests := []struct {
		name    string
		args    []string
		wantErr string   // "" for success
		want    []string // in the output, in this order
	}{
		{name: "runs", args: []string{"runs"}, want: []string{"RUN  ", "STOPPED BY\n", "r  "}},
		{name: "best per generation", args: []string{"best"}, want: []string{"GEN  GENOME  FITNESS  MEDIAN", "\n1    2       0.125"}},
		{name: "best of the run", args: []string{"best", "--per-generation=false"}, want: []string{"GEN  GENOME  FITNESS  TRAINED BY  PARAMS\n1    2       0.125"}},
		{name: "a generation, best first", args: []string{"generation", "1"}, want: []string{"GENOME  STATUS  FITNESS", "\n2       done    0.125", "\n1       done    0.25"}},
		{name: "a genome", args: []string{"genome", "2"}, want: []string{"genome      2\n", "fitness     0.125\n", "worker      w2\n"}},
		{name: "a genome as JSON", args: []string{"genome", "2", "--json"}, want: []string{`"id": 2`, `"fitness": 0.125`}},
		{name: "a generation as JSON", args: []string{"generation", "1", "--json"}, want: []string{`"id": 2`, `"id": 1`}},
		{name: "the final training of a run without one", args: []string{"final"}, wantErr: "run r has no final training"},
		{name: "best with an argument", args: []string{"best", "2"}, wantErr: "query best takes no argument"},
		{name: "runs with an argument", args: []string{"runs", "r"}, wantErr: "query runs takes no argument"},
		{name: "a genome without its number", args: []string{"genome"}, wantErr: "query genome needs a number"},
		{name: "genome 0", args: []string{"genome", "0"}, wantErr: `query genome: bad number "0" (they count from 1)`},
		{name: "an unknown query", args: []string{"genomes"}, wantErr: `query: unknown query "genomes"`},
		{name: "a genome that is not there", args: []string{"genome", "9"}, wantErr: "not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			err := (&Main{Stdout: &out, Stderr: io.Discard}).Run(context.Background(), append(append([]string{"query"}, tt.args...), "--db", db))
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("query %q: %v", tt.args, err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("query %q: %v, want an error containing %q", tt.args, err, tt.wantErr)
			}
			rest := out.String()
			for _, w := range tt.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("query %q printed\n%s\nwant %q (after the parts before it)", tt.args, out.String(), w)
				}
				rest = rest[i+len(w):]
			}
		})
	}
}
