package store_test

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gahpo/gahpo"
	"github.com/gahpo/gahpo/ga"
	"github.com/gahpo/gahpo/store"
)

func open(t *testing.T, path string) *store.Store {
	t.Helper()
	st, err := store.Open(path, store.Options{})
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() {
		if err := st.Check(); err != nil {
			t.Errorf("consistency check: %v", err)
		}
		st.Close()
	})
	return st
}

func rec(id, gen int, status gahpo.GenomeStatus, fitness float64) gahpo.GenomeRecord {
	return gahpo.GenomeRecord{ID: id, Generation: gen, Status: status, Fitness: gahpo.Float(fitness), Params: map[string]float64{"x": float64(id)}, Genes: []float64{float64(id)}}
}

func newRun(id string, started time.Time) gahpo.Run {
	return gahpo.Run{ID: id, Status: gahpo.RunRunning, Started: started, Config: gahpo.RunConfig{Problem: "regression", GA: ga.DefaultConfig()}}
}

func TestRunLifecycle(t *testing.T) {
	st := open(t, filepath.Join(t.TempDir(), "h.db"))
	t0 := time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)
	if err := st.CreateRun(newRun("b", t0.Add(time.Hour)), []byte(`{"v":1}`), []gahpo.GenomeRecord{rec(1, 0, gahpo.GenomeQueued, math.NaN())}); err != nil {
		t.Fatal(err)
	}
	if err := st.CreateRun(newRun("a", t0), []byte(`{"v":1}`), nil); err != nil {
		t.Fatal(err)
	}
	if err := st.CreateRun(newRun("a", t0), nil, nil); err == nil {
		t.Error("creating a run twice: no error")
	}
	runs, err := st.Runs()
	if err != nil || len(runs) != 2 || runs[0].ID != "a" || runs[1].ID != "b" {
		t.Fatalf("Runs = %v, %v; want a then b (by start)", runs, err)
	}
	latest, err := st.Run("")
	if err != nil || latest.ID != "b" {
		t.Fatalf("latest run = %v, %v; want b", latest.ID, err)
	}
	// A result, the engine checkpoint and a finished generation in one commit.
	run := newRun("b", t0.Add(time.Hour))
	run.Status = gahpo.RunFinal
	err = st.Commit("b", store.Change{
		Run:       &run,
		Engine:    []byte(`{"v":2}`),
		Genomes:   []gahpo.GenomeRecord{rec(1, 0, gahpo.GenomeDone, 0.5), rec(2, 1, gahpo.GenomeDone, 0.25), rec(3, 1, gahpo.GenomeFailed, math.Inf(1)), rec(4, 1, gahpo.GenomeDone, 0.25)},
		Summaries: []gahpo.GenerationSummary{{Generation: 0, Best: 1, Fitness: 0.5}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if s, _ := st.Engine("b"); string(s) != `{"v":2}` {
		t.Errorf("engine = %s", s)
	}
	g, err := st.Genome("b", 3)
	if err != nil || !math.IsInf(float64(g.Fitness), 1) || g.Status != gahpo.GenomeFailed {
		t.Errorf("genome 3 = %+v, %v; want failed with +Inf", g, err)
	}
	best, err := st.BestPerGeneration("b")
	if err != nil {
		t.Fatal(err)
	}
	if len(best) != 2 || best[0].ID != 1 || best[1].ID != 2 {
		t.Errorf("best per generation = %+v; want genomes 1 and 2 (tie to the lower id)", best)
	}
	if _, err := st.Genomes("b", 7); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("missing generation: err = %v, want ErrNotFound", err)
	}
	if _, err := st.Final("b"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("final before it exists: err = %v, want ErrNotFound", err)
	}
	run.Status = gahpo.RunDone
	if err := st.PutFinal("b", run, gahpo.FinalTraining{GenomeID: 2, TestLoss: 0.03, TestAccuracy: 0.99}, []byte{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	f, err := st.Final("b")
	if err != nil || f.GenomeID != 2 || f.TestAccuracy != 0.99 {
		t.Errorf("final = %+v, %v", f, err)
	}
	if w, err := st.Weights("b"); err != nil || len(w) != 3 {
		t.Errorf("weights = %v, %v", w, err)
	}
	if r, _ := st.Run("b"); r.Status != gahpo.RunDone {
		t.Errorf("run status = %s, want done", r.Status)
	}
}

// TestPath: a history opened by a relative path names itself by its
// absolute path, which stays right when the working directory changes.
func TestPath(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	st := open(t, "h.db")
	if err := os.Chdir(t.TempDir()); err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dir, "h.db"); st.Path() != want {
		t.Errorf("Path = %q, want %q", st.Path(), want)
	}
}

func TestSecondOpenerFailsFast(t *testing.T) {
	path := filepath.Join(t.TempDir(), "h.db")
	open(t, path)
	for _, ro := range []bool{false, true} {
		start := time.Now()
		_, err := store.Open(path, store.Options{ReadOnly: ro, Timeout: 200 * time.Millisecond})
		if !errors.Is(err, store.ErrLocked) {
			t.Errorf("readOnly=%v: err = %v, want ErrLocked", ro, err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("readOnly=%v: took %v", ro, d)
		}
	}
}

func TestOpenRejectsBadFiles(t *testing.T) {
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.db")
	if err := os.WriteFile(garbage, []byte("this is not a bbolt file, just some text that is long enough"), 0o600); err != nil {
		t.Fatal(err)
	}
	truncated := filepath.Join(dir, "truncated.db")
	st := open(t, filepath.Join(dir, "good.db"))
	_ = st
	tests := []struct {
		name string
		path string
		opts store.Options
		want error
	}{
		{"garbage", garbage, store.Options{}, store.ErrCorrupt},
		{"missing read-only", filepath.Join(dir, "none.db"), store.Options{ReadOnly: true}, os.ErrNotExist},
	}
	if err := os.WriteFile(truncated, make([]byte, 100), 0o600); err != nil {
		t.Fatal(err)
	}
	tests = append(tests, struct {
		name string
		path string
		opts store.Options
		want error
	}{"zeroed", truncated, store.Options{}, store.ErrCorrupt})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := store.Open(tt.path, tt.opts)
			if !errors.Is(err, tt.want) {
				t.Errorf("err = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestFloatJSONKeepsInfinity(t *testing.T) {
	for _, v := range []float64{0.25, math.Inf(1), math.Inf(-1), 1e-300} {
		b, err := gahpo.Float(v).MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		var back gahpo.Float
		if err := back.UnmarshalJSON(b); err != nil || float64(back) != v {
			t.Errorf("%v → %s → %v, %v", v, b, back, err)
		}
	}
	var nan gahpo.Float
	if err := nan.UnmarshalJSON([]byte(`"NaN"`)); err != nil || !math.IsNaN(float64(nan)) {
		t.Errorf("NaN round trip: %v %v", nan, err)
	}
}
