package report

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/gahpo/gahpo"
)

// durationCases are durations and how they are written.
var durationCases = []struct {
	d    time.Duration
	want string
}{
	{0, "0 s"},
	{400, "400 ns"},
	{13490 * time.Nanosecond, "13 µs"},
	{71587 * time.Nanosecond, "72 µs"},
	{723 * time.Microsecond, "723 µs"},
	{999700 * time.Nanosecond, "1 ms"},
	{4210 * time.Microsecond, "4.2 ms"},
	{71 * time.Millisecond, "71 ms"},
	{99700 * time.Microsecond, "0.1 s"},
	{273 * time.Millisecond, "0.27 s"},
	{400 * time.Millisecond, "0.4 s"},
	{2 * time.Second, "2 s"},
	{2740 * time.Millisecond, "2.7 s"},
	{9960 * time.Millisecond, "10 s"},
	{12 * time.Second, "12 s"},
	{12600 * time.Millisecond, "13 s"},
	{59600 * time.Millisecond, "1 min"},
	{3*time.Minute + 12*time.Second, "3 min 12 s"},
	{59*time.Minute + 29*time.Second, "59 min 29 s"},
	{59*time.Minute + 59*time.Second + 600*time.Millisecond, "1 h"},
	{time.Hour + 49*time.Minute + 12*time.Second, "1 h 49 min"},
	{26*time.Hour + 5*time.Minute, "26 h 5 min"},
	{-3 * time.Second, "-3 s"},
}

// TestDuration: durations as the page, the dashboard and gahpo status
// write them: a run under a second is not "0.000 s", nor an hour's
// "6540.0 s".
func TestDuration(t *testing.T) {
	for _, tt := range durationCases {
		if got := Duration(tt.d); got != tt.want {
			t.Errorf("Duration(%v) = %q, want %q", tt.d, got, tt.want)
		}
	}
}

// TestPageDurations: the page writes its durations with Duration: the
// wall time of a run under a second is not rounded to 0 s, nor an hour's
// written in seconds; an epoch of microseconds is not "0.000 s".
func TestPageDurations(t *testing.T) {
	start := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	for _, tt := range []struct {
		wall, epoch time.Duration
		want        []string
	}{
		{400 * time.Millisecond, 13 * time.Microsecond, []string{`id="wall">0.4 s<`, "<td>13 µs</td></tr>"}},
		{time.Hour + 49*time.Minute + 12*time.Second, 2 * time.Minute, []string{`id="wall">1 h 49 min<`, "<td>2 min</td></tr>"}},
	} {
		f := &gahpo.FinalTraining{GenomeID: 1, Worker: "w", Duration: tt.epoch, Curve: []gahpo.EpochReport{{Epoch: 1, Duration: tt.epoch, Metrics: map[string]gahpo.Float{"val_loss": 0.5}}}}
		s := &Snapshot{Run: gahpo.Run{ID: "r", Status: gahpo.RunDone, Best: 1, Started: start, Ended: start.Add(tt.wall)}, Final: f}
		b, err := newPage(s, nil, false).render()
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range tt.want {
			if !strings.Contains(string(b), w) {
				t.Errorf("wall time %v: page lacks %q", tt.wall, w)
			}
		}
	}
}

// TestDashboardCountsDownAsDuration: the dashboard's ETA, counted down in
// the browser between updates, is written as Duration writes it.
func TestDashboardCountsDownAsDuration(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Chromium")
	}
	st := gahpo.Status{RunID: "r", State: gahpo.RunRunning, Generation: 1, Generations: 2, Population: 2, RunETA: time.Hour}
	s := &Snapshot{Run: gahpo.Run{ID: "r", Status: gahpo.RunRunning}, Status: &st}
	b, err := newPage(s, nil, true).render()
	if err != nil {
		t.Fatal(err)
	}
	// The page alone: its event stream finds no server, which it says.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write(b)
	}))
	t.Cleanup(srv.Close)
	ctx, troubles := browser(t)
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/")); err != nil {
		t.Fatal(err)
	}
	for _, tt := range durationCases {
		js := fmt.Sprintf("gahpoDuration(%v)", float64(tt.d)/float64(time.Millisecond))
		got, err := chromedp.Run(ctx, chromedp.Evaluate[string](js))
		if err != nil || got != tt.want {
			t.Errorf("%s = %q (%v), want %q as Duration(%v)", js, got, err, tt.want, tt.d)
		}
	}
	for _, p := range troubles() {
		if strings.HasPrefix(p, "exception") {
			t.Error(p)
		}
	}
}
