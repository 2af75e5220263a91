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
	var f natsServerFlags
	f.register(fs)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return m.natsSubcommand(ctx, pos, f.monitor)
	}
	host, port, err := splitListen("nats", f.listen)
	if err != nil {
		return err
	}
	if err := f.clientSecrets(host); err != nil {
		return err
	}
	routePassword, err := f.routeSecret()
	if err != nil {
		return err
	}
	f.warnMonitor(m.Stderr)
	if err := f.defaultName(); err != nil {
		return err
	}
	unsetEnv := func() {}
	if f.users != "" {
		if unsetEnv, err = envFromFiles(); err != nil {
			return fmt.Errorf("nats: %w", err)
		}
	}
	srv, err := natsserver.Start(f.options(host, port, routePassword))
	unsetEnv() // the server has read its users file
	if err != nil {
		return listenError("nats", err)
	}
	fmt.Fprintf(m.Stdout, "gahpo: NATS with JetStream listening on %s (store %s); stop with Ctrl-C\n", srv.URL(), f.storeDir)
	if u := srv.ClusterURL(); u != "" {
		fmt.Fprintf(m.Stdout, "gahpo: server %s of cluster %s, routes on %s\n", f.name, f.clusterName, u)
	}
	<-ctx.Done()
	srv.Shutdown()
	return nil
}

// natsServerFlags are the flags of `gahpo nats`, the server's.
type natsServerFlags struct {
	listen, storeDir                      string
	user, password, passwordFile          string
	token, tokenFile, users               string
	name, cluster, clusterName, routes    string
	routeUser, routePasswordFile, monitor string
	verbose                               bool
	tlsCert, tlsKey, tlsCA                string
}

func (f *natsServerFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.listen, "listen", "127.0.0.1:4222", "address to listen on (0.0.0.0:4222 for other machines)")
	fs.StringVar(&f.storeDir, "store", "gahpo-nats", "JetStream store directory")
	fs.StringVar(&f.user, "user", "", "require this user name, with its password from --password-file or env "+passwordEnv+"_FILE or "+passwordEnv)
	fs.StringVar(&f.password, "password", "", "password of --user (visible in ps: prefer --password-file, or env "+passwordEnv+"_FILE or "+passwordEnv+")")
	fs.StringVar(&f.passwordFile, "password-file", "", "file holding the password of --user; env "+passwordEnv+"_FILE, or the password in "+passwordEnv+" (not both)")
	fs.StringVar(&f.token, "token", "", "require this token (visible in ps: prefer --token-file, or env "+tokenEnv+"_FILE or "+tokenEnv+")")
	fs.StringVar(&f.tokenFile, "token-file", "", "file holding the token to require; env "+tokenEnv+"_FILE, or the token in "+tokenEnv+" (not both)")
	fs.StringVar(&f.users, "users", "", "NATS configuration file with an authorization block: users and their permissions (deploy/nats/auth.conf)")
	fs.StringVar(&f.name, "server-name", "", "server name, unique in a cluster (default: gahpo, or the host name with --cluster)")
	fs.StringVar(&f.cluster, "cluster", "", "address for routes from the cluster's other servers (0.0.0.0:6222); empty: a single server")
	fs.StringVar(&f.clusterName, "cluster-name", "gahpo", "cluster name, the same on every member")
	fs.StringVar(&f.routes, "routes", "", "cluster addresses of the other members, comma separated (nats://nats-2:6222,...), without credentials")
	fs.StringVar(&f.routeUser, "route-user", natsserver.DefaultRouteUser, "user name of the routes, the same on every member")
	fs.StringVar(&f.routePasswordFile, "route-password-file", "", "file holding the routes' password, the same on every member (required with --cluster beyond loopback); env "+routePasswordEnv+"_FILE, or the password in "+routePasswordEnv+" (not both)")
	fs.StringVar(&f.monitor, "monitor", "", "HTTP monitoring address (127.0.0.1:8222: /healthz, /varz, /jsz; unauthenticated); with 'health', where to ask")
	fs.BoolVar(&f.verbose, "v", false, "log the server's events")
	fs.StringVar(&f.tlsCert, "tls-cert", "", "server certificate file (PEM): accept TLS connections only")
	fs.StringVar(&f.tlsKey, "tls-key", "", "server key file (PEM), with --tls-cert")
	fs.StringVar(&f.tlsCA, "tls-ca", "", "CA file (PEM): require client certificates signed by it (mutual TLS)")
}

// natsSubcommand runs `gahpo nats health`, the only one there is, asking
// the server at --monitor (default 127.0.0.1:8222).
func (m *Main) natsSubcommand(ctx context.Context, pos []string, monitor string) error {
	switch {
	case len(pos) == 1 && pos[0] == "health":
		addr := monitor
		if addr == "" {
			addr = "127.0.0.1:8222"
		}
		return m.natsHealth(ctx, addr)
	case len(pos) > 1 && pos[0] == "health":
		return fmt.Errorf("nats: health: unexpected argument %q", pos[1])
	}
	return fmt.Errorf("nats: unexpected argument %q (only 'health')", pos[0])
}

// splitListen splits a --listen address of cmd into its host and port.
func splitListen(cmd, listen string) (host string, port int, err error) {
	host, portStr, err := net.SplitHostPort(listen)
	if err != nil {
		return "", 0, fmt.Errorf("%s: bad --listen %q: %w", cmd, listen, err)
	}
	port, err = strconv.Atoi(portStr)
	if err != nil {
		return "", 0, fmt.Errorf("%s: bad port in --listen %q: %w", cmd, listen, err)
	}
	if port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("%s: bad port in --listen %q: not in 0-65535", cmd, listen)
	}
	return host, port, nil
}

