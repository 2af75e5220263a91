package report

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
	"github.com/gahpo/gahpo"
	"github.com/gahpo/gahpo/models/problems"
	"github.com/gahpo/gahpo/store"
)

// addResult stores one more evaluated genome, as a coordinator would.
func (h *history) addResult(t *testing.T) gahpo.GenomeRecord {
	t.Helper()
	last := h.all[len(h.all)-1]
	g := last
	g.ID, g.Generation, g.Fitness, g.Status = last.ID+1, last.Generation+1, gahpo.Float(0.01), gahpo.GenomeDone
	g.Finished = last.Finished.Add(time.Second)
	if err := h.st.Commit(h.run.ID, store.Change{Genomes: []gahpo.GenomeRecord{g}}); err != nil {
		t.Fatal(err)
	}
	h.all = append(h.all, g)
	return g
}

func TestHandlerEndpoints(t *testing.T) {
	h := newHistory(t, problems.Regression, 8, 3, false)
	srv := httptest.NewServer(NewHandler(StoreSource{Store: h.st}, HandlerOptions{Poll: 50 * time.Millisecond}))
	defer srv.Close()
	get := func(path string) (int, string, []byte) {
		t.Helper()
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header.Get("Content-Type"), b
	}
	for _, tc := range []struct {
		path, ctype string
		code        int
	}{
		{"/", "text/html; charset=utf-8", 200},
		{"/fragment", "text/html; charset=utf-8", 200},
		{"/best-boxes.png", "image/png", 200},
		{"/regression-fit.png", "image/png", 200},
		{"/api/snapshot", "application/json", 200},
		{"/no-such.png", "", 404},
		{"/etc-passwd", "", 404},
	} {
		code, ctype, body := get(tc.path)
		if code != tc.code || (tc.ctype != "" && ctype != tc.ctype) {
			t.Errorf("GET %s: %d %q, want %d %q", tc.path, code, ctype, tc.code, tc.ctype)
		}
		if tc.ctype == "image/png" && code == 200 {
			checkPNG(t, tc.path, body, int(figW.Dots(96)), int(figH.Dots(96)))
		}
	}
	var sum struct {
		Version     string     `json:"version"`
		Generations []GenStats `json:"generations"`
	}
	_, _, body := get("/api/snapshot")
	if err := json.Unmarshal(body, &sum); err != nil {
		t.Fatal(err)
	}
	if len(sum.Generations) != 3 || sum.Generations[0].Generation != 1 {
		t.Errorf("snapshot generations %+v, want 3 counted from 1", sum.Generations)
	}
	// The event stream of a running run announces a new version when a
	// result arrives.
	h.reopen(t)
	time.Sleep(60 * time.Millisecond) // past the snapshot cache
	_, _, body = get("/api/snapshot")
	if err := json.Unmarshal(body, &sum); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/events", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	buf := make([]byte, 4096)
	n, _ := resp.Body.Read(buf)
	if !strings.Contains(string(buf[:n]), "event: update\ndata: "+sum.Version) {
		t.Fatalf("first event %q, want the current version %s", buf[:n], sum.Version)
	}
	h.addResult(t)
	n, err = resp.Body.Read(buf)
	if err != nil || !strings.Contains(string(buf[:n]), "event: update") || strings.Contains(string(buf[:n]), sum.Version) {
		t.Errorf("after a result: %q, %v; want an update with a new version", buf[:n], err)
	}
	// When the run ends, the stream sends its final version, says done
	// and ends.
	h.finish(t, problems.Regression, h.at)
	rest, err := io.ReadAll(resp.Body)
	if err != nil || !strings.Contains(string(rest), "-done\n\nevent: done\ndata: ") {
		t.Errorf("after the run ended: %q, %v; want an update to a done version, then done, then the end", rest, err)
	}
	// A page that shows the final version is told done at once.
	resp2, err := http.Get(srv.URL + "/events?v=" + strings.TrimPrefix(strings.Split(string(rest), "\n")[1], "data: "))
	if err != nil {
		t.Fatal(err)
	}
	defer resp2.Body.Close()
	if b, err := io.ReadAll(resp2.Body); err != nil || !strings.HasPrefix(string(b), "event: done\n") {
		t.Errorf("a page showing the end: %q, %v; want done alone", b, err)
	}
}

