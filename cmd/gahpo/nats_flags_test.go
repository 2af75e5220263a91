package main

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestNATSCommandLine drives `gahpo nats` in this process through the
// flags and secrets it checks before it starts its server, and the server
// it starts (a context already ended stops it as soon as it has said where
// it listens).
func TestNATSCommandLine(t *testing.T) {
	for _, env := range []string{"GAHPO_NATS_TOKEN", "GAHPO_NATS_TOKEN_FILE", "GAHPO_NATS_PASSWORD", "GAHPO_NATS_PASSWORD_FILE",
		"GAHPO_NATS_ROUTE_PASSWORD", "GAHPO_NATS_ROUTE_PASSWORD_FILE"} {
		t.Setenv(env, "")
	}
	usersFile := filepath.Join(t.TempDir(), "auth.conf")
	if err := os.WriteFile(usersFile, []byte("authorization { users = [ { user: u, password: p } ] }\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(t.TempDir(), "missing")
	empty := filepath.Join(t.TempDir(), "empty")
	if err := os.WriteFile(empty, []byte("\r\n"), 0o600); err != nil { // a newline alone is empty
		t.Fatal(err)
	}
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	closed, err := net.Listen("tcp", "127.0.0.1:0") // a monitoring address nothing answers on
	if err != nil {
		t.Fatal(err)
	}
	closedAddr := closed.Addr().String()
	closed.Close()
	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		args       []string
		env        map[string]string
		wantErr    string // "" for success
		wantStdout []string
		noStdout   string
		wantStderr string
	}{
		{name: "an argument other than health", args: []string{"nats", "serve"}, wantErr: `nats: unexpected argument "serve" (only 'health')`},
		{name: "health of a server that does not answer", args: []string{"nats", "health", "--monitor", closedAddr}, wantErr: "nats: health: "},
		{name: "a listen address without a port", args: []string{"nats", "--listen", "nowhere"}, wantErr: `nats: bad --listen "nowhere"`},
		{name: "a listen address with a bad port", args: []string{"nats", "--listen", "127.0.0.1:x"}, wantErr: `nats: bad port in --listen "127.0.0.1:x"`},
		{name: "a users file with a user", args: []string{"nats", "--users", usersFile, "--user", "u"}, wantErr: "nats: --users excludes --user"},
		{name: "a users file with a token", args: []string{"nats", "--users", usersFile, "--token", "t"}, wantErr: "nats: --users excludes --token and --token-file"},
		{name: "a token given twice", args: []string{"nats", "--token", "t", "--token-file", usersFile}, wantErr: "nats: --token and --token-file both give the token"},
		{name: "a token file that is not there", args: []string{"nats", "--token-file", missing}, wantErr: "nats: token file: open " + missing + ": no such file or directory"},
		{name: "an empty token file", args: []string{"nats", "--token-file", empty}, wantErr: "nats: token file " + empty + " is empty"},
		{name: "the environment's token file not there", args: []string{"nats"}, env: map[string]string{"GAHPO_NATS_TOKEN_FILE": missing},
			wantErr: "nats: GAHPO_NATS_TOKEN_FILE names a secret file that cannot be read (open " + missing + ": no such file or directory)"},
		{name: "the environment's token file empty", args: []string{"nats"}, env: map[string]string{"GAHPO_NATS_TOKEN_FILE": empty},
			wantErr: "nats: GAHPO_NATS_TOKEN_FILE names a secret file that cannot be read (" + empty + " is empty)"},
		{name: "a token from a file", args: []string{"nats", "--listen", "127.0.0.1:0", "--token-file", tokenFile},
			wantStdout: []string{"listening on nats://127.0.0.1:"}},
		{name: "a cluster address without a port", args: []string{"nats", "--cluster", "nowhere"}, wantErr: `nats: bad --cluster "nowhere"`},
		{name: "a route password both set", args: []string{"nats", "--cluster", "127.0.0.1:0"},
			env: map[string]string{"GAHPO_NATS_ROUTE_PASSWORD": "a", "GAHPO_NATS_ROUTE_PASSWORD_FILE": usersFile}, wantErr: "nats: GAHPO_NATS_ROUTE_PASSWORD and GAHPO_NATS_ROUTE_PASSWORD_FILE are both set"},
		{name: "a monitoring address beyond loopback warns", args: []string{"nats", "--listen", "127.0.0.1:0", "--monitor", "192.0.2.1:0"},
			wantStdout: []string{"listening on nats://127.0.0.1:"}, wantStderr: "the monitoring port reaches beyond loopback"},
		{name: "a single server", args: []string{"nats", "--listen", "127.0.0.1:0"},
			wantStdout: []string{"gahpo: NATS with JetStream listening on nats://127.0.0.1:", "; stop with Ctrl-C\n"}, noStdout: "of cluster"},
		{name: "a user with a password from the environment", args: []string{"nats", "--listen", "127.0.0.1:0", "--user", "u"},
			env: map[string]string{"GAHPO_NATS_PASSWORD": "p"}, wantStdout: []string{"listening on nats://127.0.0.1:"}},
		{name: "a users file", args: []string{"nats", "--listen", "127.0.0.1:0", "--users", usersFile},
			wantStdout: []string{"listening on nats://"}},
		{name: "a cluster member is named by its host", args: []string{"nats", "--listen", "127.0.0.1:0", "--cluster", "127.0.0.1:0", "--routes", " nats://127.0.0.1:1, ,"},
			wantStdout: []string{"gahpo: server " + host + " of cluster gahpo, routes on "}},
		{name: "a cluster member with its own name and a route password", args: []string{"nats", "--listen", "127.0.0.1:0", "--cluster", "127.0.0.1:0", "--server-name", "n1", "--cluster-name", "c", "--routes", "nats://127.0.0.1:1"},
			env: map[string]string{"GAHPO_NATS_ROUTE_PASSWORD": "rp"}, wantStdout: []string{"gahpo: server n1 of cluster c, routes on "}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			var out, errOut bytes.Buffer
			m := &Main{Stdout: &out, Stderr: &errOut}
			ctx, cancel := context.WithCancel(context.Background())
			cancel() // a server that starts stops at once
			err := m.Run(ctx, append(tt.args, "--store", filepath.Join(t.TempDir(), "js")))
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("Run(%q) = %v, want success\nstderr: %s", tt.args, err, errOut.String())
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("Run(%q) = %v, want an error containing %q", tt.args, err, tt.wantErr)
			}
			for _, s := range tt.wantStdout {
				if !strings.Contains(out.String(), s) {
					t.Errorf("Run(%q): stdout %q, want it to contain %q", tt.args, out.String(), s)
				}
			}
			if tt.noStdout != "" && strings.Contains(out.String(), tt.noStdout) {
				t.Errorf("Run(%q): stdout %q, want no %q", tt.args, out.String(), tt.noStdout)
			}
			if !strings.Contains(errOut.String(), tt.wantStderr) {
				t.Errorf("Run(%q): stderr %q, want it to contain %q", tt.args, errOut.String(), tt.wantStderr)
			}
		})
	}
}
