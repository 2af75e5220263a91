package main

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/gahpo/gahpo/coordinator"
	"github.com/gahpo/gahpo/report"
	"github.com/gahpo/gahpo/store"
)

// httpTokenEnv holds the token that a dashboard served beyond loopback
// requires (never a flag: arguments are visible to every user of a host).
const httpTokenEnv = "GAHPO_HTTP_TOKEN"

// guardHTTP resolves a dashboard address ("" host: loopback) and, for an
// address beyond loopback, wraps h so that every request must carry the
// token of GAHPO_HTTP_TOKEN (header "Authorization: Bearer TOKEN", or
// ?token=TOKEN once, which sets a cookie). Without a token such an address
// is refused: nothing listens beyond loopback without authentication.
func guardHTTP(addr string, h http.Handler) (string, http.Handler, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", nil, fmt.Errorf("bad address %q: %w", addr, err)
	}
	if host == "" {
		host = "127.0.0.1"
	}
	addr = net.JoinHostPort(host, port)
	if loopback(host) {
		return addr, localOnly(h), nil
	}
	token := os.Getenv(httpTokenEnv)
	if token == "" {
		return "", nil, fmt.Errorf("serving the dashboard on %s, beyond loopback, needs a token: set %s in the environment (clients send it as \"Authorization: Bearer TOKEN\" or open the page once with ?token=TOKEN)", addr, httpTokenEnv)
	}
	return addr, tokenAuth(token, h), nil
}

// loopback tells whether a listening host reaches this machine only ("",
// and so every interface, does not).
func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// localOnly answers only requests that name this machine in their Host
// (localhost, a loopback address): a web page whose name an attacker
// points at 127.0.0.1 (DNS rebinding) would otherwise read a dashboard that
// has no token on loopback.
func localOnly(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host := r.Host
		if hh, _, err := net.SplitHostPort(host); err == nil {
			host = hh
		}
		if !loopback(strings.Trim(host, "[]")) {
			http.Error(w, "gahpo: this dashboard answers requests for localhost or a loopback address only", http.StatusMisdirectedRequest)
			return
		}
		h.ServeHTTP(w, r)
	})
}

func tokenAuth(token string, h http.Handler) http.Handler {
	ok := func(s string) bool { return subtle.ConstantTimeCompare([]byte(s), []byte(token)) == 1 }
	// A cookie of this token's own name: browsers keep cookies by host,
	// not port, and two dashboards on one host would overwrite each
	// other's under one name.
	sum := sha256.Sum256([]byte(token))
	cookie := "gahpo_token_" + hex.EncodeToString(sum[:4])
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if q := r.URL.Query().Get("token"); q != "" && ok(q) {
			http.SetCookie(w, &http.Cookie{Name: cookie, Value: q, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode})
			// The same page without the token in its address (history,
			// bookmarks, a shared screen).
			u := *r.URL
			qs := u.Query()
			qs.Del("token")
			u.RawQuery = qs.Encode()
			http.Redirect(w, r, u.RequestURI(), http.StatusSeeOther)
			return
		}
		if a := r.Header.Get("Authorization"); len(a) > 7 && a[:7] == "Bearer " && ok(a[7:]) {
			h.ServeHTTP(w, r)
			return
		}
		if c, err := r.Cookie(cookie); err == nil && ok(c.Value) {
			h.ServeHTTP(w, r)
			return
		}
		http.Error(w, "gahpo: a token is required", http.StatusUnauthorized)
	})
}

// dashboardListener is a live dashboard's address, checked (guardHTTP)
// and listened on before what it serves exists: an address that is bad,
// in use, or beyond loopback without a token refuses the command before
// it writes anything (a new run's record in the history).
type dashboardListener struct {
	l    net.Listener
	slot *handlerSlot
	h    http.Handler // the guard around slot
}

// handlerSlot serves the handler set in it after the guard around it was
// built (set before anything is served).
type handlerSlot struct{ h http.Handler }

func (s *handlerSlot) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.h.ServeHTTP(w, r) }

// listenHTTP opens addr for a dashboard; serve it, or Close it unserved.
func listenHTTP(addr string) (*dashboardListener, error) {
	slot := &handlerSlot{}
	addr, h, err := guardHTTP(addr, slot)
	if err != nil {
		return nil, err
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("dashboard: %w", err)
	}
	return &dashboardListener{l: l, slot: slot, h: h}, nil
}

// Close releases the address of a dashboard never served.
func (d *dashboardListener) Close() { _ = d.l.Close() }

// serve serves h until ctx ends; stop waits for the server to end.
func (d *dashboardListener) serve(ctx context.Context, h http.Handler, out io.Writer) (stop func()) {
	d.slot.h = h
	srv := &http.Server{Handler: d.h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: time.Minute}
	fmt.Fprintf(out, "gahpo: dashboard on http://%s/\n", d.l.Addr())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(d.l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			fmt.Fprintln(out, "gahpo: dashboard:", err)
		}
	}()
	return func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		defer cancel()
		if srv.Shutdown(sctx) != nil {
			_ = srv.Close() // a stream still open
		}
		<-done
	}
}

// finishWait bounds how long a finished run's dashboard stays up for the
// pages open on it to fetch how the run ended.
const finishWait = 3 * time.Second

// dashboard serves a coordinator's live report on d (nil serves none).
// stop ends it; with ended (the run is over, not interrupted) it first
// lets the open pages fetch the run's final state, for finishWait at most.
func (m *Main) dashboard(ctx context.Context, d *dashboardListener, st *store.Store, c *coordinator.Coordinator, dataDir string, log *slog.Logger) (stop func(ended bool)) {
	if d == nil {
		return func(bool) {}
	}
	h := report.NewHandler(report.StoreSource{Store: st, Run: c.RunID(), Status: c.Status},
		report.HandlerOptions{Options: report.Options{MNISTDir: dataDir}, Logger: log})
	stopServer := d.serve(ctx, h, m.Stderr)
	return func(ended bool) {
		if ended {
			fctx, cancel := context.WithTimeout(ctx, finishWait)
			h.Finish(fctx)
			cancel()
		}
		stopServer()
	}
}
