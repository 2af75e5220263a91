package report

import (
	"context"
	"math"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/gahpo/gahpo"
)

// snapFunc is a source whose snapshots a function makes.
type snapFunc func() *Snapshot

func (f snapFunc) Snapshot(context.Context) (*Snapshot, error) { return f(), nil }

// finalUnderWay is run rc in its final training, two epochs reported: the
// coordinator's status with their test loss and, for a problem file's
// objective, its value by epoch.
func finalUnderWay(rc gahpo.RunConfig, objective map[int]gahpo.Float) *Snapshot {
	s := problemFileRun()
	s.Run.Config = rc
	s.Run.Status, s.Run.Ended, s.Final = gahpo.RunFinal, time.Time{}, nil
	nan := gahpo.Float(math.NaN())
	loss := []gahpo.Float{nan, nan}
	if rc.Objective == "" {
		loss = []gahpo.Float{0.31, 0.27}
	}
	s.Status = &gahpo.Status{RunID: s.Run.ID, State: gahpo.RunFinal, Generation: 2, Generations: 2, Population: 3,
		Objective: rc.Objective, Maximize: rc.Maximize, FinalObjective: objective,
		Final: []gahpo.EpochMetrics{{Epoch: 1, TestLoss: loss[0], Duration: time.Second}, {Epoch: 2, TestLoss: loss[1], Duration: time.Second}}}
	return s
}

// TestDashboardFinalUnderWayObjective: while the final training runs,
// the dashboard lists the epochs it has reported, with a problem file's
// objective as its trainer reported it (score 0.9125, not negated); a
// built-in problem's, the test loss, has its own column and no other.
func TestDashboardFinalUnderWayObjective(t *testing.T) {
	t.Parallel() // waits on a browser, not the CPU
	ctx, troubles := browser(t)
	problemFile := gahpo.RunConfig{Problem: "flaky", Objective: "score", Maximize: true, FinalEpochs: 2}
	builtIn := gahpo.RunConfig{Problem: "regression", FinalEpochs: 2}
	for _, tc := range []struct {
		name string
		snap func() *Snapshot
		want [][]string
	}{
		{"problem file", func() *Snapshot { return finalUnderWay(problemFile, map[int]gahpo.Float{1: 0.8, 2: 0.9125}) },
			[][]string{{"epoch", "score", "duration"}, {"1", "0.8", "1 s"}, {"2", "0.9125", "1 s"}}},
		{"built-in", func() *Snapshot { return finalUnderWay(builtIn, nil) },
			[][]string{{"epoch", "test loss", "duration"}, {"1", "0.31", "1 s"}, {"2", "0.27", "1 s"}}},
	} {
		srv := httptest.NewServer(NewHandler(snapFunc(tc.snap), HandlerOptions{}))
		const cells = `Array.from(document.querySelectorAll("#final-live tr")).map(r => Array.from(r.cells).map(c => c.textContent))`
		err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/"))
		if err == nil {
			_, err = chromedp.Run(ctx, chromedp.Poll[bool](`document.getElementById("final-live") !== null`, chromedp.WithPollingTimeout(20*time.Second)))
		}
		var got [][]string
		if err == nil {
			got, err = chromedp.Run(ctx, chromedp.Evaluate[[][]string](cells))
			screenshot(t, ctx, "dashboard-final-under-way-"+strings.ReplaceAll(tc.name, " ", "-"))
		}
		_ = chromedp.Do(ctx, chromedp.Navigate("about:blank")) // its event stream ends
		srv.CloseClientConnections()
		srv.Close()
		if err != nil {
			t.Fatalf("%s: no table of the final's epochs under way: %v", tc.name, err)
		}
		if !slices.EqualFunc(got, tc.want, slices.Equal) {
			t.Errorf("%s: the final's epochs under way read %q, want %q", tc.name, got, tc.want)
		}
	}
	for _, p := range troubles() {
		t.Error(p)
	}
}
