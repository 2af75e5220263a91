package coordinator

import (
	"context"
	"encoding/json"
	"log/slog"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gahpo/gahpo"
	"github.com/gahpo/gahpo/ga"
	"github.com/gahpo/gahpo/models/problems"
	"github.com/gahpo/gahpo/store"
)

// TestEndpoints calls each endpoint of the live service as the bus would,
// with a request's JSON body: each answers what the offline query of the
// coordinator's run answers (a request naming no run is of this one), and
// a body that is not a request is refused.
func TestEndpoints(t *testing.T) {
	st, err := store.Open(filepath.Join(t.TempDir(), "h.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	cfg := ga.DefaultConfig()
	cfg.Population, cfg.Generations, cfg.Seed = 3, 2, 1
	c, err := New(st, nil, Config{Run: gahpo.RunConfig{Problem: problems.Regression, GA: cfg, MaxAttempts: 3, AckWait: time.Minute}, Logger: slog.New(slog.DiscardHandler),
		Problem: func(name string) (Problem, error) {
			space, err := problems.Space(name)
			return Problem{Space: space}, err
		}})
	if err != nil {
		t.Fatal(err)
	}
	// A later run in the same history: a request naming no run is not
	// of the latest run, but of the coordinator's.
	later := gahpo.Run{ID: "99991231-235959-later", Status: gahpo.RunDone, Started: time.Now().Add(time.Hour)}
	if err := st.CreateRun(later, []byte("{}"), []gahpo.GenomeRecord{{ID: 1, Status: gahpo.GenomeDone, Fitness: 0.5}}); err != nil {
		t.Fatal(err)
	}
	q := Queries{Store: st}
	runs, _ := q.Runs()
	best, bestErr := q.Best(c.id)
	gen, _ := q.Generation(c.id, 0)
	genome, _ := q.Genome(c.id, 2)
	_, finalErr := q.Final(c.id)
	tests := []struct {
		endpoint string
		body     string
		want     any
		wantErr  string
	}{
		{EndpointRuns, "", runs, ""},
		{EndpointBest, "", best, errText(bestErr)},
		{EndpointGeneration, `{"generation":0}`, gen, ""},
		{EndpointGenome, `{"run":"` + c.id + `","genome":2}`, genome, ""},
		{EndpointGenome, `{"run":"other","genome":2}`, nil, "not found"},
		{EndpointFinal, "{}", nil, errText(finalErr)},
		{EndpointBest, "{", nil, "bad query: "},
		{EndpointGeneration, "[]", nil, "bad query: "},
		{EndpointGenome, "x", nil, "bad query: "},
		{EndpointFinal, "{", nil, "bad query: "},
	}
	eps := c.endpoints()
	for _, tt := range tests {
		t.Run(tt.endpoint+" "+tt.body, func(t *testing.T) {
			got, err := eps[tt.endpoint](context.Background(), []byte(tt.body))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("%s(%s) = %v, want an error containing %q", tt.endpoint, tt.body, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("%s(%s): %v", tt.endpoint, tt.body, err)
			}
			// As the bus sends it (a fitness not yet measured is NaN,
			// equal to nothing in Go).
			g, _ := json.Marshal(got)
			w, _ := json.Marshal(tt.want)
			if string(g) != string(w) || reflect.TypeOf(got) != reflect.TypeOf(tt.want) {
				t.Fatalf("%s(%s) = %s (%T); want %s (%T)", tt.endpoint, tt.body, g, got, w, tt.want)
			}
		})
	}
	if s, err := eps[EndpointStatus](context.Background(), nil); err != nil || s.(gahpo.Status).RunID != c.id {
		t.Errorf("status = %+v, %v; want this run's", s, err)
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