// TestDashboardInBrowser loads the dashboard in headless Chromium: no
// console errors, every image loads, and the page changes by itself when a
// result is stored.
func TestDashboardInBrowser(t *testing.T) {
	t.Parallel() // waits on a browser or a clock, not the CPU
	h := newHistory(t, problems.Regression, 8, 3, false)
	h.reopen(t) // a coordinator at work
	srv := httptest.NewServer(NewHandler(StoreSource{Store: h.st}, HandlerOptions{Poll: 100 * time.Millisecond}))
	t.Cleanup(srv.Close) // after the browser's, which ends the page's event stream
	ctx, troubles := browser(t)

	const counts = `document.getElementById("genome-counts").textContent`
	const allLoaded = `document.images.length > 0 && Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)`
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/")); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](allLoaded, chromedp.WithPollingTimeout(30*time.Second))); err != nil {
		t.Fatalf("images did not all load: %v", err)
	}
	images, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.images.length`))
	if err != nil || images < 8 {
		t.Errorf("%d images on the page (%v), want at least 8", images, err)
	}
	before, err := chromedp.Run(ctx, chromedp.Evaluate[string](counts))
	if err != nil {
		t.Fatal(err)
	}
	h.addResult(t)
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](fmt.Sprintf(`%s !== %q`, counts, before), chromedp.WithPollingTimeout(30*time.Second))); err != nil {
		t.Fatalf("the page did not change after a result (was %q): %v", before, err)
	}
	after, _ := chromedp.Run(ctx, chromedp.Evaluate[string](counts))
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](allLoaded, chromedp.WithPollingTimeout(30*time.Second))); err != nil {
		t.Errorf("images did not all load after the update: %v", err)
	}
	rows, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("#generations tr").length`))
	if err != nil || rows != 1+4 {
		t.Errorf("generation table has %d rows (%v) after a result of generation 4, want a header and 4", rows, err)
	}
	for _, p := range troubles() {
		t.Error(p)
	}
	t.Logf("page before: %q, after: %q", before, after)
}

// browser starts headless Chromium (skipping without one) and collects
// the page's console errors and warnings, exceptions and error log
// entries.
func browser(t *testing.T) (context.Context, func() []string) {
	t.Helper()
	path, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("no chromium on PATH (apt-get install chromium):", err)
	}
	actx, cancel := chromedp.NewExecAllocator(context.Background(), append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.Headless, chromedp.DisableGPU)...)
	t.Cleanup(cancel)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(cancel)
	ctx, cancel = context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(cancel)
	var mu sync.Mutex
	var troubles []string
	chromedp.Listen(ctx, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch ev := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeWarning {
				var args []string
				for _, a := range ev.Args {
					args = append(args, a.Description+string(a.Value))
				}
				troubles = append(troubles, fmt.Sprintf("console.%s: %s", ev.Type, strings.Join(args, " ")))
			}
		case *runtime.EventExceptionThrown:
			troubles = append(troubles, "exception: "+ev.ExceptionDetails.Text)
		case *log.EventEntryAdded:
			// ERR_NETWORK_CHANGED: Chromium drops its connections when the
			// machine's interfaces change (the Docker tests beside this one
			// add and remove bridges); the page reconnects, and the test
			// checks what it shows after.
			if ev.Entry.Level == log.EntryLevelError && !strings.Contains(ev.Entry.Text, "net::ERR_NETWORK_CHANGED") {
				troubles = append(troubles, "log: "+ev.Entry.Text+" "+ev.Entry.URL)
			}
		}
	})
	return ctx, func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(troubles)
	}
}

// screenshot saves the page as NAME.png in $GAHPO_SCREENSHOTS, if set.
func screenshot(t *testing.T, ctx context.Context, name string) {
	dir := os.Getenv("GAHPO_SCREENSHOTS")
	if dir == "" {
		return
	}
	b, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // PNG
	if err != nil {
		t.Errorf("screenshot %s: %v", name, err)
		return
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), b, 0o644); err != nil {
		t.Error(err)
	}
}

