// Package natsserver runs an embedded NATS server with JetStream, for the
// all-in-one `gahpo run`, for `gahpo nats`, and for tests.
package natsserver

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Options configures the embedded server.
type Options struct {
	// Host and Port to listen on (default 127.0.0.1); Port 0 picks a free
	// port.
	Host string
	Port int
	// StoreDir holds JetStream's files.
	StoreDir string
	// User and Password, or Token, require clients to authenticate.
	User, Password, Token string
	// Name of the server.
	Name string
	// Log turns on the server's own logging to stderr.
	Log bool
	// TLSCert and TLSKey (PEM files) make the server accept TLS
	// connections only. With TLSCA too, clients must present a
	// certificate signed by that CA (mutual TLS).
	TLSCert, TLSKey, TLSCA string
	// UsersFile is a NATS configuration file whose authorization block
	// (users with their permissions, or a token) the server enforces: the
	// same file a real nats-server includes (deploy/nats/auth.conf). Values
	// may name environment variables ($NAME), so that no secret is written
	// in the file. It excludes User, Password and Token.
	UsersFile string
	// Cluster is the address to accept routes from the other servers of a
	// cluster on ("0.0.0.0:6222"); empty runs a single server. A cluster
	// member needs a Name of its own.
	Cluster string
	// ClusterName names the cluster (default "gahpo"); every member uses
	// the same.
	ClusterName string
	// Routes are the cluster addresses of the other members
	// ("nats://nats-2:6222"); listing every member on every member is fine.
	// They carry no credentials: RouteUser and RoutePassword are put in.
	Routes []string
	// RouteUser and RoutePassword authenticate the routes: the server
	// accepts a route only with them, and dials its Routes with them. Every
	// member uses the same. Without a password, routes are accepted from
	// anyone, which is refused unless Cluster is a loopback address.
	// RouteUser defaults to DefaultRouteUser.
	RouteUser, RoutePassword string
	// Monitor is the address of the HTTP monitoring endpoint
	// ("0.0.0.0:8222": /healthz, /varz, /jsz); empty means none.
	Monitor string
}

// DefaultRouteUser is the user name of the routes when Options.RouteUser
// is empty.
const DefaultRouteUser = "gahpo-route"

// ErrBadOptions is returned by [Start] for options that do not fit
// together.
var ErrBadOptions = errors.New("natsserver: bad options")

// ListenError is returned by [Start] when an address the server is to
// listen on cannot be had, most often because another process listens
// there (errors.Is(err, syscall.EADDRINUSE)).
type ListenError struct {
	// What the address is for: "client", "cluster" or "monitor" (the
	// Options field Host and Port, Cluster or Monitor).
	What string
	// Addr is the address, host:port.
	Addr string
	// Err is why, without the address ("address already in use").
	Err error
}

func (e *ListenError) Error() string {
	return fmt.Sprintf("natsserver: %s address %s: %v", e.What, e.Addr, e.Err)
}

func (e *ListenError) Unwrap() error { return e.Err }

// checkFree listens on each address the server is to listen on, and closes
// it again: an address in use fails at once, named, where the server would
// only log it (if at all) and never get ready. Port 0 picks a free port, so
// it is not checked. A process that takes an address between this check
// and the server's own listen is caught by the server's fatal error.
func checkFree(o Options, opts *server.Options) error {
	for _, a := range []struct {
		what, host string
		port       int
	}{{"client", opts.Host, opts.Port}, {"cluster", opts.Cluster.Host, opts.Cluster.Port}, {"monitor", opts.HTTPHost, opts.HTTPPort}} {
		if a.port <= 0 || (a.what == "cluster" && o.Cluster == "") || (a.what == "monitor" && o.Monitor == "") {
			continue
		}
		addr := net.JoinHostPort(a.host, strconv.Itoa(a.port))
		l, err := net.Listen("tcp", addr)
		if err != nil {
			// The cause alone ("address already in use"): the error
			// names the address already.
			var op *net.OpError
			if errors.As(err, &op) && op.Err != nil {
				err = op.Err
			}
			var sys *os.SyscallError
			if errors.As(err, &sys) && sys.Err != nil {
				err = sys.Err
			}
			return &ListenError{What: a.what, Addr: addr, Err: err}
		}
		if err := l.Close(); err != nil {
			return &ListenError{What: a.what, Addr: addr, Err: err}
		}
	}
	return nil
}

// fatalLogger catches the server's fatal errors, which it logs instead of
// returning (a port in use, a store directory that is not one), and passes
// the rest to next, the server's own logger (nil: none). The first fatal
// error goes to fatal; the server logger's Fatalf, which would end the
// process, is never called.
type fatalLogger struct {
	next  server.Logger
	once  sync.Once
	fatal chan error
}

