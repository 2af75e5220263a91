package main

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/gahpo/gahpo"
	"github.com/gahpo/gahpo/bus"
	"github.com/gahpo/gahpo/store"
)

// natsSecrets are a client's NATS secrets: each comes from its flag
// (--nats-token), its file flag (the flag and "-file": --nats-token-file)
// or the environment ([envSecret]: the variable or its _FILE twin), in that
// order; the two flags together are refused (parse).
var natsSecrets = []struct{ what, flag, env string }{
	{"token", "nats-token", tokenEnv},
	{"password", "nats-password", passwordEnv},
}

// registerSecretFiles adds the flags that read the NATS token and password
// from files (a mounted Kubernetes Secret, a systemd credential), so that no
// secret appears in a process's arguments, and reads the secrets of the
// environment ([envSecret]); a flag given replaces them. It also adds the
// reply-subject prefix that per-user permissions need.
func (n *natsFlags) registerSecretFiles(fs *flag.FlagSet) {
	fs.StringVar(&n.inbox, "nats-inbox-prefix", os.Getenv("GAHPO_NATS_INBOX_PREFIX"), "prefix of this client's reply subjects instead of _INBOX: _INBOX_<user> with deploy/nats/auth.conf (_INBOX_coordinator, _INBOX_worker, _INBOX_query for query, status and report; a worker replies under <prefix>.<an id of its own>); env GAHPO_NATS_INBOX_PREFIX")
	n.secretErr = map[string]error{}
	for _, s := range natsSecrets {
		dst := &n.token
		if s.what == "password" {
			dst = &n.password
		}
		fs.Func(s.flag+"-file", "`file` holding the NATS "+s.what+"; env "+s.env+"_FILE", func(p string) error {
			return readSecret(dst, p)
		})
		v, err := envSecret(s.env)
		if err != nil {
			n.secretErr[s.env] = err
		}
		*dst = v
	}
}

// readSecret reads a secret from a file, without its trailing newline.
func readSecret(dst *string, path string) error {
	v, err := secretIn(path)
	if err != nil {
		return err
	}
	if v == "" {
		return fmt.Errorf("%s is empty", path)
	}
	*dst = v
	return nil
}

// secretIn is the secret a file holds: its text without its trailing
// newline ("" when that leaves nothing).
func secretIn(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}

// streamFlags are the coordinator's replication and limits of the streams.
type streamFlags struct {
	fs       *flag.FlagSet
	replicas int
	maxAge   time.Duration
	maxBytes int64
}

func (s *streamFlags) register(fs *flag.FlagSet) {
	s.fs = fs
	fs.IntVar(&s.replicas, "replicas", 1, "copies of the streams and buckets on a NATS cluster (3 on a 3-server cluster)")
	fs.DurationVar(&s.maxAge, "stream-max-age", bus.DefaultMaxAge, "tasks and results older than this leave the streams (an abandoned run's tasks); negative: no limit. The streams are every run's on this NATS: not given, existing streams keep theirs")
	fs.Int64Var(&s.maxBytes, "stream-max-bytes", bus.DefaultMaxBytes, "bytes each of the task and result streams may hold; negative: no limit. The streams are every run's on this NATS: not given, existing streams keep theirs")
}

// apply sets the stream options of the coordinator's connection. The
// limits not given are left at zero: the streams are every run's on the
// server, and the defaults would reset the limits another coordinator set
// (a new stream gets the defaults).
func (s *streamFlags) apply(o bus.Options) (bus.Options, error) {
	o.Streams = bus.StreamOptions{Replicas: s.replicas}
	s.fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "stream-max-age":
			o.Streams.MaxAge = cmp.Or(s.maxAge, bus.DefaultMaxAge)
		case "stream-max-bytes":
			o.Streams.MaxBytes = cmp.Or(s.maxBytes, bus.DefaultMaxBytes)
		}
	})
	if s.replicas < 1 {
		return o, fmt.Errorf("--replicas %d: want 1 to 5", s.replicas)
	}
	return o, o.Streams.Validate()
}

