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

	"github.com/gahpo/gahpo"
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
//	GET /events         server-sent events: "update" with the version whenever results change,
//	                    and "done" after the update of a run that ended (the stream ends there);
//	                    ?v=VERSION names the version the page shows
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
	// gone is the source's error since it stopped answering (a
	// coordinator that exited), goneAt when; nil while it answers.
	gone   error
	goneAt time.Time
	// ended is closed by Finish: the streams send the final state at
	// once. streams counts the open event streams, waiting the pages told
	// of the ended run's final version that have not fetched it yet,
	// busy the requests being served and last when the last one ended.
	ended    chan struct{}
	endOnce  sync.Once
	streams  int
	waiting  int
	busy     int
	last     time.Time
	finalVer string // the version of the ended run the pages were told of
}

// NewHandler returns the dashboard of the source's run.
func NewHandler(src Source, opt HandlerOptions) *Handler {
	if opt.Poll <= 0 {
		opt.Poll = time.Second
	}
	h := &Handler{src: src, opt: opt, log: opt.Logger, mux: http.NewServeMux(), ended: make(chan struct{})}
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
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/events" {
		// Every answer but the event stream is written within writeWait:
		// a client that stops reading holds its connection no longer.
		_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(writeWait))
	}
	h.mu.Lock()
	h.busy++
	h.mu.Unlock()
	defer func() {
		h.mu.Lock()
		h.busy--
		h.last = time.Now()
		h.mu.Unlock()
	}()
	h.mux.ServeHTTP(w, r)
}

// writeWait bounds the writing of an answer other than the event stream.
const writeWait = 30 * time.Second

// settleQuiet is how long Finish waits after the last request for those
// that follow (a fetched page loads its figures).
const settleQuiet = 300 * time.Millisecond