// fatalError is a fatal error of the server, as it logged it, wrapping the
// error among its arguments if there is one.
type fatalError struct {
	msg string
	err error
}

func (e *fatalError) Error() string { return "natsserver: the server stopped as it started: " + e.msg }

func (e *fatalError) Unwrap() error { return e.err }

func (l *fatalLogger) Fatalf(format string, v ...any) {
	e := &fatalError{msg: fmt.Sprintf(format, v...)}
	for _, a := range v {
		if err, ok := a.(error); ok {
			e.err = err
			break
		}
	}
	l.once.Do(func() { l.fatal <- e })
	if l.next != nil {
		l.next.Errorf(format, v...)
	}
}

func (l *fatalLogger) Noticef(format string, v ...any) {
	if l.next != nil {
		l.next.Noticef(format, v...)
	}
}

func (l *fatalLogger) Warnf(format string, v ...any) {
	if l.next != nil {
		l.next.Warnf(format, v...)
	}
}

func (l *fatalLogger) Errorf(format string, v ...any) {
	if l.next != nil {
		l.next.Errorf(format, v...)
	}
}

func (l *fatalLogger) Debugf(format string, v ...any) {
	if l.next != nil {
		l.next.Debugf(format, v...)
	}
}

func (l *fatalLogger) Tracef(format string, v ...any) {
	if l.next != nil {
		l.next.Tracef(format, v...)
	}
}

// auth is the authorization part of a configuration file.
type auth struct {
	users []*server.User
	token string
}

// loadAuth reads the authorization block of a NATS configuration file.
func loadAuth(path string) (auth, error) {
	o, err := server.ProcessConfigFile(path)
	if err != nil {
		return auth{}, fmt.Errorf("%w: users file: %w", ErrBadOptions, err)
	}
	if len(o.Nkeys) > 0 || o.Username != "" {
		return auth{}, fmt.Errorf("%w: users file %s: give users as a users list (nkeys and a single user are not supported; use a real nats-server)", ErrBadOptions, path)
	}
	if len(o.Users) == 0 && o.Authorization == "" {
		return auth{}, fmt.Errorf("%w: users file %s has no users and no token in its authorization block", ErrBadOptions, path)
	}
	for _, u := range o.Users {
		if u.Password == "" {
			return auth{}, fmt.Errorf("%w: users file %s: user %q has an empty password (an unset environment variable?)", ErrBadOptions, path, u.Username)
		}
	}
	return auth{users: o.Users, token: o.Authorization}, nil
}