// listenAuth decides the authentication of `gahpo run`'s embedded server.
// On a loopback address nothing changes. On any other address the server
// requires a token: GAHPO_NATS_TOKEN or the file named by
// GAHPO_NATS_TOKEN_FILE (not both: [envSecret]), else the token kept in
// tokenFile, made (random, mode 0600) on first use. Once the server
// listens, announce prints the command that joins a worker, with the token
// read from a file, never on the command line.
func listenAuth(w io.Writer, listen, tokenFile string) (token string, announce func(url string), err error) {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return "", nil, fmt.Errorf("run: bad --listen %q: %w", listen, err)
	}
	if loopback(host) {
		return "", func(string) {}, nil
	}
	if token, err = envSecret(tokenEnv); err != nil {
		return "", nil, fmt.Errorf("run: %w", err)
	}
	source := tokenEnv
	if p := os.Getenv(tokenEnv + "_FILE"); p != "" {
		source = p
	}
	if token == "" {
		source = tokenFile
		if err := readSecret(&token, tokenFile); errors.Is(err, os.ErrNotExist) {
			b := make([]byte, 24)
			_, _ = rand.Read(b)
			token = hex.EncodeToString(b)
			if err := os.WriteFile(tokenFile, []byte(token+"\n"), 0o600); err != nil {
				return "", nil, fmt.Errorf("run: keep the NATS token: %w", err)
			}
		} else if err != nil {
			return "", nil, fmt.Errorf("run: NATS token: %w", err)
		}
	}
	announce = func(url string) {
		if h, port, err := net.SplitHostPort(strings.TrimPrefix(url, "nats://")); err == nil && (h == "0.0.0.0" || h == "::") {
			if name, err := os.Hostname(); err == nil {
				url = "nats://" + net.JoinHostPort(name, port)
			}
		}
		fmt.Fprintf(w, "gahpo: NATS on %s requires a token (from %s). On each worker machine, copy the token into a file and run:\n"+
			"  GAHPO_NATS_TOKEN_FILE=/path/to/token gahpo worker --nats %s\n", url, source, url)
	}
	return token, announce, nil
}

// runPurge removes the queued tasks and waiting results of a finished or
// abandoned run from the streams, its results consumer, and its
// checkpoints and weights from the object store (the history file holds
// the final model's): what a coordinator killed as its run ended, before
// its clean-up, leaves behind. It refuses a run whose coordinator
// answers on NATS (purging would kill it: its result consumer goes), and,
// without --force, one that the history file holds as running or final.
func (m *Main) runPurge(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("gahpo purge", flag.ContinueOnError)
	fs.SetOutput(m.Stderr)
	setUsage(fs, m.Stderr, "Usage: gahpo purge --nats URL --run ID [--db FILE] [--force]\n\n"+
		"Removes a finished or abandoned run's tasks, results, checkpoints and weights from NATS.")
	var nf natsFlags
	nf.register(fs, true)
	run := fs.String("run", "", "run id whose tasks and results to remove (required; see 'gahpo query runs')")
	db := fs.String("db", "gahpo.db", "the coordinator's history file: a run it holds as running or final is refused without --force (skipped when the default is absent)")
	force := fs.Bool("force", false, "purge a run that the history file holds as running or final: its coordinator is not running any more")
	if err := parseNone(fs, args); err != nil {
		return err
	}
	if nf.url == "" || *run == "" {
		return errors.New("purge: --nats URL and --run ID are required")
	}
	dbGiven := false
	fs.Visit(func(f *flag.Flag) { dbGiven = dbGiven || f.Name == "db" })
	opts, err := nf.options("gahpo-purge")
	if err != nil {
		return err
	}
	conn, err := bus.Connect(ctx, opts)
	if err != nil {
		return err
	}
	defer conn.Close()
	if err := purgeable(ctx, conn, *run, *db, dbGiven, *force); err != nil {
		return err
	}
	if err := runKnown(ctx, conn, *run, *db); err != nil {
		return err
	}
	tasks, results, err := conn.Pending(ctx, *run)
	if err != nil {
		return err
	}
	if err := conn.PurgeTasks(ctx, *run); err != nil {
		return err
	}
	if err := conn.PurgeResults(ctx, *run); err != nil {
		return err
	}
	if err := conn.DeleteResults(ctx, *run); err != nil {
		return err
	}
	objects := 0
	for _, bucket := range []string{bus.BucketCheckpoints, bus.BucketWeights} {
		n, err := conn.DeleteRunObjects(ctx, bucket, *run)
		objects += n
		if err != nil {
			return fmt.Errorf("purge: %d objects removed, then: %w", objects, err)
		}
	}
	data, err := conn.ReleaseData(ctx, *run)
	if err != nil {
		return fmt.Errorf("purge: %d checkpoints and weights removed, then: %w", objects, err)
	}
	fmt.Fprintf(m.Stdout, "gahpo: run %s: removed %d queued tasks, %d waiting results and %d checkpoints and weights; deleted %d data files no other run uses\n", *run, tasks, results, objects, data)
	return nil
}

// stopFirst tells how to stop a coordinator and keep its run resumable.
const stopFirst = "stop its coordinator first (Ctrl-C, or SIGTERM to its process: the run stays resumable)"

