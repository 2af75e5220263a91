package bus_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gahpo/gahpo"
	"github.com/gahpo/gahpo/bus"
	"github.com/gahpo/gahpo/natsserver"
)

// pki is a throwaway CA with a server certificate for 127.0.0.1 and a
// client certificate, as PEM files in a temporary folder.
type pki struct {
	ca, serverCert, serverKey, clientCert, clientKey string
	otherCA                                          string // a CA that signed none of them
}

func newPKI(t *testing.T) pki {
	t.Helper()
	dir := t.TempDir()
	write := func(name, kind string, der []byte) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	key := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	keyPEM := func(name string, k *ecdsa.PrivateKey) string {
		der, err := x509.MarshalECPrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return write(name, "EC PRIVATE KEY", der)
	}
	serial := int64(1)
	cert := func(tmpl, parent *x509.Certificate, pub *ecdsa.PublicKey, signer *ecdsa.PrivateKey) (*x509.Certificate, []byte) {
		serial++
		tmpl.SerialNumber = big.NewInt(serial)
		tmpl.NotBefore, tmpl.NotAfter = time.Now().Add(-time.Hour), time.Now().Add(time.Hour)
		if parent == nil {
			parent = tmpl
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
		if err != nil {
			t.Fatal(err)
		}
		c, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		return c, der
	}
	newCA := func(name string) (*x509.Certificate, *ecdsa.PrivateKey, string) {
		k := key()
		c, der := cert(&x509.Certificate{Subject: pkix.Name{CommonName: name}, IsCA: true, BasicConstraintsValid: true,
			KeyUsage: x509.KeyUsageCertSign}, nil, &k.PublicKey, k)
		return c, k, write(name+".pem", "CERTIFICATE", der)
	}
	var p pki
	caCert, caKey, caPath := newCA("gahpo-test-ca")
	p.ca = caPath
	_, _, p.otherCA = newCA("other-ca")
	sk := key()
	_, der := cert(&x509.Certificate{Subject: pkix.Name{CommonName: "nats"}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, KeyUsage: x509.KeyUsageDigitalSignature}, caCert, &sk.PublicKey, caKey)
	p.serverCert, p.serverKey = write("server.pem", "CERTIFICATE", der), keyPEM("server-key.pem", sk)
	ck := key()
	_, der = cert(&x509.Certificate{Subject: pkix.Name{CommonName: "worker"},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, KeyUsage: x509.KeyUsageDigitalSignature}, caCert, &ck.PublicKey, caKey)
	p.clientCert, p.clientKey = write("client.pem", "CERTIFICATE", der), keyPEM("client-key.pem", ck)
	return p
}

// TestMutualTLS runs the task path over a NATS server that requires TLS
// and client certificates, and checks that clients without the right CA or
// without a certificate are refused with an error that says why.
func TestMutualTLS(t *testing.T) {
	p := newPKI(t)
	srv, err := natsserver.Start(natsserver.Options{StoreDir: t.TempDir(), TLSCert: p.serverCert, TLSKey: p.serverKey, TLSCA: p.ca})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Shutdown)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	c, err := bus.Connect(ctx, bus.Options{URL: srv.URL(), Name: "tls", TLSCA: p.ca, TLSCert: p.clientCert, TLSKey: p.clientKey})
	if err != nil {
		t.Fatalf("connect with the CA and a client certificate: %v", err)
	}
	defer c.Close()
	if err := c.EnsureStreams(ctx, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	task := gahpo.Task{V: gahpo.MessageVersion, Kind: gahpo.KindFitness, RunID: "tls", GenomeID: 1, Problem: "p",
		Params: map[string]float64{"x": 1}, MaxAttempts: 1}
	if err := c.PublishTask(ctx, task); err != nil {
		t.Fatal(err)
	}
	q, err := c.Tasks(ctx)
	if err != nil {
		t.Fatal(err)
	}
	d, err := q.Next(ctx, 5*time.Second)
	if err != nil || d == nil {
		t.Fatalf("next task over TLS: %v, %v", d, err)
	}
	var got gahpo.Task
	if err := gahpo.Decode(d.Data, &got); err != nil || got.GenomeID != 1 {
		t.Fatalf("task over TLS: %+v, %v", got, err)
	}
	_ = d.Ack(ctx)

	refused := []struct {
		name string
		o    bus.Options
		want string
	}{
		{"no CA (system roots)", bus.Options{}, "certificate"},
		{"another CA", bus.Options{TLSCA: p.otherCA, TLSCert: p.clientCert, TLSKey: p.clientKey}, "certificate"},
		// The server may close before the client reads its alert
		// ("certificate required" or a broken pipe): both say tls.
		{"no client certificate", bus.Options{TLSCA: p.ca}, "the server may require a client certificate: --tls-cert and --tls-key"},
	}
	for _, tt := range []struct{ name, cert, key string }{{"certificate without key", p.clientCert, ""}, {"key without certificate", "", p.clientKey}} {
		_, err := bus.Connect(ctx, bus.Options{URL: srv.URL(), TLSCA: p.ca, TLSCert: tt.cert, TLSKey: tt.key})
		if err == nil || !strings.Contains(err.Error(), "a client certificate and its key go together") {
			t.Errorf("%s: %v", tt.name, err)
		}
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			o := tt.o
			o.URL, o.Name = srv.URL(), tt.name
			cctx, ccancel := context.WithTimeout(ctx, 10*time.Second)
			defer ccancel()
			c, err := bus.Connect(cctx, o)
			if err == nil {
				// A missing client certificate may only show once the
				// server checks it: the connection must not work.
				err = c.EnsureStreams(cctx, 5*time.Second)
				c.Close()
			}
			if err == nil {
				t.Fatal("connected and used the server")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not mention %q", err, tt.want)
			}
			t.Logf("refused: %v", err)
		})
	}
}

// TestServerTLSOptions checks that the embedded server refuses half a TLS
// configuration and unreadable files with a clear error.
func TestServerTLSOptions(t *testing.T) {
	p := newPKI(t)
	tests := []struct {
		name string
		o    natsserver.Options
		want string
	}{
		{"certificate without key", natsserver.Options{TLSCert: p.serverCert}, "both a certificate and a key"},
		{"CA alone", natsserver.Options{TLSCA: p.ca}, "both a certificate and a key"},
		{"missing file", natsserver.Options{TLSCert: filepath.Join(t.TempDir(), "nope.pem"), TLSKey: p.serverKey}, "TLS"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.o.StoreDir = t.TempDir()
			srv, err := natsserver.Start(tt.o)
			if err == nil {
				srv.Shutdown()
				t.Fatal("started")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not mention %q", err, tt.want)
			}
		})
	}
}
