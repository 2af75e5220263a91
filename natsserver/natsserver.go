// Package natsserver runs an embedded NATS server with JetStream, for the
// all-in-one `gahpo run`, for `gahpo nats`, and for tests.
package natsserver

import (
	"errors"
	"fmt"
	"net"
	"strconv"
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
}

// Server is a running embedded NATS server.
type Server struct {
	srv *server.Server
}

// Start starts the server and waits until it accepts connections.
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
	srv, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("natsserver: %w", err)
	}
	if o.Log {
		srv.ConfigureLogger()
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		srv.Shutdown()
		return nil, fmt.Errorf("natsserver: not ready on %s after 10s", net.JoinHostPort(o.Host, strconv.Itoa(o.Port)))
	}
	return &Server{srv: srv}, nil
}

// URL is the client URL of the server.
func (s *Server) URL() string { return s.srv.ClientURL() }

// Shutdown stops the server and waits for it.
func (s *Server) Shutdown() {
	s.srv.Shutdown()
	s.srv.WaitForShutdown()
}
