package report

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"sync"
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
	// The event stream announces a new version when a result arrives.
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
}

// TestDashboardInBrowser loads the dashboard in headless Chromium: no
// console errors, every image loads, and the page changes by itself when a
// result is stored.
func TestDashboardInBrowser(t *testing.T) {
	path, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("no chromium on PATH (apt-get install chromium):", err)
	}
	h := newHistory(t, problems.Regression, 8, 3, false)
	srv := httptest.NewServer(NewHandler(StoreSource{Store: h.st}, HandlerOptions{Poll: 100 * time.Millisecond}))
	defer srv.Close()

	actx, cancel := chromedp.NewExecAllocator(context.Background(), append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path), chromedp.NoSandbox, chromedp.Headless, chromedp.DisableGPU)...)
	defer cancel()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancel = context.WithTimeout(ctx, 90*time.Second)
	defer cancel()

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
			if ev.Entry.Level == log.EntryLevelError {
				troubles = append(troubles, "log: "+ev.Entry.Text+" "+ev.Entry.URL)
			}
		}
	})
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
	mu.Lock()
	defer mu.Unlock()
	for _, p := range troubles {
		t.Error(p)
	}
	t.Logf("page before: %q, after: %q", before, after)
}
