package natsserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

const routeSecret = "r0ute-s3cret-4c9e"

// freeAddrs reserves n loopback addresses (host:port) for servers that
// must know each other's before they start.
func freeAddrs(t *testing.T, n int) []string {
	t.Helper()
	var addrs []string
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addrs = append(addrs, l.Addr().String())
		l.Close()
	}
	return addrs
}

// waitFor polls cond until it holds, at most d.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", d, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestClusterRoutesAuthenticate runs a 3-server cluster whose routes need
// a password: it forms and serves JetStream with 3 replicas, and a server
// that tries to route in without the password, or with a wrong one, is
// refused, while the same server with the password joins.
func TestClusterRoutesAuthenticate(t *testing.T) {
	if testing.Short() {
		t.Skip("a 3-server cluster takes seconds to form; skipped with -short")
	}
	cluster := freeAddrs(t, 3)
	monitor := freeAddrs(t, 1)[0]
	var routes []string
	for _, a := range cluster {
		routes = append(routes, "nats://"+a)
	}
	var srvs []*Server
	var urls []string
	for i := range cluster {
		o := Options{Name: fmt.Sprintf("n%d", i+1), StoreDir: t.TempDir(), Cluster: cluster[i], Routes: routes, RoutePassword: routeSecret}
		if i == 0 {
			o.Monitor = monitor
		}
		srv, err := Start(o)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(srv.Shutdown)
		srvs = append(srvs, srv)
		urls = append(urls, srv.URL())
	}
	for i, s := range srvs {
		waitFor(t, 20*time.Second, fmt.Sprintf("n%d is not routed to the 2 others", i+1), func() bool { return s.srv.NumRemotes() == 2 })
	}

	// JetStream on the cluster: a stream of 3 replicas, written through
	// one server and read through another.
	nc, err := nats.Connect(strings.Join(urls, ","))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var stream jetstream.Stream
	waitFor(t, 30*time.Second, "no stream of 3 replicas on the cluster", func() bool {
		sctx, scancel := context.WithTimeout(ctx, 3*time.Second)
		defer scancel()
		stream, err = js.CreateOrUpdateStream(sctx, jetstream.StreamConfig{Name: "T", Subjects: []string{"t.>"}, Replicas: 3})
		return err == nil
	})
	if _, err := js.Publish(ctx, "t.1", []byte("hello")); err != nil {
		t.Fatal(err)
	}
	nc3, err := nats.Connect(srvs[2].URL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc3.Close()
	js3, _ := jetstream.New(nc3)
	s3, err := js3.Stream(ctx, "T")
	if err != nil {
		t.Fatal(err)
	}
	if m, err := s3.GetMsg(ctx, 1); err != nil || string(m.Data) != "hello" {
		t.Fatalf("message through n3: %v %v", m, err)
	}
	if info, err := stream.Info(ctx); err != nil || len(info.Cluster.Replicas) != 2 {
		t.Fatalf("stream info %+v: %v, want a leader and 2 replicas", info, err)
	}

	// A server that routes to n1 the way a member does, but with no
	// password, or a wrong one: n1 refuses it, and a client of it finds no
	// JetStream of the cluster.
	for _, tc := range []struct {
		name string
		user *url.Userinfo
	}{
		{"no password", nil},
		{"wrong password", url.UserPassword(DefaultRouteUser, "guess")},
		{"the password of another user", url.UserPassword("admin", routeSecret)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rogue := startRogue(t, routes[0], tc.user)
			// The route is tried at once and again every second.
			time.Sleep(3 * time.Second)
			if n := rogue.NumRemotes(); n != 0 {
				t.Errorf("the rogue server has %d route peers, want 0", n)
			}
			if n := srvs[0].srv.NumRemotes(); n != 2 {
				t.Errorf("n1 has %d route peers, want its 2 members", n)
			}
			rc, err := nats.Connect(rogue.ClientURL())
			if err != nil {
				t.Fatal(err)
			}
			defer rc.Close()
			if msg, err := rc.Request("$JS.API.STREAM.NAMES", nil, time.Second); err == nil && strings.Contains(string(msg.Data), `"T"`) {
				t.Errorf("a client of the rogue lists the cluster's streams: %s", msg.Data)
			}
		})
	}

	// The monitoring endpoint names the routes without their password.
	for _, path := range []string{"/varz", "/routez"} {
		resp, err := http.Get("http://" + monitor + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if strings.Contains(string(body), routeSecret) {
			t.Errorf("%s shows the route password", path)
		}
	}

	// The control: the same server with the password joins.
	rogue := startRogue(t, routes[0], url.UserPassword(DefaultRouteUser, routeSecret))
	waitFor(t, 20*time.Second, "the server with the route password did not join", func() bool {
		return rogue.NumRemotes() == 3 && srvs[0].srv.NumRemotes() == 3
	})
}

// startRogue starts a plain nats-server with JetStream and no credentials
// of its own that routes to route with user.
func startRogue(t *testing.T, route string, user *url.Userinfo) *server.Server {
	t.Helper()
	u, err := url.Parse(route)
	if err != nil {
		t.Fatal(err)
	}
	u.User = user
	s, err := server.NewServer(&server.Options{
		ServerName: "rogue", Host: "127.0.0.1", Port: server.RANDOM_PORT, NoSigs: true,
		JetStream: true, StoreDir: t.TempDir(),
		Cluster: server.ClusterOpts{Name: "gahpo", Host: "127.0.0.1", Port: server.RANDOM_PORT},
		Routes:  []*url.URL{u},
	})
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	if !s.ReadyForConnections(10 * time.Second) {
		s.Shutdown()
		t.Fatal("the rogue server did not start")
	}
	t.Cleanup(func() {
		s.Shutdown()
		s.WaitForShutdown()
	})
	return s
}

// TestClusterRouteOptions checks the route credentials' options.
func TestClusterRouteOptions(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    Options
	}{
		{"open routes beyond loopback", Options{Name: "n1", Cluster: "0.0.0.0:0", Routes: []string{"nats://127.0.0.1:1"}}},
		{"open routes on every interface", Options{Name: "n1", Cluster: ":0", Routes: []string{"nats://127.0.0.1:1"}}},
		{"a route user without a password", Options{Name: "n1", Cluster: "127.0.0.1:0", Routes: []string{"nats://127.0.0.1:1"}, RouteUser: "r"}},
		{"a route with credentials", Options{Name: "n1", Cluster: "127.0.0.1:0", Routes: []string{"nats://r:" + routeSecret + "@127.0.0.1:1"}, RoutePassword: routeSecret}},
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
			if strings.Contains(err.Error(), routeSecret) {
				t.Errorf("the error shows the password: %v", err)
			}
		})
	}
	// Beyond loopback with a password: the server starts.
	port := freeAddrs(t, 1)[0]
	_, p, _ := net.SplitHostPort(port)
	srv, err := Start(Options{Name: "n1", StoreDir: t.TempDir(), Cluster: "0.0.0.0:" + p, Routes: []string{"nats://127.0.0.1:" + p}, RoutePassword: routeSecret})
	if err != nil {
		t.Fatal(err)
	}
	srv.Shutdown()
}
