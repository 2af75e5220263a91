package main

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gahpo/gahpo/bus"
	"github.com/gahpo/gahpo/models/problems"
	"github.com/gahpo/gahpo/natsserver"
	"github.com/gahpo/gahpo/worker"
)

// TestRunCommandLine drives `gahpo run` in this process through the checks
// it makes before its server and workers start.
func TestRunCommandLine(t *testing.T) {
	nowhere := t.TempDir() // a module cache without the MNIST files
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		wantErr string
		noDB    bool // refused before the history file (or any file beside it) is made
	}{
		{name: "a listen address without a port", args: []string{"run", "--problem", "regression", "--listen", "nowhere"}, wantErr: `run: bad --listen "nowhere"`, noDB: true},
		{name: "a listen address with a bad port", args: []string{"run", "--problem", "regression", "--listen", "127.0.0.1:x"}, wantErr: `run: bad port in --listen "127.0.0.1:x"`, noDB: true},
		{name: "a listen port out of range", args: []string{"run", "--problem", "regression", "--listen", "127.0.0.1:70000"}, wantErr: `run: bad port in --listen "127.0.0.1:70000"`, noDB: true},
		{name: "beyond loopback with two tokens", args: []string{"run", "--problem", "regression", "--listen", "0.0.0.0:0"},
			env: map[string]string{"GAHPO_NATS_TOKEN": "a", "GAHPO_NATS_TOKEN_FILE": filepath.Join(nowhere, "token")}, wantErr: "GAHPO_NATS_TOKEN and GAHPO_NATS_TOKEN_FILE are both set", noDB: true},
		{name: "the CNN without its data", args: []string{"run", "--problem", "cnn"},
			env: map[string]string{"GOMODCACHE": nowhere, "GOPATH": nowhere, "HOME": nowhere}, wantErr: "GoMNIST data folder not found", noDB: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			dir := t.TempDir()
			db := filepath.Join(dir, "h.db")
			var out, errOut bytes.Buffer
			m := &Main{Stdout: &out, Stderr: &errOut}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			err := m.Run(ctx, append(tt.args, "--db", db))
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Run(%q) = %v, want an error containing %q\nstderr: %s", tt.args, err, tt.wantErr, errOut.String())
			}
			if left, err := os.ReadDir(dir); tt.noDB && (err != nil || len(left) > 0) {
				t.Errorf("Run(%q) left files behind: %v (%v)", tt.args, left, err)
			}
		})
	}
}

// TestLocalWorkers checks that a run's own workers stop with stop, and that
// stop returns the error a worker ended with by itself (its data folder
// a file), which the run then reports.
func TestLocalWorkers(t *testing.T) {
	srv, err := natsserver.Start(natsserver.Options{Host: "127.0.0.1", Port: 0, StoreDir: filepath.Join(t.TempDir(), "nats")})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	file := filepath.Join(t.TempDir(), "data")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		dataDir []string // one worker each
		wantErr string   // "" for none
	}{
		{name: "stopped while waiting for tasks", dataDir: []string{"", ""}},
		{name: "a worker that ends by itself", dataDir: []string{"", file}, wantErr: "worker: the data directory " + file + " is not a directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			l := startLocalWorkers(ctx)
			for i, dir := range tt.dataDir {
				conn, err := bus.Connect(ctx, bus.Options{URL: srv.URL(), Name: "test-worker"})
				if err != nil {
					l.stop()
					t.Fatal(err)
				}
				l.start(conn, worker.Config{Name: "local-" + strconv.Itoa(i+1), DataDir: dir, Check: problems.Check, Accept: problems.Default.Accept, Logger: slog.New(slog.DiscardHandler)})
			}
			err := l.stop()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("stop() = %v, want nil", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("stop() = %v, want an error containing %q", err, tt.wantErr)
			}
			if again := l.stop(); !errors.Is(again, err) {
				t.Errorf("stop() again = %v, want %v", again, err)
			}
		})
	}
}
