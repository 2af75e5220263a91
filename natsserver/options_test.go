package natsserver

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestStartRefusesClusterAndUserOptions(t *testing.T) {
	dir := t.TempDir()
	users := filepath.Join(dir, "users.conf")
	conf := "authorization { users = [ {user: a, password: $GAHPO_TEST_UNSET_PASSWORD} ] }\n"
	if err := os.WriteFile(users, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	noAuth := filepath.Join(dir, "empty.conf")
	if err := os.WriteFile(noAuth, []byte("max_payload: 1MB\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		o    Options
	}{
		{"cluster without routes", Options{Name: "n1", Cluster: "127.0.0.1:0"}},
		{"cluster without a name", Options{Cluster: "127.0.0.1:0", Routes: []string{"nats://127.0.0.1:1"}}},
		{"routes without a cluster", Options{Routes: []string{"nats://127.0.0.1:1"}}},
		{"bad route", Options{Name: "n1", Cluster: "127.0.0.1:0", Routes: []string{"::bad"}}},
		{"bad monitor", Options{Monitor: "nowhere"}},
		{"users file with a token", Options{UsersFile: users, Token: "t"}},
		{"users file without auth", Options{UsersFile: noAuth}},
		{"user with an unset password", Options{UsersFile: users}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.o.StoreDir = t.TempDir()
			srv, err := Start(tc.o)
			if err == nil {
				srv.Shutdown()
				t.Fatal("started, want an error")
			}
			if !errors.Is(err, ErrBadOptions) {
				t.Errorf("err = %v, want ErrBadOptions", err)
			}
		})
	}
}

func TestUsersFileFromEnvironment(t *testing.T) {
	t.Setenv("GAHPO_COORDINATOR_PASSWORD", "c")
	t.Setenv("GAHPO_WORKER_PASSWORD", "w")
	t.Setenv("GAHPO_QUERY_PASSWORD", "q")
	a, err := loadAuth("../deploy/nats/auth.conf")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"coordinator": "c", "worker": "w", "query": "q"}
	if len(a.users) != len(want) {
		t.Fatalf("%d users, want %d", len(a.users), len(want))
	}
	for _, u := range a.users {
		if want[u.Username] != u.Password || u.Permissions == nil {
			t.Errorf("user %s: password %q, permissions %v", u.Username, u.Password, u.Permissions)
		}
	}
}
