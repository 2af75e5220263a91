package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
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
		noDB    bool // refused before the history file is made
	}{
		{name: "a listen address without a port", args: []string{"run", "--problem", "regression", "--listen", "nowhere"}, wantErr: `run: bad --listen "nowhere"`},
		{name: "a listen address with a bad port", args: []string{"run", "--problem", "regression", "--listen", "127.0.0.1:x"}, wantErr: `run: bad port in --listen "127.0.0.1:x"`},
		{name: "the CNN without its data", args: []string{"run", "--problem", "cnn"},
			env: map[string]string{"GOMODCACHE": nowhere, "GOPATH": nowhere, "HOME": nowhere}, wantErr: "GoMNIST data folder not found", noDB: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			db := filepath.Join(t.TempDir(), "h.db")
			var out, errOut bytes.Buffer
			m := &Main{Stdout: &out, Stderr: &errOut}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			err := m.Run(ctx, append(tt.args, "--db", db))
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Run(%q) = %v, want an error containing %q\nstderr: %s", tt.args, err, tt.wantErr, errOut.String())
			}
			if _, err := os.Stat(db); tt.noDB && !os.IsNotExist(err) {
				t.Errorf("Run(%q) left a history file behind (%v)", tt.args, err)
			}
		})
	}
}