// purgeable refuses to purge a run that is running: one whose coordinator
// answers on NATS, or, unless force, one that the history file db holds as
// running or final (its coordinator may run cut off from NATS, or may have
// been killed). A db absent and not given explicitly (dbGiven) is skipped.
func purgeable(ctx context.Context, conn *bus.Conn, run, db string, dbGiven, force bool) error {
	svcs, err := conn.Discover(ctx)
	if err != nil && !errors.Is(err, bus.ErrNoService) {
		return fmt.Errorf("purge: look for its coordinator: %w", err)
	}
	if slices.ContainsFunc(svcs, func(s bus.Service) bool { return s.RunID == run }) {
		return fmt.Errorf("purge: run %s is running: its coordinator answers on NATS (purging would kill it); %s, then purge", run, stopFirst)
	}
	if _, err := os.Stat(db); errors.Is(err, os.ErrNotExist) && !dbGiven {
		return nil
	}
	if force {
		return nil
	}
	st, err := store.Open(db, store.Options{ReadOnly: true, Timeout: 300 * time.Millisecond})
	if errors.Is(err, store.ErrLocked) {
		if len(svcs) > 0 { // most likely theirs: this run's did not answer
			ids := make([]string, len(svcs))
			for i, s := range svcs {
				ids[i] = s.RunID
			}
			return fmt.Errorf("purge: %s is in use, most likely by the coordinator of run %s (it answers on NATS; run %s's does not), so whether run %s is running cannot be read: if it is not, purge --force", db, strings.Join(ids, ", "), run, run)
		}
		return fmt.Errorf("purge: %s is in use (by the coordinator of run %s?): %s; or, if run %s is not running any more, purge --force", db, run, stopFirst, run)
	}
	if err != nil {
		return fmt.Errorf("purge: %w", historyErr(db, err))
	}
	defer st.Close()
	r, err := st.Run(run)
	if errors.Is(err, store.ErrNotFound) {
		if dbGiven {
			return fmt.Errorf("purge: run %s is not in %s (give its coordinator's --db, or --force)", run, db)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("purge: %w", err)
	}
	if r.Status == gahpo.RunRunning || r.Status == gahpo.RunFinal {
		return fmt.Errorf("purge: run %s is %s in %s: if its coordinator still runs, %s; if it is not running any more, purge --force (resuming it later queues its tasks again)", run, r.Status, db, stopFirst)
	}
	return nil
}

// runKnown refuses to purge a run that neither NATS nor the history file
// db holds anything of (a mistyped id would purge nothing and say so as a
// success): it names the runs that both hold. A run of the history with
// nothing left on NATS is known: its purge removes nothing, and says so.
func runKnown(ctx context.Context, conn *bus.Conn, run, db string) error {
	onNATS, err := conn.Runs(ctx)
	if err != nil {
		return fmt.Errorf("purge: %w", err)
	}
	if slices.Contains(onNATS, run) {
		return nil
	}
	inDB, dbErr := historyRunIDs(db)
	if slices.Contains(inDB, run) {
		return nil
	}
	var b strings.Builder
	fmt.Fprintf(&b, "purge: no run %s: NATS holds nothing of it", run)
	if dbErr == nil {
		fmt.Fprintf(&b, ", nor does %s", db)
	}
	b.WriteString("; runs on NATS: ")
	b.WriteString(listOrNone(onNATS))
	switch {
	case errors.Is(dbErr, os.ErrNotExist):
		fmt.Fprintf(&b, "; no history file %s to look in (give its coordinator's --db)", db)
	case dbErr != nil:
		fmt.Fprintf(&b, "; the runs of %s cannot be read: %v", db, dbErr)
	default:
		fmt.Fprintf(&b, "; runs in %s: %s (gahpo query runs --db FILE lists another history's)", db, listOrNone(inDB))
	}
	return errors.New(b.String())
}

// historyRunIDs returns the ids of the runs in the history file db, the
// latest last.
func historyRunIDs(db string) ([]string, error) {
	if _, err := os.Stat(db); err != nil {
		return nil, err
	}
	st, err := store.Open(db, store.Options{ReadOnly: true, Timeout: 300 * time.Millisecond})
	if err != nil {
		return nil, historyErr(db, err)
	}
	defer st.Close()
	runs, err := st.Runs()
	if err != nil {
		return nil, err
	}
	return idsOfRuns(runs), nil
}

// idsOfRuns are the ids of runs, in their order.
func idsOfRuns(runs []gahpo.Run) []string {
	ids := make([]string, len(runs))
	for i, r := range runs {
		ids[i] = r.ID
	}
	return ids
}

// listOrNone lists ids, the last 10 of many.
func listOrNone(ids []string) string {
	switch {
	case len(ids) == 0:
		return "none"
	case len(ids) > 10:
		return fmt.Sprintf("%d, the latest %s", len(ids), strings.Join(ids[len(ids)-10:], ", "))
	}
	return strings.Join(ids, ", ")
}
