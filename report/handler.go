package report

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"
)

// HandlerOptions configure the dashboard.
type HandlerOptions struct {
	Options
	// Poll is how often the dashboard reads the source for new results
	// (0: every second).
	Poll time.Duration
	// Logger receives the source's errors (nil: slog.Default()).
	Logger *slog.Logger
}

// Handler serves a run's report as a live dashboard:
//
//	GET /               the page (it follows updates by itself)
//	GET /fragment       the page's content, for the page's script
//	GET /NAME.png       a figure, drawn from the latest results
//	GET /api/snapshot   the summary as JSON: version, run, generations, final training, status
//	GET /events         server-sent events: "update" with the version whenever results change
//
// Mount it under a path prefix with http.StripPrefix; the page links are
// relative.
type Handler struct {
	src  Source
	opt  HandlerOptions
	log  *slog.Logger
	mux  *http.ServeMux
	mu   sync.Mutex
	snap *Snapshot
	at   time.Time
	figs []Figure
	pngs map[string][]byte // figure file → PNG, for snap's version
}

// NewHandler returns the dashboard of the source's run.
func NewHandler(src Source, opt HandlerOptions) *Handler {
	if opt.Poll <= 0 {
		opt.Poll = time.Second
	}
	h := &Handler{src: src, opt: opt, log: opt.Logger, mux: http.NewServeMux()}
	if h.log == nil {
		h.log = slog.Default()
	}
	h.mux.HandleFunc("GET /{$}", h.servePage)
	h.mux.HandleFunc("GET /index.html", h.servePage)
	h.mux.HandleFunc("GET /fragment", h.servePage)
	h.mux.HandleFunc("GET /api/snapshot", h.serveJSON)
	h.mux.HandleFunc("GET /events", h.serveEvents)
	h.mux.HandleFunc("GET /favicon.ico", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) })
	h.mux.HandleFunc("GET /{file}", h.serveFigure)
	return h
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) { h.mux.ServeHTTP(w, r) }

// current returns a snapshot at most half a poll interval old, with its
// figures.
func (h *Handler) current(ctx context.Context) (*Snapshot, []Figure, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.snap != nil && time.Since(h.at) < h.opt.Poll/2 {
		return h.snap, h.figs, nil
	}
	s, err := h.src.Snapshot(ctx)
	if err != nil {
		if h.snap != nil {
			h.log.Warn("report: source", "err", err)
			return h.snap, h.figs, nil
		}
		return nil, nil, err
	}
	if h.snap == nil || Version(s) != Version(h.snap) {
		h.figs = Figures(s, h.opt.Options)
		h.pngs = map[string][]byte{}
	}
	h.snap, h.at = s, time.Now()
	return h.snap, h.figs, nil
}

func (h *Handler) servePage(w http.ResponseWriter, r *http.Request) {
	s, figs, err := h.current(r.Context())
	if err != nil {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	name := "page"
	if r.URL.Path == "/fragment" {
		name = "content"
	}
	b, err := newPage(s, figs, true).exec(name)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(b)
}

func (h *Handler) serveFigure(w http.ResponseWriter, r *http.Request) {
	file := r.PathValue("file")
	if !strings.HasSuffix(file, ".png") {
		http.NotFound(w, r)
		return
	}
	if _, _, err := h.current(r.Context()); err != nil {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	b, ok := h.pngs[file]
	if !ok {
		for _, f := range h.figs {
			if f.File() != file || f.Plot == nil {
				continue
			}
			var err error
			if b, err = f.PNG(); err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			h.pngs[file] = b
			ok = true
		}
	}
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "image/png")
	w.Header().Set("Cache-Control", "no-cache")
	w.Write(b)
}

// Summary is the JSON answer of /api/snapshot.
type Summary struct {
	Version     string      `json:"version"`
	Run         any         `json:"run"`
	Generations []GenStats  `json:"generations"`
	Final       any         `json:"final,omitempty"`
	Status      any         `json:"status,omitempty"`
	Figures     []FigureRef `json:"figures"`
}

// FigureRef names a figure of the summary.
type FigureRef struct {
	File    string `json:"file,omitempty"`
	Caption string `json:"caption"`
	Missing string `json:"missing,omitempty"`
}

func (h *Handler) serveJSON(w http.ResponseWriter, r *http.Request) {
	s, figs, err := h.current(r.Context())
	if err != nil {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	sum := Summary{Version: Version(s), Run: s.Run, Generations: RunStats(s.Run, s.Genomes)}
	if s.Final != nil {
		sum.Final = s.Final
	}
	if s.Status != nil {
		sum.Status = s.Status
	}
	for _, f := range figs {
		ref := FigureRef{Caption: f.Caption, Missing: f.Missing}
		if f.Plot != nil {
			ref.File = f.File()
		}
		sum.Figures = append(sum.Figures, ref)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(sum)
}

func (h *Handler) serveEvents(w http.ResponseWriter, r *http.Request) {
	fl, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming unsupported", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	last := ""
	tick := time.NewTicker(h.opt.Poll)
	defer tick.Stop()
	for {
		if s, _, err := h.current(r.Context()); err == nil {
			if v := Version(s); v != last {
				last = v
				if _, err := fmt.Fprintf(w, "event: update\ndata: %s\n\n", v); err != nil {
					return
				}
				fl.Flush()
			}
		}
		select {
		case <-r.Context().Done():
			return
		case <-tick.C:
		}
	}
}