// TestDashboardShowsTheEnd: a page open while the run ends shows it done,
// with its final training, although the server stops right after: Finish
// holds it until the page has fetched the end, and the page does not try
// to reconnect to the stopped server.
func TestDashboardShowsTheEnd(t *testing.T) {
	t.Parallel() // waits on a browser or a clock, not the CPU
	ctx, troubles := browser(t)
	h := newRunningHistory(t, problems.Regression, 8, 3, false)
	hd := NewHandler(StoreSource{Store: h.st}, HandlerOptions{}) // the commands' poll, a second
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: hd}
	served := make(chan struct{})
	go func() { defer close(served); _ = srv.Serve(l) }()
	defer func() { srv.Close(); <-served }()

	const status = `document.getElementById("run-status").textContent`
	const allLoaded = `document.images.length > 0 && Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)`
	if err := chromedp.Do(ctx, chromedp.Navigate("http://"+l.Addr().String()+"/")); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](allLoaded, chromedp.WithPollingTimeout(30*time.Second))); err != nil {
		t.Fatalf("images did not all load: %v", err)
	}
	if s, err := chromedp.Run(ctx, chromedp.Evaluate[string](status)); err != nil || s != "running" {
		t.Fatalf("status %q (%v), want running", s, err)
	}
	screenshot(t, ctx, "dashboard-running")

	// The run ends; its process stops serving as soon as Finish returns.
	h.finish(t, problems.Regression, h.at)
	fctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	start := time.Now()
	hd.Finish(fctx)
	took := time.Since(start)
	srv.Close()
	if fctx.Err() != nil {
		t.Errorf("Finish waited for its deadline (%s): the page never fetched the end", took)
	}

	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](status+` === "done"`, chromedp.WithPollingTimeout(15*time.Second))); err != nil {
		s, _ := chromedp.Run(ctx, chromedp.Evaluate[string](status))
		t.Fatalf("the page open while the run ended shows it %q, not done: %v", s, err)
	}
	rows, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("#final-epochs tr").length`))
	if err != nil || rows < 2 {
		t.Errorf("final training table has %d rows (%v), want the final's epochs", rows, err)
	}
	live, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.getElementById("live").textContent`))
	if !strings.HasPrefix(live, "finished: the run is done") {
		t.Errorf("live line %q, want finished", live)
	}
	if ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](allLoaded)); err != nil || !ok {
		t.Errorf("the final page's images did not all load from the server before it stopped (%v)", err)
	}
	time.Sleep(4 * time.Second) // an EventSource would retry by now (3 s) and be refused
	screenshot(t, ctx, "dashboard-done")
	for _, p := range troubles() {
		t.Error(p)
	}
	t.Logf("Finish returned after %s", took)
}

// goneSource is a source that stops answering when gone is set, as a
// live source does once its coordinator exits.
type goneSource struct {
	Source
	gone *atomic.Bool
}

func (s goneSource) Snapshot(ctx context.Context) (*Snapshot, error) {
	if s.gone.Load() {
		return nil, errors.New("report: live status: bus: no running coordinator answered")
	}
	return s.Source.Snapshot(ctx)
}

