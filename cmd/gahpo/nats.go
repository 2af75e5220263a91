package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/gahpo/gahpo/natsserver"
)

// routePasswordEnv holds the routes' password of `gahpo nats --cluster`
// (with _FILE: a file holding it).
const routePasswordEnv = "GAHPO_NATS_ROUTE_PASSWORD"

func (m *Main) runNATS(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("gahpo nats", flag.ContinueOnError)
	fs.SetOutput(m.Stderr)
	fs.Usage = func() {
		fmt.Fprintln(m.Stderr, "Usage: gahpo nats [flags]          run a NATS server with JetStream\n       gahpo nats health [--monitor HOST:PORT]   exit 0 when a server's /healthz answers OK\n\nFlags:")
		fs.PrintDefaults()
	}
	listen := fs.String("listen", "127.0.0.1:4222", "address to listen on (0.0.0.0:4222 for other machines)")
	storeDir := fs.String("store", "gahpo-nats", "JetStream store directory")
	user := fs.String("user", "", "require this user name, with its password from --password-file or env "+passwordEnv+"_FILE or "+passwordEnv)
	password := fs.String("password", "", "password of --user (visible in ps: prefer --password-file, or env "+passwordEnv+"_FILE or "+passwordEnv+")")
	passwordFile := fs.String("password-file", "", "file holding the password of --user; env "+passwordEnv+"_FILE, or the password in "+passwordEnv+" (not both)")
	token := fs.String("token", "", "require this token (visible in ps: prefer --token-file, or env "+tokenEnv+"_FILE or "+tokenEnv+")")
	tokenFile := fs.String("token-file", "", "file holding the token to require; env "+tokenEnv+"_FILE, or the token in "+tokenEnv+" (not both)")
	users := fs.String("users", "", "NATS configuration file with an authorization block: users and their permissions (deploy/nats/auth.conf)")
	name := fs.String("server-name", "", "server name, unique in a cluster (default: gahpo, or the host name with --cluster)")
	cluster := fs.String("cluster", "", "address for routes from the cluster's other servers (0.0.0.0:6222); empty: a single server")
	clusterName := fs.String("cluster-name", "gahpo", "cluster name, the same on every member")
	routes := fs.String("routes", "", "cluster addresses of the other members, comma separated (nats://nats-2:6222,...), without credentials")
	routeUser := fs.String("route-user", natsserver.DefaultRouteUser, "user name of the routes, the same on every member")
	routePasswordFile := fs.String("route-password-file", "", "file holding the routes' password, the same on every member (required with --cluster beyond loopback); env "+routePasswordEnv+"_FILE, or the password in "+routePasswordEnv+" (not both)")
	monitor := fs.String("monitor", "", "HTTP monitoring address (127.0.0.1:8222: /healthz, /varz, /jsz; unauthenticated); with 'health', where to ask")
	verbose := fs.Bool("v", false, "log the server's events")
	tlsCert := fs.String("tls-cert", "", "server certificate file (PEM): accept TLS connections only")
	tlsKey := fs.String("tls-key", "", "server key file (PEM), with --tls-cert")
	tlsCA := fs.String("tls-ca", "", "CA file (PEM): require client certificates signed by it (mutual TLS)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	switch {
	case len(pos) == 1 && pos[0] == "health":
		addr := *monitor
		if addr == "" {
			addr = "127.0.0.1:8222"
		}
		return m.natsHealth(ctx, addr)
	case len(pos) > 1 && pos[0] == "health":
		return fmt.Errorf("nats: health: unexpected argument %q", pos[1])
	case len(pos) > 0:
		return fmt.Errorf("nats: unexpected argument %q (only 'health')", pos[0])
	}
	host, portStr, err := net.SplitHostPort(*listen)
	if err != nil {
		return fmt.Errorf("nats: bad --listen %q: %w", *listen, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return fmt.Errorf("nats: bad port in --listen %q: %w", *listen, err)
	}
	if *users != "" {
		// The users file holds the authorization; the environment's token
		// and password are the clients' own (or the users file's, through
		// its $GAHPO_... references).
		switch {
		case *user != "":
			return errors.New("nats: --users excludes --user")
		case *token != "" || *tokenFile != "":
			return errors.New("nats: --users excludes --token and --token-file (a token goes in the users file's authorization block)")
		}
	} else if *token, err = secret(*token, *tokenFile, tokenEnv, "token"); err != nil {
		return fmt.Errorf("nats: %w", err)
	}
	if *user == "" && (*password != "" || *passwordFile != "") {
		return errors.New("nats: --password and --password-file go with --user")
	}
	if *user != "" { // without it, the environment's password is a client's
		if *password, err = secret(*password, *passwordFile, passwordEnv, "password"); err != nil {
			return fmt.Errorf("nats: %w", err)
		}
		if *password == "" {
			return fmt.Errorf("nats: --user %s has no password: set %s_FILE=FILE (or --password-file FILE, or %s)", *user, passwordEnv, passwordEnv)
		}
	}
	// Nothing listens beyond loopback without authentication: a token,
	// a user and password, the users file, or client certificates.
	if !loopback(host) && *token == "" && *password == "" && *users == "" && *tlsCA == "" {
		return fmt.Errorf("nats: --listen %s reaches beyond loopback and no client would need to authenticate: "+
			"give a token (GAHPO_NATS_TOKEN_FILE=FILE or --token-file FILE), --user with a password (GAHPO_NATS_PASSWORD_FILE), "+
			"--users FILE (deploy/nats/auth.conf) or --tls-ca for client certificates", *listen)
	}
	// Nor the routes: a server that joins the cluster uses every account
	// with JetStream, past every user and permission.
	var routePassword string
	if *cluster != "" {
		chost, _, err := net.SplitHostPort(*cluster)
		if err != nil {
			return fmt.Errorf("nats: bad --cluster %q: %w", *cluster, err)
		}
		if routePassword, err = secret("", *routePasswordFile, routePasswordEnv, "route password"); err != nil {
			return fmt.Errorf("nats: %w", err)
		}
		if routePassword == "" && !loopback(chost) {
			return fmt.Errorf("nats: --cluster %s reaches beyond loopback and the routes have no password: anyone reaching it could join the cluster "+
				"and use JetStream past every user; set %s_FILE=FILE (or --route-password-file FILE, or %s) to the same secret on every member",
				*cluster, routePasswordEnv, routePasswordEnv)
		}
	} else if *routePasswordFile != "" {
		return errors.New("nats: --route-password-file without --cluster")
	}
	if *monitor != "" {
		if mhost, _, err := net.SplitHostPort(*monitor); err == nil && !loopback(mhost) {
			slog.New(slog.NewTextHandler(m.Stderr, nil)).Warn("the monitoring port reaches beyond loopback and serves every connection's details (addresses, users, subscriptions) without authentication; "+
				"keep it local (127.0.0.1) or behind a firewall or network policy", "monitor", *monitor)
		}
	}
	if *name == "" {
		*name = "gahpo"
		if *cluster != "" {
			if *name, err = os.Hostname(); err != nil {
				return fmt.Errorf("nats: server name: %w", err)
			}
		}
	}
	var routeList []string
	for r := range strings.SplitSeq(*routes, ",") {
		if r = strings.TrimSpace(r); r != "" {
			routeList = append(routeList, r)
		}
	}
	if routePassword == "" {
		*routeUser = "" // routes on loopback, open
	}
	unsetEnv := func() {}
	if *users != "" {
		if unsetEnv, err = envFromFiles(); err != nil {
			return fmt.Errorf("nats: %w", err)
		}
	}
	srv, err := natsserver.Start(natsserver.Options{Host: host, Port: port, StoreDir: *storeDir, User: *user, Password: *password, Token: *token, Log: *verbose, Name: *name,
		TLSCert: *tlsCert, TLSKey: *tlsKey, TLSCA: *tlsCA, UsersFile: *users,
		Cluster: *cluster, ClusterName: *clusterName, Routes: routeList, RouteUser: *routeUser, RoutePassword: routePassword, Monitor: *monitor})
	unsetEnv() // the server has read its users file
	if err != nil {
		return listenError("nats", err)
	}
	fmt.Fprintf(m.Stdout, "gahpo: NATS with JetStream listening on %s (store %s); stop with Ctrl-C\n", srv.URL(), *storeDir)
	if u := srv.ClusterURL(); u != "" {
		fmt.Fprintf(m.Stdout, "gahpo: server %s of cluster %s, routes on %s\n", *name, *clusterName, u)
	}
	<-ctx.Done()
	srv.Shutdown()
	return nil
}

// listenError names the flag of an address the embedded server could not
// listen on (one in use: another gahpo nats, gahpo run or nats-server);
// other errors pass unchanged.
func listenError(cmd string, err error) error {
	var le *natsserver.ListenError
	if !errors.As(err, &le) {
		return err
	}
	flag, ok := map[string]string{"client": "--listen", "cluster": "--cluster", "monitor": "--monitor"}[le.What]
	if !ok {
		return err
	}
	return fmt.Errorf("%s: %s %s: %w", cmd, flag, le.Addr, le.Err)
}

// natsHealth asks a server's monitoring endpoint whether it is healthy
// (JetStream included), for container health checks without a shell.
func (m *Main) natsHealth(ctx context.Context, addr string) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/healthz", nil)
	if err != nil {
		return fmt.Errorf("nats: health: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("nats: health: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("nats: health: %s: %s", resp.Status, strings.TrimSpace(string(body)))
	}
	fmt.Fprintln(m.Stdout, strings.TrimSpace(string(body)))
	return nil
}

// secret picks a secret from a flag, a file (a flag's) or the environment
// ([envSecret]), in that order: the command line replaces the environment.
// A secret read from a file loses its trailing newline.
func secret(flagValue, file, env, what string) (string, error) {
	if flagValue != "" {
		if file != "" {
			return "", fmt.Errorf("the %s is given both on the command line and in a file", what)
		}
		return flagValue, nil
	}
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("%s file: %w", what, err)
		}
		v := strings.TrimRight(string(b), "\r\n")
		if v == "" {
			return "", fmt.Errorf("%s file %s is empty", what, file)
		}
		return v, nil
	}
	return envSecret(env)
}

