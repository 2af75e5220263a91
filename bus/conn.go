package bus

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Options says how to reach a NATS cluster.
type Options struct {
	// URL is one server URL or several separated by commas.
	URL string
	// Name identifies the client in the server's monitoring.
	Name string
	// User and Password authenticate with a user name.
	User, Password string
	// Token authenticates with a token.
	Token string
	// Creds is a credentials file (JWT and NKey seed).
	Creds string
	// TLSCA, TLSCert and TLSKey configure TLS (CA file; client certificate
	// and key for mutual TLS).
	TLSCA, TLSCert, TLSKey string
	// Wait makes Connect keep trying, with a backoff of up to 5 s and a
	// warning each time, while no server answers (a worker started before
	// its server, or during an outage), until ctx ends. Other errors
	// (authentication, TLS) return at once.
	Wait bool
	// Logger receives connection events; nil means slog.Default().
	Logger *slog.Logger
	// InboxPrefix replaces "_INBOX" in the subjects of the replies this
	// client receives, so that a user's permissions can allow its own
	// replies only ("_INBOX_worker.>") and no other client's.
	InboxPrefix string
	// InboxOwn puts this connection's replies under a prefix of its own:
	// InboxPrefix (or "_INBOX") followed by a unique id,
	// "_INBOX_worker.<id>", still within what a user allowed
	// "_INBOX_worker.>" may subscribe to ([Conn.InboxPrefix] tells it).
	// The workers of one NATS user then share no reply prefix; the server
	// still lets that user subscribe to all of them (deploy/README.md).
	InboxOwn bool
	// Streams are the replicas and limits of the streams this connection
	// creates ([Conn.EnsureStreams], the coordinator's).
	Streams StreamOptions
}

// ErrClosed is returned (wrapped, with the client's last error as the
// reason) by the calls of a Conn whose connection the NATS client has
// closed for good: after the server refused its credentials twice in a
// row, or after Close. Nothing on it will work again; a process whose only
// connection it is should exit with the reason.
var ErrClosed = errors.New("bus: NATS connection closed for good")

// closed wraps err with ErrClosed and the reason when nc is closed.
func closed(nc *nats.Conn, err error) error {
	if !nc.IsClosed() {
		return err
	}
	if last := nc.LastError(); last != nil {
		return fmt.Errorf("%w: %w (%w)", ErrClosed, last, err)
	}
	return fmt.Errorf("%w: %w", ErrClosed, err)
}

// ErrInboxRefused is returned (wrapped, with a hint) by the calls that
// need replies when the server refuses this client's subscription to its
// reply subjects: the user's permissions allow another prefix (with
// deploy/nats/auth.conf, _INBOX_<user>), and [Options.InboxPrefix] is not
// it. No request can get an answer on such a connection.
var ErrInboxRefused = errors.New("bus: the NATS server refuses this client's replies")

// inboxState remembers whether the server refused the reply subscription.
type inboxState struct {
	prefix  string // the reply subjects' prefix as given, "_INBOX" by default
	own     string // the connection's own: prefix, or prefix.<id> (Options.InboxOwn)
	refused atomic.Pointer[error]
	told    atomic.Bool // a caller got the refusal as its error
}

// refusal is the error of a refused reply subscription, nil when none was.
// The caller is taken to pass it on: the connection then logs it no more.
func (s *inboxState) refusal() error {
	if e := s.refused.Load(); e != nil {
		s.told.Store(true)
		return *e
	}
	return nil
}

// tellLater logs the refusal unless a caller has been given it as its
// error within a second (a command would print it twice): a client whose
// calls do not check it still learns why its requests time out.
func (s *inboxState) tellLater(log *slog.Logger, server error) {
	time.AfterFunc(time.Second, func() {
		if e := s.refused.Load(); e != nil && !s.told.Load() {
			log.Error("no reply can reach this client", "err", *e, "server", server)
		}
	})
}

// note records a permissions violation of a subscription to the reply
// subjects, and tells whether err was one.
func (s *inboxState) note(err error) bool {
	if !errors.Is(err, nats.ErrPermissionViolation) || !strings.Contains(err.Error(), `Subscription to "`+s.prefix+".") {
		return false
	}
	hint := "set GAHPO_NATS_INBOX_PREFIX or --nats-inbox-prefix to a prefix this user may subscribe to (_INBOX_<user> with deploy/nats/auth.conf)"
	if s.prefix != "_INBOX" {
		hint = "GAHPO_NATS_INBOX_PREFIX / --nats-inbox-prefix " + s.prefix + " is not this user's: " +
			"set the prefix this user may subscribe to (_INBOX_<user> with deploy/nats/auth.conf)"
	}
	e := fmt.Errorf("%w (subscription to %s.> refused): %s", ErrInboxRefused, s.prefix, hint)
	s.refused.Store(&e)
	return true
}