// clusterOpts fills the route options of a cluster member.
func clusterOpts(o Options, opts *server.Options) error {
	if o.Cluster == "" {
		if len(o.Routes) > 0 {
			return fmt.Errorf("%w: routes without a cluster address", ErrBadOptions)
		}
		return nil
	}
	host, portStr, err := net.SplitHostPort(o.Cluster)
	if err != nil {
		return fmt.Errorf("%w: cluster address %q: %w", ErrBadOptions, o.Cluster, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return fmt.Errorf("%w: cluster port %q: %w", ErrBadOptions, o.Cluster, err)
	}
	if o.Name == "" {
		return fmt.Errorf("%w: a cluster member needs a server name of its own", ErrBadOptions)
	}
	if len(o.Routes) == 0 {
		// JetStream refuses to start (and stops the process) without them.
		return fmt.Errorf("%w: a cluster member needs the routes of the others (listing every member, itself included, is fine)", ErrBadOptions)
	}
	name := o.ClusterName
	if name == "" {
		name = "gahpo"
	}
	if o.RoutePassword == "" && !Loopback(host) {
		// Anyone reaching the port could join the cluster and use every
		// account's JetStream without a user or a permission.
		return fmt.Errorf("%w: cluster address %s reaches beyond loopback and the routes have no password", ErrBadOptions, o.Cluster)
	}
	if o.RouteUser != "" && o.RoutePassword == "" {
		return fmt.Errorf("%w: a route user without a route password", ErrBadOptions)
	}
	user := o.RouteUser
	if user == "" {
		user = DefaultRouteUser
	}
	if port == 0 {
		port = server.RANDOM_PORT
	}
	opts.Cluster = server.ClusterOpts{Name: name, Host: host, Port: port}
	if o.RoutePassword != "" {
		opts.Cluster.Username, opts.Cluster.Password = user, o.RoutePassword
	}
	for _, r := range o.Routes {
		u, err := url.Parse(r)
		if err != nil || u.Host == "" {
			// Not r itself: a malformed URL may hold a password.
			return fmt.Errorf("%w: a route is not a URL (want nats://host:port)", ErrBadOptions)
		}
		if u.User != nil {
			return fmt.Errorf("%w: route %s carries credentials: give the route password apart (it is put into every route)", ErrBadOptions, u.Redacted())
		}
		if o.RoutePassword != "" {
			u.User = url.UserPassword(user, o.RoutePassword)
		}
		opts.Routes = append(opts.Routes, u)
	}
	return nil
}

// Loopback tells whether a listening host reaches this machine only ("",
// every interface, does not).
func Loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Server is a running embedded NATS server.
type Server struct {
	srv *server.Server
}

// readyWithin is how long [Start] waits for the server to accept
// connections.
const readyWithin = 10 * time.Second

// Start starts the server and waits until it accepts connections. An
// address in use fails at once with a [*ListenError], and any other error
// the server meets as it starts (a store directory that is not one) as soon
// as it is met.
func Start(o Options) (*Server, error) {
	if o.StoreDir == "" {
		return nil, errors.New("natsserver: no JetStream store directory")
	}
	if o.Host == "" {
		o.Host = "127.0.0.1"
	}
	port := o.Port
	if port == 0 {
		port = server.RANDOM_PORT
	}
	opts := &server.Options{
		ServerName:    o.Name,
		Host:          o.Host,
		Port:          port,
		JetStream:     true,
		StoreDir:      o.StoreDir,
		NoSigs:        true,
		MaxPayload:    1 << 20,
		Username:      o.User,
		Password:      o.Password,
		Authorization: o.Token,
	}
	if o.TLSCert != "" || o.TLSKey != "" || o.TLSCA != "" {
		if o.TLSCert == "" || o.TLSKey == "" {
			return nil, errors.New("natsserver: TLS needs both a certificate and a key file")
		}
		cfg, err := server.GenTLSConfig(&server.TLSConfigOpts{CertFile: o.TLSCert, KeyFile: o.TLSKey, CaFile: o.TLSCA, Verify: o.TLSCA != ""})
		if err != nil {
			return nil, fmt.Errorf("natsserver: TLS: %w", err)
		}
		opts.TLS, opts.TLSConfig, opts.TLSVerify = true, cfg, o.TLSCA != ""
		opts.TLSTimeout = 5
	}
	if o.UsersFile != "" {
		if o.User != "" || o.Token != "" {
			return nil, fmt.Errorf("%w: a users file excludes a user or token given apart", ErrBadOptions)
		}
		a, err := loadAuth(o.UsersFile)
		if err != nil {
			return nil, err
		}
		opts.Users, opts.Authorization = a.users, a.token
	}
	if err := clusterOpts(o, opts); err != nil {
		return nil, err
	}
	if o.Monitor != "" {
		host, portStr, err := net.SplitHostPort(o.Monitor)
		if err != nil {
			return nil, fmt.Errorf("%w: monitor address %q: %w", ErrBadOptions, o.Monitor, err)
		}
		if opts.HTTPPort, err = strconv.Atoi(portStr); err != nil {
			return nil, fmt.Errorf("%w: monitor port %q: %w", ErrBadOptions, o.Monitor, err)
		}
		opts.HTTPHost = host
	}
	if err := checkFree(o, opts); err != nil {
		return nil, err
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("natsserver: %w", err)
	}
	log := &fatalLogger{fatal: make(chan error, 1)}
	if o.Log {
		srv.ConfigureLogger()
		log.next = srv.Logger()
	}
	srv.SetLoggerV2(log, opts.Debug, opts.Trace, opts.TraceVerbose)
	go srv.Start()
	for deadline := time.Now().Add(readyWithin); ; {
		// In short steps, to see a fatal error as soon as it is logged:
		// the server's own wait does not end on one.
		if srv.ReadyForConnections(100 * time.Millisecond) {
			break
		}
		select {
		case err := <-log.fatal:
			srv.Shutdown()
			srv.WaitForShutdown()
			return nil, err
		default:
		}
		if time.Now().After(deadline) {
			srv.Shutdown()
			return nil, fmt.Errorf("natsserver: not ready on %s after %v", net.JoinHostPort(o.Host, strconv.Itoa(o.Port)), readyWithin)
		}
	}
	return &Server{srv: srv}, nil
}

// ClusterURL is the route URL of a cluster member ("" for a single server).
func (s *Server) ClusterURL() string {
	if a := s.srv.ClusterAddr(); a != nil {
		return "nats://" + a.String()
	}
	return ""
}

// MonitorURL is the base URL of the HTTP monitoring endpoint ("" without
// one).
func (s *Server) MonitorURL() string {
	if a := s.srv.MonitorAddr(); a != nil {
		return "http://" + a.String()
	}
	return ""
}

// URL is the client URL of the server.
func (s *Server) URL() string { return s.srv.ClientURL() }

// Shutdown stops the server and waits for it.
func (s *Server) Shutdown() {
	s.srv.Shutdown()
	s.srv.WaitForShutdown()
}
