// Command gahpo searches training hyperparameters with a genetic algorithm
// spread over a NATS cluster.
//
// Usage:
//
//	gahpo run [flags]                  all in one process: NATS, coordinator, workers
//	gahpo nats --listen HOST:PORT --store DIR
//	gahpo coordinator --nats URL --db FILE [search flags]
//	gahpo worker --nats URL [--concurrency N]
//	gahpo query best --per-generation [--json] (--db FILE | --nats URL)
//	gahpo query generation N | genome ID | final | runs
//	gahpo status --nats URL
//	gahpo report (--db FILE | --nats URL) (--out DIR | --serve ADDR)
//	gahpo export (--db FILE | --nats URL) --format csv|jsonl
//	gahpo purge --nats URL --run ID [--db FILE] [--force]
//
// Run `gahpo help COMMAND` for the flags of a command.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	trainers "github.com/gahpo/gahpo/models/command"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "0.1.0-dev"

func main() {
	trainers.Guard() // in a copy of this binary that guards a training command, runs it and never returns
	ctx, stopped := stopSignals()
	stderr := &hangupSafe{w: os.Stderr, hup: stopped.hup}
	m := &Main{Stdout: printable{&hangupSafe{w: os.Stdout, hup: stopped.hup}}, Stderr: stderr} // what a training printed reaches the views
	err := m.Run(ctx, os.Args[1:])
	switch {
	case err == nil:
	case errors.Is(err, errUsage):
		os.Exit(2)
	case errors.As(err, new(finishedError)):
		fmt.Fprintln(stderr, errorLine(err))
	case errors.As(err, new(runFailedError)):
		fmt.Fprintln(stderr, errorLine(err))
		os.Exit(exitRunFailed)
	case errors.Is(err, flag.ErrHelp): // -h or --help: asked for, not an error
		os.Exit(0)
	case errors.Is(err, context.Canceled):
		// Which signal stopped it: the exit status says, as a shell
		// reports a process killed by it.
		switch stopped.signal() {
		case syscall.SIGTERM:
			fmt.Fprintln(stderr, "gahpo: terminated")
			os.Exit(143) // 128 + SIGTERM
		case syscall.SIGHUP:
			fmt.Fprintln(stderr, "gahpo: hung up")
			os.Exit(129) // 128 + SIGHUP
		default:
			fmt.Fprintln(stderr, "gahpo: interrupted")
			os.Exit(130) // 128 + SIGINT
		}
	default:
		fmt.Fprintln(stderr, errorLine(err))
		os.Exit(1)
	}
}

// errorLine is the line an error ends the command with: "gahpo: " and the
// error, once (the root package's errors start with it already).
func errorLine(err error) string {
	if msg := err.Error(); strings.HasPrefix(msg, "gahpo: ") {
		return msg
	}
	return "gahpo: " + err.Error()
}

// errUsage is returned when gahpo is run without a command.
var errUsage = errors.New("no command given")

// Main is the program, testable without a process.
type Main struct {
	Stdout, Stderr io.Writer
}

type command struct {
	name, summary string
	run           func(m *Main, ctx context.Context, args []string) error
}

func (m *Main) commands() []command {
	return []command{
		{"run", "run a whole search on this machine (embedded NATS, coordinator, workers)", (*Main).runRun},
		{"nats", "run a NATS server with JetStream for the cluster", (*Main).runNATS},
		{"coordinator", "breed, publish, collect and store a search on a NATS cluster", (*Main).runCoordinator},
		{"worker", "train genomes for the coordinators of a NATS cluster", (*Main).runWorker},
		{"query", "query the history: best, generation, genome, final, runs", (*Main).runQuery},
		{"purge", "remove a finished or abandoned run's tasks, results, checkpoints and weights from NATS", (*Main).runPurge},
		{"status", "show the progress of a running coordinator", (*Main).runStatus},
		{"report", "draw a run's figures and summary page, or serve them as a live dashboard", (*Main).runReport},
		{"export", "print one row per genome as CSV or JSON lines", (*Main).runExport},
		{"version", "print the version", func(m *Main, _ context.Context, _ []string) error {
			fmt.Fprintln(m.Stdout, "gahpo", version)
			return nil
		}},
	}
}

// Run runs the command line args (without the program name).
func (m *Main) Run(ctx context.Context, args []string) error {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		if len(args) > 1 && args[1] != "help" && args[1] != "-h" && args[1] != "--help" {
			return m.Run(ctx, []string{args[1], "-h"})
		}
		m.usage() // also for help help, -h -h: no command's flags to give
		if len(args) == 0 {
			return errUsage
		}
		return nil
	}
	for _, c := range m.commands() {
		if c.name == args[0] {
			return c.run(m, ctx, args[1:])
		}
	}
	m.usage()
	return fmt.Errorf("unknown command %q", args[0])
}