// explain puts the refusal of the reply subscription in front of err (a
// request's timeout, most likely caused by it), when there was one.
func (s *inboxState) explain(err error) error {
	if err == nil || errors.Is(err, ErrInboxRefused) {
		return err
	}
	if r := s.refusal(); r != nil {
		return fmt.Errorf("%w: %w", r, err)
	}
	return err
}

// Conn is a NATS connection with its JetStream context.
type Conn struct {
	nc      *nats.Conn
	js      jetstream.JetStream
	log     *slog.Logger
	streams StreamOptions
	inbox   *inboxState
	// leaseKept is the lease last asked for and kept (ensureLease), so
	// that the warning is not repeated when the streams are ensured again.
	leaseKept atomic.Int64
}

// dialNATS connects to o's servers with opts. With o.Wait it tries again, with
// a backoff of up to 5 s and a warning each time, while no server answers,
// until ctx ends; a dial still under way when ctx ends is closed once it
// returns.
func dialNATS(ctx context.Context, o Options, opts []nats.Option, log *slog.Logger) (*nats.Conn, error) {
	urls := strings.Join(strings.Fields(strings.ReplaceAll(o.URL, ",", " ")), ",")
	shown := redacted(urls) // a URL may carry a token or a password
	type dialed struct {
		nc  *nats.Conn
		err error
	}
	ch := make(chan dialed, 1)
	dial := func() {
		nc, err := nats.Connect(urls, opts...)
		ch <- dialed{nc, err}
	}
	go dial()
	var nc *nats.Conn
	for attempt := 1; nc == nil; attempt++ {
		select {
		case d := <-ch:
			if d.err == nil {
				nc = d.nc // ends the loop
				continue
			}
			if !o.Wait || !errors.Is(d.err, nats.ErrNoServers) {
				return nil, fmt.Errorf("bus: connect %s: %w%s", shown, d.err, tlsHint(o, d.err))
			}
			wait := min(time.Duration(attempt)*500*time.Millisecond, 5*time.Second)
			log.Warn("no NATS server answers; trying again", "urls", shown, "in", wait, "err", d.err)
			select {
			case <-ctx.Done():
				return nil, fmt.Errorf("bus: connect %s: %w (last: %w)", shown, ctx.Err(), d.err)
			case <-time.After(wait):
			}
			go dial()
		case <-ctx.Done():
			go func() {
				if d := <-ch; d.nc != nil {
					d.nc.Close()
				}
			}()
			return nil, fmt.Errorf("bus: connect %s: %w", shown, ctx.Err())
		}
	}
	return nc, nil
}

// Connect dials NATS with reconnects and backoff.
func Connect(ctx context.Context, o Options) (*Conn, error) {
	if o.URL == "" {
		return nil, errors.New("bus: no NATS URL given")
	}
	if (o.TLSCert == "") != (o.TLSKey == "") {
		return nil, errors.New("bus: a client certificate and its key go together (--tls-cert with --tls-key)")
	}
	log := o.Logger
	if log == nil {
		log = slog.Default()
	}
	log = log.With("subsystem", "nats")
	inbox := &inboxState{prefix: cmp.Or(o.InboxPrefix, "_INBOX")}
	inbox.own = inbox.prefix
	if o.InboxOwn {
		// A NUID, as nats.go's own inboxes have: no dot, no wildcard.
		inbox.own += "." + strings.TrimPrefix(nats.NewInbox(), nats.InboxPrefix)
	}
	opts := []nats.Option{
		nats.Name(o.Name),
		nats.MaxReconnects(-1),
		// The delay between reconnect attempts grows by 250 ms an attempt up
		// to 5 s (this replaces nats.go's ReconnectWait and jitter).
		nats.CustomReconnectDelay(func(attempts int) time.Duration {
			d := time.Duration(attempts) * 250 * time.Millisecond
			return min(d, 5*time.Second)
		}),
		nats.RetryOnFailedConnect(false),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn("disconnected", "err", err)
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			inbox.refused.Store(nil) // the subscriptions are made again: the server says anew
			log.Info("reconnected", "url", nc.ConnectedUrlRedacted())
		}),
		// The server's complaints (permissions violations, slow consumers)
		// go to the log; a refused reply subscription is told with its
		// cause and remembered, so that the calls it makes fail say why.
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			if inbox.note(err) {
				inbox.tellLater(log, err)
				return
			}
			log.Warn("NATS server error", "err", err)
		}),
		// A refused synchronous subscription says so at once (the probe
		// below, Discover) instead of waiting for messages that never come.
		nats.PermissionErrOnSubscribe(true),
		nats.ClosedHandler(func(nc *nats.Conn) {
			// A permissions violation closes nothing: it is only the last
			// thing the server said before a Close.
			if err := nc.LastError(); err != nil && !errors.Is(err, nats.ErrPermissionViolation) {
				log.Error("connection closed for good", "err", err)
			}
		}),
	}
	if inbox.own != "_INBOX" {
		opts = append(opts, nats.CustomInboxPrefix(inbox.own))
	}
	if o.User != "" {
		opts = append(opts, nats.UserInfo(o.User, o.Password))
	}
	if o.Token != "" {
		opts = append(opts, nats.Token(o.Token))
	}
	if o.Creds != "" {
		opts = append(opts, nats.UserCredentials(o.Creds))
	}
	if o.TLSCA != "" {
		opts = append(opts, nats.RootCAs(o.TLSCA))
	}
	if o.TLSCert != "" || o.TLSKey != "" {
		opts = append(opts, nats.ClientCert(o.TLSCert, o.TLSKey))
	}
	nc, err := dialNATS(ctx, o, opts, log)
	if err != nil {
		return nil, err
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("bus: jetstream: %w", err)
	}
	c := &Conn{nc: nc, js: js, log: log, streams: o.Streams, inbox: inbox}
	c.probeInbox(ctx)
	return c, nil
}

