package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gahpo/gahpo"
	"github.com/gahpo/gahpo/bus"
	"github.com/gahpo/gahpo/models/cnn"
	"github.com/gahpo/gahpo/store"
)

// weightsHistory writes a history of one finished run of problem with a
// final training whose model is weights (digest as its training reported
// it: "" for none) and returns its file; final false leaves the run
// without a final training.
func weightsHistory(t *testing.T, problem string, final bool, weights []byte, digest, lost string) string {
	t.Helper()
	rc := gahpo.RunConfig{Problem: problem}
	rc.GA.Population, rc.GA.Generations = 2, 1
	run := gahpo.Run{ID: "r", Config: rc, Status: gahpo.RunDone, Best: 1, Params: []string{"lr"}}
	genomes := []gahpo.GenomeRecord{{ID: 1, Status: gahpo.GenomeDone, Params: map[string]float64{"lr": 0.5}, Fitness: 0.1, Epochs: 1}}
	db := filepath.Join(t.TempDir(), "h.db")
	st, err := store.Open(db, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if !final {
		run.Status = gahpo.RunRunning
	}
	if err := st.CreateRun(run, []byte("{}"), genomes); err != nil {
		t.Fatal(err)
	}
	if final {
		f := gahpo.FinalTraining{GenomeID: 1, Params: genomes[0].Params, TestLoss: 0.1, WeightsSize: len(weights), WeightsSHA: digest, WeightsLost: lost}
		if err := st.PutFinal("r", run, f, weights); err != nil {
			t.Fatal(err)
		}
	}
	return db
}

// TestExportWeights: export --weights writes the final model as stored
// (checked against its training's digest), or as NumPy arrays for the
// CNN; it refuses, saying why, a run without a model, a model that is not
// the one trained, a file that exists, .npz of another problem's model.
func TestExportWeights(t *testing.T) {
	cnnWeights := cnn.InitialWeights(1)
	user := []byte(`{"w": 0.97}`)
	tests := []struct {
		name    string
		db      func(t *testing.T) string
		file    string
		exists  bool
		want    []byte // the file's bytes; nil: check it is an .npz of the CNN
		wantErr string
	}{
		{name: "a problem file's model, as its trainer wrote it", file: "model.json", want: user,
			db: func(t *testing.T) string { return weightsHistory(t, "toy", true, user, bus.Digest(user), "") }},
		{name: "the CNN's model as stored", file: "model.bin", want: cnnWeights,
			db: func(t *testing.T) string {
				return weightsHistory(t, "cnn", true, cnnWeights, bus.Digest(cnnWeights), "")
			}},
		{name: "the CNN's model for PyTorch", file: "model.npz",
			db: func(t *testing.T) string {
				return weightsHistory(t, "cnn", true, cnnWeights, bus.Digest(cnnWeights), "")
			}},
		{name: "a digest not kept (an older history)", file: "model.json", want: user,
			db: func(t *testing.T) string { return weightsHistory(t, "toy", true, user, "", "") }},
		{name: "npz of another problem's model", file: "model.npz", wantErr: `.npz is for the built-in CNN's model (run r is of problem "toy")`,
			db: func(t *testing.T) string { return weightsHistory(t, "toy", true, user, bus.Digest(user), "") }},
		{name: "no final training yet", file: "m", wantErr: "run r has no final training yet",
			db: func(t *testing.T) string { return weightsHistory(t, "toy", false, nil, "", "") }},
		{name: "a final without a model", file: "m", wantErr: "left no model (a problem file's command writes it to the file GAHPO_WEIGHTS_FILE names)",
			db: func(t *testing.T) string { return weightsHistory(t, "toy", true, nil, "", "") }},
		{name: "a model lost", file: "m", wantErr: "kept no model: the object store was replaced",
			db: func(t *testing.T) string {
				return weightsHistory(t, "cnn", true, nil, "", "the object store was replaced")
			}},
		{name: "a model that is not the one trained", file: "m", wantErr: "is not the one its training made",
			db: func(t *testing.T) string {
				return weightsHistory(t, "toy", true, user, bus.Digest([]byte("other")), "")
			}},
		{name: "a file that exists", file: "m", exists: true, wantErr: "exists: remove it or name another file",
			db: func(t *testing.T) string { return weightsHistory(t, "toy", true, user, bus.Digest(user), "") }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			db := tc.db(t)
			file := filepath.Join(t.TempDir(), tc.file)
			if tc.exists {
				if err := os.WriteFile(file, []byte("mine"), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			var out bytes.Buffer
			err := (&Main{Stdout: &out, Stderr: io.Discard}).Run(context.Background(), []string{"export", "--db", db, "--weights", file})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one saying %q", err, tc.wantErr)
				}
				b, _ := os.ReadFile(file)
				if tc.exists && string(b) != "mine" {
					t.Errorf("the file that existed now holds %q", b)
				} else if !tc.exists && b != nil {
					t.Errorf("a refused export left %s behind", file)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(out.String(), "to "+file) {
				t.Errorf("printed %q; want it to name %s", out.String(), file)
			}
			if tc.want != nil {
				if !bytes.Equal(b, tc.want) {
					t.Errorf("wrote %d bytes %.40q, want %d bytes %.40q", len(b), b, len(tc.want), tc.want)
				}
				return
			}
			if !bytes.HasPrefix(b, []byte("PK")) || !bytes.Contains(b, []byte("fc1.weight.npy")) {
				t.Errorf("wrote %d bytes that are not an .npz of the CNN's tensors", len(b))
			}
		})
	}
}