func (m *Main) usage() {
	fmt.Fprintln(m.Stderr, "gahpo: distributed genetic-algorithm hyperparameter search\n\nUsage: gahpo COMMAND [flags]\n\nCommands:")
	for _, c := range m.commands() {
		fmt.Fprintf(m.Stderr, "  %-12s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(m.Stderr, "\nRun 'gahpo COMMAND -h' for its flags.")
}

// logger builds the structured logger of a command.
func (m *Main) logger(level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("bad --log-level %q: %w", level, err)
	}
	return slog.New(slog.NewTextHandler(m.Stderr, &slog.HandlerOptions{Level: l})), nil
}

// secretFlags take a secret on the command line, where every user of the
// machine can read it (ps, /proc): kept for the scripts that use them, each
// warns and names the file or variable to use instead.
var secretFlags = map[string]string{
	"nats-token":    "GAHPO_NATS_TOKEN_FILE or --nats-token-file",
	"nats-password": "GAHPO_NATS_PASSWORD_FILE or --nats-password-file",
	"token":         "GAHPO_NATS_TOKEN_FILE or --token-file",
	"password":      "GAHPO_NATS_PASSWORD_FILE or --password-file",
}

// warnSecretArgs warns of every secret given as a flag on the command line
// (not from its environment variable, the flag's default).
func warnSecretArgs(fs *flag.FlagSet) {
	fs.Visit(func(f *flag.Flag) {
		if instead, ok := secretFlags[f.Name]; ok {
			fmt.Fprintf(fs.Output(), "gahpo: warning: --%s puts a secret where every user of this machine can read it (ps); use %s\n", f.Name, instead)
		}
	})
}

// cmdName is the subcommand whose flags fs holds ("query" of "gahpo
// query"), as its errors begin.
func cmdName(fs *flag.FlagSet) string { return strings.TrimPrefix(fs.Name(), "gahpo ") }

// checkSecretPairs refuses a secret given both as a value and as a file
// (--nats-token and --nats-token-file, gahpo nats's --token and
// --token-file, and the passwords'): either would silently replace the
// other, whichever came last.
func checkSecretPairs(fs *flag.FlagSet) error {
	names := make([]string, 0, len(secretFlags))
	for name := range secretFlags {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if flagSet(fs, name) && flagSet(fs, name+"-file") {
			cmd := cmdName(fs)
			return fmt.Errorf("%s: --%s and --%s-file both give the %s: give one, the file (every user of the machine can read the arguments)",
				cmd, name, name, strings.TrimPrefix(name, "nats-"))
		}
	}
	return nil
}

// checkSecretApart refuses a secret flag given an empty value and followed
// by an argument (--nats-token= s3cret): that argument is most likely the
// secret, which the error of a stray argument would print; this error does
// not.
func checkSecretApart(fs *flag.FlagSet, args []string) error {
	for i := 1; i < len(args); i++ {
		name, ok := strings.CutSuffix(strings.TrimLeft(args[i-1], "-"), "=")
		if _, secret := secretFlags[name]; !ok || !secret || !strings.HasPrefix(args[i-1], "-") || strings.HasPrefix(args[i], "-") || fs.Lookup(name) == nil {
			continue
		}
		cmd := cmdName(fs)
		return fmt.Errorf("%s: %s gives the %s an empty value, and the argument after it (not shown: it may be the secret) is not its value; "+
			"write %sVALUE without a space, or better give it in a file: %s", cmd, args[i-1], strings.TrimPrefix(name, "nats-"), args[i-1], secretFlags[name])
	}
	return nil
}

// unsetDefault drops flag's "(default -1)" from the usage a writer is
// given: -1 is how an int flag says "not given" (the preset's value, say),
// which its help says in words.
type unsetDefault struct{ w io.Writer }

func (u unsetDefault) Write(b []byte) (int, error) {
	if _, err := io.WriteString(u.w, strings.ReplaceAll(string(b), " (default -1)", "")); err != nil {
		return 0, err
	}
	return len(b), nil
}

// parse parses flags that may come before, between or after positional
// arguments, and returns the positional ones.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	if _, ok := fs.Output().(unsetDefault); !ok {
		fs.SetOutput(unsetDefault{fs.Output()})
	}
	if err := checkSecretApart(fs, args); err != nil {
		return nil, err
	}
	var pos []string
	all := args
	for {
		if err := parseQuiet(fs, args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			warnSecretArgs(fs)
			if err := checkSecretPairs(fs); err != nil {
				return nil, err
			}
			if err := checkTLSPair(fs); err != nil {
				return nil, err
			}
			if err := checkDB(fs, all, pos); err != nil {
				return nil, err
			}
			return pos, checkLimits(fs)
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// checkDB refuses an empty --db (--db= or --db ""), which would otherwise
// be reported as a file named "" that cannot be opened; args are the
// command's, pos its positional arguments (--db= FILE says how to write
// it, as strayArg does).
func checkDB(fs *flag.FlagSet, args, pos []string) error {
	f := fs.Lookup("db")
	if f == nil || f.Value.String() != "" {
		return nil
	}
	cmd := cmdName(fs)
	for _, p := range pos {
		if prev, ok := emptyFlagBefore(args, p); ok && strings.TrimLeft(prev, "-") == "db=" {
			return strayArg(cmd, args, p)
		}
	}
	return fmt.Errorf("%s: --db is empty: give the history file's path (by default %s)", cmd, f.DefValue)
}

// parseQuiet is fs.Parse, except that a bad flag is an error returned to
// be printed once, with where the flags are listed, instead of the flag
// package's message and whole usage before it; -h prints the usage.
func parseQuiet(fs *flag.FlagSet, args []string) error {
	out, usage := fs.Output(), fs.Usage
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	err := fs.Parse(args)
	fs.SetOutput(out)
	fs.Usage = usage
	switch {
	case errors.Is(err, flag.ErrHelp):
		if usage == nil {
			fmt.Fprintf(out, "Usage of %s:\n", fs.Name())
			fs.PrintDefaults()
		} else {
			usage()
		}
		return err
	case err != nil:
		cmd := cmdName(fs)
		return fmt.Errorf("%s: %w (gahpo help %s lists its flags)", cmd, err, cmd)
	}
	return nil
}

// checkTLSPair refuses a certificate without its key, or a key without its
// certificate (gahpo nats's, a client's for mutual TLS), before anything
// tries to load "" as a file.
func checkTLSPair(fs *flag.FlagSet) error {
	cert, key := fs.Lookup("tls-cert"), fs.Lookup("tls-key")
	if cert == nil || key == nil {
		return nil
	}
	cmd := cmdName(fs)
	switch c, k := cert.Value.String(), key.Value.String(); {
	case c != "" && k == "":
		return fmt.Errorf("%s: --tls-cert %s needs --tls-key, the certificate's private key", cmd, c)
	case c == "" && k != "":
		return fmt.Errorf("%s: --tls-key %s needs --tls-cert, the certificate of that key", cmd, k)
	}
	return nil
}

// setUsage makes the help of fs's command (-h) start with head, its
// usage line and what it does, before its flags.
func setUsage(fs *flag.FlagSet, w io.Writer, head string) {
	fs.Usage = func() {
		fmt.Fprintln(w, head+"\n\nFlags:")
		fs.PrintDefaults()
	}
}

// parseNone parses the flags of a command that takes no positional
// argument, and refuses a stray one (which parse would otherwise leave for
// the command to drop).
func parseNone(fs *flag.FlagSet, args []string) error {
	pos, err := parse(fs, args)
	if err != nil || len(pos) == 0 {
		return err
	}
	return strayArg(cmdName(fs), args, pos[0])
}

// strayArg is the error of a command given a positional argument it does
// not take; when the argument follows an --flag= with an empty value, it
// says how to give the flag that value.
func strayArg(cmd string, args []string, stray string) error {
	if prev, ok := emptyFlagBefore(args, stray); ok {
		return fmt.Errorf("%s: unexpected argument %q: %s gives its flag an empty value; to give it this one, write %s%s (no space after '=')",
			cmd, stray, prev, prev, stray)
	}
	return fmt.Errorf("%s: unexpected argument %q (it takes flags only; see gahpo help %s)", cmd, stray, cmd)
}

// emptyFlagBefore returns the --flag= with an empty value that stray
// follows in args, if it does.
func emptyFlagBefore(args []string, stray string) (string, bool) {
	for i := 1; i < len(args); i++ {
		prev := args[i-1]
		if args[i] == stray && strings.HasPrefix(prev, "-") && strings.HasSuffix(prev, "=") && strings.Count(prev, "=") == 1 {
			return prev, true
		}
	}
	return "", false
}
