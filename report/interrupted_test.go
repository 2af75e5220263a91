package report

import (
	"context"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gahpo/gahpo/models/problems"
	"github.com/gahpo/gahpo/store"
)

// TestInterruptedRun: a run left running in its history file (its
// coordinator killed) is shown as interrupted, not live, by the dashboard
// and by the written report, its wall time stopped at its last result
// rather than growing with the time it has lain since; the same run read
// while its coordinator holds the file open for writing is live.
func TestInterruptedRun(t *testing.T) {
	h := newRunningHistory(t, problems.Regression, 4, 2, false)
	live, err := newPage(must(t)(StoreSource{Store: h.st}.Snapshot(context.Background())), nil, true).exec("content")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(live), "live: updates as results arrive") || strings.Contains(string(live), "interrupted") {
		t.Errorf("a run its coordinator holds open is not shown live:\n%s", live)
	}
	h.st.Close() // the coordinator is killed
	// The page names the file in the command that resumes the run, quoted
	// for a shell where it must be.
	dir := t.TempDir()
	path := filepath.Join(dir, "it's a history.db")
	quoted := html.EscapeString("'" + dir + `/it'\''s a history.db'`) // as the page writes a quote
	if err := os.Rename(h.path, path); err != nil {
		t.Fatal(err)
	}
	ro, err := store.Open(path, store.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	wall := h.at.Sub(h.run.Started) // to its last result
	want := []string{"interrupted: no coordinator is at work on this run", "interrupted while running",
		"gahpo run --run r1 --db " + quoted + "</code> (or <code>gahpo coordinator --run r1 --db " + quoted + "</code>) resumes it",
		`<td class="l" id="wall">` + Duration(wall) + " (to its last result)"}

	srv := httptest.NewServer(NewHandler(StoreSource{Store: ro}, HandlerOptions{Poll: 50 * time.Millisecond}))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	out := t.TempDir()
	if _, err := Write(context.Background(), StoreSource{Store: ro}, out, Options{}); err != nil {
		t.Fatal(err)
	}
	written, err := os.ReadFile(filepath.Join(out, "index.html"))
	if err != nil {
		t.Fatal(err)
	}
	for name, page := range map[string]string{"dashboard": string(b), "written report": string(written)} {
		for _, w := range want {
			if name == "written report" && strings.HasPrefix(w, "interrupted: no coordinator") {
				continue // the live line is the dashboard's
			}
			if !strings.Contains(page, w) {
				t.Errorf("%s of an interrupted run lacks %q", name, w)
			}
		}
		if strings.Contains(page, "FILE") {
			t.Errorf("%s of an interrupted run read from %s names a placeholder FILE", name, path)
		}
		if strings.Contains(page, "live: updates") {
			t.Errorf("%s shows an interrupted run as live", name)
		}
	}
	// A snapshot that does not know its file keeps the placeholder.
	s := must(t)(StoreSource{Store: ro}.Snapshot(context.Background()))
	s.DB = ""
	unknown, err := newPage(s, nil, false).exec("content")
	if err != nil {
		t.Fatal(err)
	}
	if w := "--db FILE</code>), FILE being this history file, resumes it"; !strings.Contains(string(unknown), w) {
		t.Errorf("page of an interrupted run from an unknown file lacks %q", w)
	}
}

// must returns a snapshot or fails the test.
func must(t *testing.T) func(*Snapshot, error) *Snapshot {
	return func(s *Snapshot, err error) *Snapshot {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
}