// clientSecrets reads the token and the password the clients need (from
// the flags, their files or the environment) into f, and refuses a server
// on host beyond loopback that no client would need to authenticate to.
func (f *natsServerFlags) clientSecrets(host string) error {
	var err error
	if f.users != "" {
		// The users file holds the authorization; the environment's token
		// and password are the clients' own (or the users file's, through
		// its $GAHPO_... references).
		switch {
		case f.user != "":
			return errors.New("nats: --users excludes --user")
		case f.token != "" || f.tokenFile != "":
			return errors.New("nats: --users excludes --token and --token-file (a token goes in the users file's authorization block)")
		}
	} else if f.token, err = secret(f.token, f.tokenFile, tokenEnv, "token"); err != nil {
		return fmt.Errorf("nats: %w", err)
	}
	if f.user == "" && (f.password != "" || f.passwordFile != "") {
		return errors.New("nats: --password and --password-file go with --user")
	}
	if f.user != "" { // without it, the environment's password is a client's
		if f.password, err = secret(f.password, f.passwordFile, passwordEnv, "password"); err != nil {
			return fmt.Errorf("nats: %w", err)
		}
		if f.password == "" {
			return fmt.Errorf("nats: --user %s has no password: set %s_FILE=FILE (or --password-file FILE, or %s)", f.user, passwordEnv, passwordEnv)
		}
	}
	// Nothing listens beyond loopback without authentication: a token,
	// a user and password, the users file, or client certificates.
	if !loopback(host) && f.token == "" && f.password == "" && f.users == "" && f.tlsCA == "" {
		return fmt.Errorf("nats: --listen %s reaches beyond loopback and no client would need to authenticate: "+
			"give a token (GAHPO_NATS_TOKEN_FILE=FILE or --token-file FILE), --user with a password (GAHPO_NATS_PASSWORD_FILE), "+
			"--users FILE (deploy/nats/auth.conf) or --tls-ca for client certificates", f.listen)
	}
	return nil
}

// routeSecret returns the routes' password of a cluster member ("" for
// none), refusing routes beyond loopback without one: a server that joins
// the cluster uses every account with JetStream, past every user and
// permission.
func (f *natsServerFlags) routeSecret() (string, error) {
	if f.cluster == "" {
		if f.routePasswordFile != "" {
			return "", errors.New("nats: --route-password-file without --cluster")
		}
		return "", nil
	}
	chost, _, err := net.SplitHostPort(f.cluster)
	if err != nil {
		return "", fmt.Errorf("nats: bad --cluster %q: %w", f.cluster, err)
	}
	routePassword, err := secret("", f.routePasswordFile, routePasswordEnv, "route password")
	if err != nil {
		return "", fmt.Errorf("nats: %w", err)
	}
	if routePassword == "" && !loopback(chost) {
		return "", fmt.Errorf("nats: --cluster %s reaches beyond loopback and the routes have no password: anyone reaching it could join the cluster "+
			"and use JetStream past every user; set %s_FILE=FILE (or --route-password-file FILE, or %s) to the same secret on every member",
			f.cluster, routePasswordEnv, routePasswordEnv)
	}
	return routePassword, nil
}

// warnMonitor warns on w of a monitoring port beyond loopback.
func (f *natsServerFlags) warnMonitor(w io.Writer) {
	if f.monitor == "" {
		return
	}
	if mhost, _, err := net.SplitHostPort(f.monitor); err == nil && !loopback(mhost) {
		slog.New(slog.NewTextHandler(w, nil)).Warn("the monitoring port reaches beyond loopback and serves every connection's details (addresses, users, subscriptions) without authentication; "+
			"keep it local (127.0.0.1) or behind a firewall or network policy", "monitor", f.monitor)
	}
}

// defaultName names a server without --server-name: gahpo, or the host's
// name for a cluster member.
func (f *natsServerFlags) defaultName() error {
	if f.name != "" {
		return nil
	}
	f.name = "gahpo"
	if f.cluster != "" {
		var err error
		if f.name, err = os.Hostname(); err != nil {
			return fmt.Errorf("nats: server name: %w", err)
		}
	}
	return nil
}

// options are the embedded server's, listening on host and port, with the
// routes' password found by routeSecret.
func (f *natsServerFlags) options(host string, port int, routePassword string) natsserver.Options {
	var routeList []string
	for r := range strings.SplitSeq(f.routes, ",") {
		if r = strings.TrimSpace(r); r != "" {
			routeList = append(routeList, r)
		}
	}
	routeUser := f.routeUser
	if routePassword == "" {
		routeUser = "" // routes on loopback, open
	}
	return natsserver.Options{Host: host, Port: port, StoreDir: f.storeDir, User: f.user, Password: f.password, Token: f.token, Log: f.verbose, Name: f.name,
		TLSCert: f.tlsCert, TLSKey: f.tlsKey, TLSCA: f.tlsCA, UsersFile: f.users,
		Cluster: f.cluster, ClusterName: f.clusterName, Routes: routeList, RouteUser: routeUser, RoutePassword: routePassword, Monitor: f.monitor}
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
		v, err := secretIn(file)
		if err != nil {
			return "", fmt.Errorf("%s file: %w", what, err)
		}
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
