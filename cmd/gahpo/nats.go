package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"strconv"

	"github.com/gahpo/gahpo/natsserver"
)

func (m *Main) runNATS(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("gahpo nats", flag.ContinueOnError)
	fs.SetOutput(m.Stderr)
	listen := fs.String("listen", "127.0.0.1:4222", "address to listen on (0.0.0.0:4222 for other machines)")
	storeDir := fs.String("store", "gahpo-nats", "JetStream store directory")
	user := fs.String("user", "", "require this user name (with --password)")
	password := fs.String("password", "", "password of --user")
	token := fs.String("token", "", "require this token")
	verbose := fs.Bool("v", false, "log the server's events")
	tlsCert := fs.String("tls-cert", "", "server certificate file (PEM): accept TLS connections only")
	tlsKey := fs.String("tls-key", "", "server key file (PEM), with --tls-cert")
	tlsCA := fs.String("tls-ca", "", "CA file (PEM): require client certificates signed by it (mutual TLS)")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	host, portStr, err := net.SplitHostPort(*listen)
	if err != nil {
		return fmt.Errorf("nats: bad --listen %q: %w", *listen, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return fmt.Errorf("nats: bad port in --listen %q: %w", *listen, err)
	}
	srv, err := natsserver.Start(natsserver.Options{Host: host, Port: port, StoreDir: *storeDir, User: *user, Password: *password, Token: *token, Log: *verbose, Name: "gahpo",
		TLSCert: *tlsCert, TLSKey: *tlsKey, TLSCA: *tlsCA})
	if err != nil {
		return err
	}
	fmt.Fprintf(m.Stdout, "gahpo: NATS with JetStream listening on %s (store %s); stop with Ctrl-C\n", srv.URL(), *storeDir)
	<-ctx.Done()
	srv.Shutdown()
	return nil
}