// probeInbox subscribes once to a reply subject, so that a refusal is
// known before the first request rather than after its timeout.
func (c *Conn) probeInbox(ctx context.Context) {
	sub, err := c.nc.SubscribeSync(c.nc.NewInbox())
	if err != nil {
		return
	}
	defer sub.Unsubscribe()
	fctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if c.nc.FlushWithContext(fctx) != nil {
		return
	}
	// The server answers a subscription it refuses before the flush's
	// PONG: the refusal, if any, is on the subscription by now.
	if _, err := sub.NextMsg(time.Millisecond); err != nil {
		c.inbox.note(err)
	}
}

// InboxPrefix is the prefix of this connection's reply subjects (see
// [Options.InboxPrefix] and [Options.InboxOwn]).
func (c *Conn) InboxPrefix() string { return c.inbox.own }

// InboxRefused is the error (wrapping [ErrInboxRefused], with its remedy)
// of a server that refused this client's reply subscription; nil when it
// did not.
func (c *Conn) InboxRefused() error { return c.inbox.refusal() }

// tlsHint names the likely cause of a TLS failure of a client that trusts
// a CA but has no certificate of its own: a server under mutual TLS drops
// it, often before the client reads why ("broken pipe").
func tlsHint(o Options, err error) string {
	if o.TLSCA == "" || o.TLSCert != "" || !strings.Contains(strings.ToLower(err.Error()), "tls") {
		return ""
	}
	return " (the server may require a client certificate: --tls-cert and --tls-key)"
}

// Drain lets pending messages flow and closes the connection.
func (c *Conn) Drain() error {
	if err := c.nc.Drain(); err != nil {
		c.nc.Close()
		return fmt.Errorf("bus: drain: %w", err)
	}
	for !c.nc.IsClosed() {
		time.Sleep(10 * time.Millisecond)
	}
	return nil
}

// Flush waits until the server has processed what this connection sent,
// as a Nak, which the server does not confirm.
func (c *Conn) Flush(ctx context.Context) error {
	if err := c.nc.FlushWithContext(ctx); err != nil {
		return fmt.Errorf("bus: flush: %w", err)
	}
	return nil
}

// Close closes the connection at once (pending acks are lost, as when a
// process is killed).
func (c *Conn) Close() { c.nc.Close() }

// Unavailable tells whether err came of the NATS server being out of
// reach or not answering yet: the connection is down or reconnecting, a
// request timed out, or no JetStream answered (a server restarting). Such
// a call is worth making again once the client has reconnected; one on a
// connection closed for good ([ErrClosed]) is not.
func (c *Conn) Unavailable(err error) bool {
	if err == nil || c.nc.IsClosed() || errors.Is(err, context.Canceled) {
		return false
	}
	return !c.nc.IsConnected() || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout) ||
		errors.Is(err, nats.ErrNoResponders) || errors.Is(err, jetstream.ErrJetStreamNotEnabled)
}

// ConnectedURL is the server this connection talks to.
func (c *Conn) ConnectedURL() string { return c.nc.ConnectedUrl() }

// redacted is a comma-separated list of URLs with the credentials any of
// them carries (nats://TOKEN@host, nats://user:password@host) masked, for
// logs and errors.
func redacted(urls string) string {
	parts := strings.Split(urls, ",")
	for i, p := range parts {
		if u, err := url.Parse(p); err == nil && u.User != nil {
			u.User = url.User("xxxxx")
			parts[i] = u.String()
		} else if err != nil && strings.Contains(p, "@") {
			parts[i] = "xxxxx@" + p[strings.LastIndex(p, "@")+1:]
		}
	}
	return strings.Join(parts, ",")
}
