package main

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gahpo/gahpo/bus"
)

func TestListenAuth(t *testing.T) {
	dir := t.TempDir()
	given := filepath.Join(dir, "given")
	if err := os.WriteFile(given, []byte("from-file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, listen, envToken, envFile string
		want                            string // "" none, "*" a generated one
	}{
		{"loopback", "127.0.0.1:4222", "", "", ""},
		{"localhost", "localhost:0", "", "", ""},
		{"ipv6 loopback", "[::1]:4222", "", "", ""},
		{"all interfaces, generated", "0.0.0.0:4222", "", "", "*"},
		{"all interfaces, from the environment", "0.0.0.0:4222", "from-env", "", "from-env"},
		{"an address, from a file", "10.0.0.5:4222", "", given, "from-file"},
		{"both the variable and its file", "10.0.0.5:4222", "from-env", given, "refused"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("GAHPO_NATS_TOKEN", tc.envToken)
			t.Setenv("GAHPO_NATS_TOKEN_FILE", tc.envFile)
			keep := filepath.Join(t.TempDir(), "h.db.token")
			var out bytes.Buffer
			got, announce, err := listenAuth(&out, tc.listen, keep)
			if tc.want == "refused" {
				if err == nil || !strings.Contains(err.Error(), "GAHPO_NATS_TOKEN and GAHPO_NATS_TOKEN_FILE are both set") {
					t.Errorf("listenAuth = %q, %v; want refused, naming both", got, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			announce("nats://" + tc.listen)
			switch tc.want {
			case "":
				if got != "" || out.Len() != 0 {
					t.Errorf("token %q, output %q; want none", got, out.String())
				}
				return
			case "*":
				if len(got) < 32 {
					t.Fatalf("generated token %q is too short", got)
				}
				fi, err := os.Stat(keep)
				if err != nil || fi.Mode().Perm() != 0o600 {
					t.Fatalf("kept token: %v, mode %v", err, fi.Mode())
				}
				again, _, err := listenAuth(&bytes.Buffer{}, tc.listen, keep)
				if err != nil || again != got {
					t.Errorf("second start: token %q (%v), want the kept %q", again, err, got)
				}
			default:
				if got != tc.want {
					t.Errorf("token %q, want %q", got, tc.want)
				}
			}
			if strings.Contains(out.String(), got) {
				t.Errorf("the token is printed: %q", out.String())
			}
			if !strings.Contains(out.String(), "GAHPO_NATS_TOKEN_FILE=") || !strings.Contains(out.String(), "gahpo worker --nats nats://") {
				t.Errorf("no worker command printed: %q", out.String())
			}
		})
	}
	if _, _, err := listenAuth(&bytes.Buffer{}, "no-port", filepath.Join(dir, "x")); err == nil {
		t.Error("bad --listen: no error")
	}
}

func TestSecretSources(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "s")
	if err := os.WriteFile(file, []byte("in-file\r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, flag, file, env, envFile, want string
		fails                                bool
	}{
		{name: "environment", env: "in-env", want: "in-env"},
		{name: "environment's file", envFile: file, want: "in-file"},
		{name: "environment and its file", env: "in-env", envFile: file, fails: true},
		{name: "environment's missing file", envFile: filepath.Join(dir, "none"), fails: true},
		{name: "file", file: file, want: "in-file"},
		{name: "file over the environment's", file: file, env: "in-env", envFile: filepath.Join(dir, "none"), want: "in-file"},
		{name: "flag", flag: "on-argv", want: "on-argv"},
		{name: "flag over the environment", flag: "on-argv", env: "in-env", envFile: file, want: "on-argv"},
		{name: "flag and file", flag: "on-argv", file: file, fails: true},
		{name: "empty file", file: empty, fails: true},
		{name: "missing file", file: filepath.Join(dir, "none"), fails: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("GAHPO_TEST_SECRET", tc.env)
			t.Setenv("GAHPO_TEST_SECRET_FILE", tc.envFile)
			got, err := secret(tc.flag, tc.file, "GAHPO_TEST_SECRET", "token")
			if (err != nil) != tc.fails || got != tc.want {
				t.Errorf("secret = %q, %v; want %q, fails %v", got, err, tc.want, tc.fails)
			}
		})
	}
}

// TestStreamFlagsGivenOnly: the coordinator's stream limits reach the
// streams only when given: the streams are every run's on a server, and a
// default would reset the limits another coordinator set.
func TestStreamFlagsGivenOnly(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want bus.StreamOptions
	}{
		{nil, bus.StreamOptions{Replicas: 1}},
		{[]string{"--replicas", "3"}, bus.StreamOptions{Replicas: 3}},
		{[]string{"--stream-max-bytes", "5000"}, bus.StreamOptions{Replicas: 1, MaxBytes: 5000}},
		{[]string{"--stream-max-age", "1h", "--stream-max-bytes", "-1"}, bus.StreamOptions{Replicas: 1, MaxAge: time.Hour, MaxBytes: -1}},
		{[]string{"--stream-max-age", "0", "--stream-max-bytes", "0"}, bus.StreamOptions{Replicas: 1, MaxAge: bus.DefaultMaxAge, MaxBytes: bus.DefaultMaxBytes}}, // 0: the default, given
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			fs := flag.NewFlagSet("gahpo coordinator", flag.ContinueOnError)
			var sf streamFlags
			sf.register(fs)
			if err := fs.Parse(tc.args); err != nil {
				t.Fatal(err)
			}
			o, err := sf.apply(bus.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(o.Streams, tc.want) {
				t.Errorf("stream options %+v, want %+v", o.Streams, tc.want)
			}
		})
	}
}