// Finish tells the pages open on the dashboard that the run ended: their
// event streams send its final version at once and end. It returns once
// each page told has fetched the final state and its figures (no request
// for settleQuiet), or when ctx ends: a server that is about to stop calls
// it with a short deadline, so that the pages show how the run ended.
func (h *Handler) Finish(ctx context.Context) {
	h.mu.Lock()
	h.at = time.Time{} // read the source again: the final state
	h.mu.Unlock()
	h.endOnce.Do(func() { close(h.ended) })
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		h.mu.Lock()
		settled := h.streams == 0 && h.waiting == 0 && h.busy == 0 && time.Since(h.last) >= settleQuiet
		h.mu.Unlock()
		if settled {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// sourceWait bounds a source's answer.
const sourceWait = 5 * time.Second

// current returns a snapshot at most half a poll interval old, with its
// figures.
func (h *Handler) current(ctx context.Context) (*Snapshot, []Figure, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.snap != nil && time.Since(h.at) < h.opt.Poll/2 {
		return h.snap, h.figs, nil
	}
	// A source that does not answer (a coordinator's NATS server gone, its
	// client reconnecting) is given up on soon: the page says it is gone.
	sctx, cancel := context.WithTimeout(ctx, sourceWait)
	s, err := h.src.Snapshot(sctx)
	cancel()
	if err != nil {
		if h.snap != nil {
			if h.gone == nil {
				h.log.Warn("report: the source stopped answering; the dashboard shows what it last did", "err", err)
				h.goneAt = time.Now()
			}
			h.gone, h.at = err, time.Now()
			return h.snap, h.figs, nil
		}
		return nil, nil, err
	}
	if h.gone != nil {
		h.log.Info("report: the source answers again")
		h.gone = nil
	}
	if h.snap == nil || Version(s) != Version(h.snap) {
		h.figs = Figures(s, h.opt.Options)
		h.pngs = map[string][]byte{}
	}
	h.snap, h.at = s, time.Now()
	return h.snap, h.figs, nil
}

// version is the version of s as served: Version, marked when the source
// is gone. Call with h.mu held.
func (h *Handler) version(s *Snapshot) string {
	v := Version(s)
	if h.gone != nil {
		v += "-gone"
	}
	return v
}

// served returns the current snapshot with its figures, served version
// and, when the source is gone, since when and why.
func (h *Handler) served(ctx context.Context) (*Snapshot, []Figure, string, goneInfo, error) {
	s, figs, err := h.current(ctx)
	if err != nil {
		return nil, nil, "", goneInfo{}, err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	var g goneInfo
	if h.gone != nil {
		g = goneInfo{At: h.goneAt, Err: h.gone.Error()}
	}
	return s, figs, h.version(s), g, nil
}

func (h *Handler) servePage(w http.ResponseWriter, r *http.Request) {
	s, figs, v, gone, err := h.served(r.Context())
	if err != nil {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	name := "page"
	if r.URL.Path == "/fragment" {
		name = "content"
		h.mu.Lock()
		if h.waiting > 0 && v == h.finalVer {
			h.waiting-- // a page told of the end fetched it
		}
		h.mu.Unlock()
	}
	pg := newPage(s, figs, true)
	pg.Version = v
	if gone.Err != "" {
		pg.Gone = &gone
	}
	b, err := pg.exec(name)
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
	b, ok, err := h.figure(file)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "image/png")
	w.Header().Set("Cache-Control", "no-cache")
	w.Write(b)
}

// figure returns the PNG of the current figure named file, drawn once per
// version; the lock is released before it is written out, so that a
// client that does not read holds no other request up.
func (h *Handler) figure(file string) (png []byte, ok bool, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if b, ok := h.pngs[file]; ok {
		return b, true, nil
	}
	for _, f := range h.figs {
		if f.File() != file || f.Plot == nil {
			continue
		}
		b, err := f.PNG()
		if err != nil {
			return nil, false, err
		}
		h.pngs[file] = b
		return b, true, nil
	}
	return nil, false, nil
}

// Summary is the JSON answer of /api/snapshot.
type Summary struct {
	Version     string     `json:"version"`
	Run         any        `json:"run"`
	Generations []GenStats `json:"generations"`
	Final       any        `json:"final,omitempty"`
	Status      any        `json:"status,omitempty"`
	// Gone says since when and why the source (a coordinator) no longer
	// answers; the rest is what it last said.
	Gone    *goneInfo   `json:"gone,omitempty"`
	Figures []FigureRef `json:"figures"`
}

// goneInfo is when a dashboard's source stopped answering, and its error.
type goneInfo struct {
	At  time.Time `json:"at"`
	Err string    `json:"error"`
}

// FigureRef names a figure of the summary.
type FigureRef struct {
	File    string `json:"file,omitempty"`
	Caption string `json:"caption"`
	Missing string `json:"missing,omitempty"`
}

func (h *Handler) serveJSON(w http.ResponseWriter, r *http.Request) {
	s, figs, v, gone, err := h.served(r.Context())
	if err != nil {
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
		return
	}
	sum := Summary{Version: v, Run: s.Run, Generations: RunStats(s.Run, s.Genomes)}
	if gone.Err != "" {
		sum.Gone = &gone
	}
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
	h.mu.Lock()
	h.streams++
	h.mu.Unlock()
	defer func() {
		h.mu.Lock()
		h.streams--
		h.mu.Unlock()
	}()
	last := r.URL.Query().Get("v") // the page's
	tick := time.NewTicker(h.opt.Poll)
	defer tick.Stop()
	ended := h.ended
	for {
		if s, _, v, _, err := h.served(r.Context()); err == nil {
			sent := v != last
			if sent {
				last = v
				if _, err := fmt.Fprintf(w, "event: update\ndata: %s\n\n", v); err != nil {
					return
				}
			}
			if s.Run.Status == gahpo.RunDone || s.Run.Status == gahpo.RunFailed {
				// Nothing more will change: the page fetches this version
				// (Finish waits for it) and stops listening.
				h.mu.Lock()
				if sent {
					h.waiting++
					h.finalVer = v
				}
				h.mu.Unlock()
				fmt.Fprintf(w, "event: done\ndata: %s\n\n", v)
				fl.Flush()
				return
			}
			fl.Flush()
		}
		select {
		case <-r.Context().Done():
			return
		case <-tick.C:
		case <-ended:
			ended = nil // at once, and then by the tick
		}
	}
}
