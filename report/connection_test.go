package report

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/gahpo/gahpo"
	"github.com/gahpo/gahpo/models/problems"
)

// TestDashboardConnectionLost: when the dashboard's server dies, the page
// open on it says that the connection is lost rather than going on as if
// live; when the server is back it says nothing more and shows what
// changed meanwhile.
func TestDashboardConnectionLost(t *testing.T) {
	t.Parallel() // waits on a browser or a clock, not the CPU
	ctx, troubles := browser(t)
	h := newHistory(t, problems.Regression, 6, 2, false)
	h.reopen(t) // a coordinator at work
	hd := NewHandler(StoreSource{Store: h.st}, HandlerOptions{Poll: 100 * time.Millisecond})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	serve := func(l net.Listener) (stop func()) {
		srv := &http.Server{Handler: hd}
		done := make(chan struct{})
		go func() { defer close(done); _ = srv.Serve(l) }()
		return func() { srv.Close(); <-done }
	}
	stop := serve(l)
	defer func() { stop() }()

	const banner = `(function () { var c = document.getElementById("connection"); return c && !c.hidden ? c.textContent : ""; })()`
	const counts = `document.getElementById("genome-counts").textContent`
	if err := chromedp.Do(ctx, chromedp.Navigate("http://"+addr+"/")); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`document.images.length > 0 && Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)`,
		chromedp.WithPollingTimeout(30*time.Second))); err != nil {
		t.Fatalf("images did not all load: %v", err)
	}
	if s, err := chromedp.Run(ctx, chromedp.Evaluate[string](banner)); err != nil || s != "" {
		t.Fatalf("connection banner %q (%v) while the server answers, want none", s, err)
	}
	before, err := chromedp.Run(ctx, chromedp.Evaluate[string](counts))
	if err != nil {
		t.Fatal(err)
	}

	stop() // the server dies; a result arrives meanwhile
	stop = func() {}
	h.addResult(t)
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](banner+`.includes("Connection to the dashboard lost")`, chromedp.WithPollingTimeout(10*time.Second))); err != nil {
		t.Fatalf("the page does not say the connection is lost after its server died: %v", err)
	}
	screenshot(t, ctx, "dashboard-connection-lost")

	l, err = net.Listen("tcp", addr) // the server is back
	if err != nil {
		t.Fatal(err)
	}
	stop = serve(l)
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](fmt.Sprintf(`%s === "" && %s !== %q`, banner, counts, before), chromedp.WithPollingTimeout(20*time.Second))); err != nil {
		s, _ := chromedp.Run(ctx, chromedp.Evaluate[string](banner))
		c, _ := chromedp.Run(ctx, chromedp.Evaluate[string](counts))
		t.Fatalf("the page after its server came back: banner %q, counts %q (were %q): %v", s, c, before, err)
	}
	for _, p := range troubles() {
		if !strings.Contains(p, "net::ERR_") { // the requests refused while it was down
			t.Error(p)
		}
	}
}

// TestDashboardETACountsDown: the page's ETA of the run goes down by
// itself between updates, as gahpo status's does.
func TestDashboardETACountsDown(t *testing.T) {
	t.Parallel() // waits on a browser or a clock, not the CPU
	h := newRunningHistory(t, problems.Regression, 6, 2, false)
	status := func() gahpo.Status {
		return gahpo.Status{RunID: h.run.ID, State: gahpo.RunRunning, Generation: 2, Generations: 2, Population: 6, Done: 4, InFlight: 2, RunETA: 30 * time.Second}
	}
	srv := httptest.NewServer(NewHandler(StoreSource{Store: h.st, Status: status}, HandlerOptions{Poll: 100 * time.Millisecond}))
	t.Cleanup(srv.Close) // after the browser's, which ends the page's event stream
	ctx, troubles := browser(t)
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/")); err != nil {
		t.Fatal(err)
	}
	const eta = `document.getElementById("eta").textContent`
	// The page may count down before it is read on a loaded machine: the
	// first reading is the status's 30 s or a little less.
	first, err := chromedp.Run(ctx, chromedp.Evaluate[string](eta))
	secs, perr := strconv.ParseFloat(strings.TrimSuffix(first, " s"), 64)
	if err != nil || perr != nil || !strings.HasSuffix(first, " s") || secs > 30 || secs < 25 {
		t.Fatalf("ETA %q (%v), want 30.0 s or a little less", first, err)
	}
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](fmt.Sprintf("parseFloat(%s) < %g", eta, secs-1), chromedp.WithPollingTimeout(15*time.Second))); err != nil {
		now, _ := chromedp.Run(ctx, chromedp.Evaluate[string](eta))
		t.Errorf("the page's ETA stays at %q: %v", now, err)
	}
	for _, p := range troubles() {
		t.Error(p)
	}
}