// TestDashboardSourceGone: when the coordinator a dashboard reads stops
// answering, the page says so, with what it last showed, instead of
// going on showing a running run and its ETA; the event stream tells the
// open pages, and the page is live again when the coordinator answers.
func TestDashboardSourceGone(t *testing.T) {
	t.Parallel() // waits on a browser or a clock, not the CPU
	h := newRunningHistory(t, problems.Regression, 6, 2, false)
	var gone atomic.Bool
	status := func() gahpo.Status {
		return gahpo.Status{RunID: h.run.ID, State: gahpo.RunRunning, Generation: 2, Generations: 2, Population: 6, Done: 4, InFlight: 2, RunETA: 3 * time.Second}
	}
	srv := httptest.NewServer(NewHandler(goneSource{StoreSource{Store: h.st, Status: status}, &gone}, HandlerOptions{Poll: 50 * time.Millisecond}))
	defer srv.Close()
	get := func(path string) string {
		t.Helper()
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
		}
		return string(b)
	}
	text := func(html string) string {
		return strings.Join(strings.Fields(regexp.MustCompile(`<[^>]*>`).ReplaceAllString(html, " ")), " ")
	}
	live := text(get("/fragment"))
	for _, want := range []string{"live: updates as results arrive", "status running", "ETA of the run 3 s"} {
		if !strings.Contains(live, want) {
			t.Errorf("live page lacks %q:\n%s", want, live)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/events", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	buf := make([]byte, 4096)
	n, _ := resp.Body.Read(buf)
	if strings.Contains(string(buf[:n]), "gone") {
		t.Fatalf("first event %q", buf[:n])
	}

	gone.Store(true)
	n, err = resp.Body.Read(buf)
	if err != nil || !strings.Contains(string(buf[:n]), "-gone\n") {
		t.Errorf("after the coordinator went: %q, %v; want an update to a gone version", buf[:n], err)
	}
	page := text(get("/fragment"))
	for _, want := range []string{"the coordinator is gone: it has not answered since", "no running coordinator answered",
		"gahpo report --serve ADDR --db " + h.path + " once", "status unknown: the coordinator is gone; it last reported running",
		"when the coordinator last answered: running, generation 2 of 2: 4/6 done", "12 bred"} {
		if !strings.Contains(page, want) {
			t.Errorf("page of a gone coordinator lacks %q:\n%s", want, page)
		}
	}
	for _, bad := range []string{"live: updates", "ETA"} {
		if strings.Contains(page, bad) {
			t.Errorf("page of a gone coordinator holds %q:\n%s", bad, page)
		}
	}
	var sum Summary
	if err := json.Unmarshal([]byte(get("/api/snapshot")), &sum); err != nil || sum.Gone == nil || !strings.HasSuffix(sum.Version, "-gone") {
		t.Errorf("snapshot of a gone coordinator: gone %v, version %q (%v)", sum.Gone, sum.Version, err)
	}
	if dir := os.Getenv("GAHPO_SCREENSHOTS"); dir != "" {
		if err := os.WriteFile(filepath.Join(dir, "gone.html"), []byte(get("/")), 0o644); err != nil {
			t.Error(err)
		}
	}

	gone.Store(false)
	n, err = resp.Body.Read(buf)
	if err != nil || strings.Contains(string(buf[:n]), "gone") {
		t.Errorf("after the coordinator came back: %q, %v; want an update to a live version", buf[:n], err)
	}
	if back := text(get("/fragment")); !strings.Contains(back, "live: updates as results arrive") {
		t.Errorf("page after the coordinator came back:\n%s", back)
	}
}

// TestClientThatDoesNotReadHoldsNothingUp: a client asks for figures again
// and again on one connection and never reads the answers; the others are
// served all the while, and the run's end (Finish) keeps its deadline.
func TestClientThatDoesNotReadHoldsNothingUp(t *testing.T) {
	t.Parallel() // waits on a browser or a clock, not the CPU
	h := newHistory(t, problems.Regression, 8, 3, false)
	handler := NewHandler(StoreSource{Store: h.st}, HandlerOptions{Poll: 50 * time.Millisecond})
	srv := httptest.NewServer(handler)
	defer srv.Close()
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetReadBuffer(4096) // fill the server's socket buffer soon
	}
	go func() {
		req := "GET /regression-fit.png HTTP/1.1\r\nHost: x\r\n\r\n"
		for range 2000 {
			if _, err := conn.Write([]byte(req)); err != nil {
				return
			}
		}
	}()
	time.Sleep(2 * time.Second) // the server's writes to it block by now
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, path := range []string{"/api/snapshot", "/regression-fit.png", "/"} {
		req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("GET %s beside a client that does not read: %v", path, err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("GET %s: %d", path, resp.StatusCode)
		}
	}
	fctx, fcancel := context.WithTimeout(context.Background(), time.Second)
	defer fcancel()
	start := time.Now()
	handler.Finish(fctx)
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Finish took %v past its 1 s deadline", d)
	}
}