// The variables of the NATS secrets; each has a _FILE twin naming a file
// that holds it ([envSecret]).
const (
	tokenEnv    = "GAHPO_NATS_TOKEN"
	passwordEnv = "GAHPO_NATS_PASSWORD"
)

// envSecret reads a secret from the environment: the variable env, or the
// file that env_FILE names. Both set are refused, naming the two, on the
// server and on every client alike: one command taking the variable and
// another the file would not agree, and the client would only hear
// "Authorization Violation". A file that cannot be read is refused, naming
// the variable, rather than go on without the secret. No error holds the
// secret.
func envSecret(env string) (string, error) {
	v, file := os.Getenv(env), os.Getenv(env+"_FILE")
	switch {
	case v != "" && file != "":
		return "", fmt.Errorf("%s and %s_FILE are both set: set one, so that the server and every client read the same secret", env, env)
	case file != "":
		if err := readSecret(&v, file); err != nil {
			return "", fmt.Errorf("%s_FILE names a secret file that cannot be read (%w): the command would go on without it", env, err)
		}
	}
	return v, nil
}

// envFromFiles sets each variable GAHPO_X for which GAHPO_X_FILE names a
// file, to the file's content ([envSecret]: both set are refused): the
// users file's $GAHPO_..._PASSWORD references then come from mounted
// secrets (GAHPO_WORKER_PASSWORD_FILE=/run/secrets/worker_password). The
// returned function unsets them again, once the server has read the users
// file, so that nothing else in the process finds a variable and its file
// both set.
func envFromFiles() (unset func(), err error) {
	var set []string
	unset = func() {
		for _, name := range set {
			os.Unsetenv(name)
		}
	}
	for _, kv := range os.Environ() {
		name, path, _ := strings.Cut(kv, "=")
		base, ok := strings.CutSuffix(name, "_FILE")
		if !ok || !strings.HasPrefix(base, "GAHPO_") || path == "" {
			continue
		}
		v, err := envSecret(base)
		if err == nil {
			err = os.Setenv(base, v)
		}
		if err != nil {
			unset()
			return func() {}, err
		}
		set = append(set, base)
	}
	return unset, nil
}
