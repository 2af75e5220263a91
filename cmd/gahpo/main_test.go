package main_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	root "github.com/gahpo/gahpo"
	"github.com/gahpo/gahpo/internal/natsleak"
	"github.com/gahpo/gahpo/internal/testnats"
	"github.com/gahpo/gahpo/store"
	"go.uber.org/goleak"
)

var binary string

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		// Every test of the binary skips in -short mode: do not build it.
		os.Exit(noLeaks(m.Run()))
	}
	dir, err := os.MkdirTemp("", "gahpo-e2e")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "gahpo")
	build := exec.Command("go", "build", "-o", binary, ".")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build gahpo:", err)
		os.Exit(1)
	}
	code := noLeaks(m.Run())
	os.RemoveAll(dir)
	os.Exit(code)
}

// noLeaks fails tests that passed when a goroutine outlives them: the
// commands run in-process here start coordinators, workers, servers and
// dashboards, and each must end with its command (but for nats.go's own
// goroutines, see natsleak).
func noLeaks(code int) int {
	if code != 0 {
		return code
	}
	if err := goleak.Find(natsleak.Options()...); err != nil {
		fmt.Fprintln(os.Stderr, "goleak:", err)
		return 1
	}
	return 0
}

// command is the gahpo binary with args, run inside network namespace ns
// when ns is not empty (see netns_linux_test.go).
func command(ctx context.Context, ns string, args ...string) *exec.Cmd {
	if ns == "" {
		return exec.CommandContext(ctx, binary, args...)
	}
	return exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", ns, binary}, args...)...)
}

// gahpo runs the binary to its end (at most 3 minutes).
func gahpo(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	return gahpoIn(t, "", args...)
}

// gahpoIn is gahpo inside network namespace ns.
func gahpoIn(t *testing.T, ns string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := command(ctx, ns, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	return out.String(), errb.String(), err
}

type bestEntry struct {
	Generation int                `json:"generation"`
	GenomeID   int                `json:"genome_id"`
	Fitness    json.RawMessage    `json:"fitness"`
	Params     map[string]float64 `json:"params"`
}

func TestRunRegressionThenQuery(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the gahpo binary through a whole search: -short")
	}
	db := filepath.Join(t.TempDir(), "h.db")
	out, errOut, err := gahpo(t, "run", "--problem", "regression", "--db", db, "--population", "8", "--generations", "3", "--workers", "2", "--seed", "5")
	if err != nil {
		t.Fatalf("gahpo run: %v\n%s\n%s", err, out, errOut)
	}
	if !strings.Contains(out, "best genome per generation") || !strings.Contains(out, "final training of genome") {
		t.Errorf("summary lacks the best genomes or the final training:\n%s", out)
	}
	out, errOut, err = gahpo(t, "query", "best", "--per-generation", "--json", "--db", db)
	if err != nil {
		t.Fatalf("query: %v\n%s", err, errOut)
	}
	var best []bestEntry
	if err := json.Unmarshal([]byte(out), &best); err != nil {
		t.Fatalf("query best --json is not a JSON array: %v\n%s", err, out)
	}
	if len(best) != 3 {
		t.Fatalf("%d generations in best, want 3", len(best))
	}
	for i, b := range best {
		if b.Generation != i+1 || b.GenomeID < 1 || len(b.Fitness) == 0 { // generations count from 1
			t.Errorf("entry %d = %+v", i, b)
		}
		for _, p := range []string{"lr", "batch_size", "epochs"} {
			if _, ok := b.Params[p]; !ok {
				t.Errorf("entry %d lacks param %s: %v", i, p, b.Params)
			}
		}
	}
	for _, q := range [][]string{{"runs"}, {"final"}, {"generation", "1"}, {"genome", fmt.Sprint(best[2].GenomeID)}} {
		out, errOut, err := gahpo(t, append(append([]string{"query"}, q...), "--db", db)...)
		if err != nil || out == "" {
			t.Errorf("query %v: %v\n%s", q, err, errOut)
		}
	}
	if _, errOut, err := gahpo(t, "query", "generation", "99", "--db", db); err == nil || !strings.Contains(errOut, "not found") {
		t.Errorf("query of a missing generation: err %v, stderr %q", err, errOut)
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// start runs a gahpo process in the background, killed when the test ends.
func start(t *testing.T, log string, args ...string) *exec.Cmd {
	t.Helper()
	return startIn(t, "", log, args...)
}

// startIn is start inside network namespace ns (ip netns exec replaces
// itself with the command, so killing it kills gahpo).
func startIn(t *testing.T, ns, log string, args ...string) *exec.Cmd {
	t.Helper()
	f, err := os.Create(log)
	if err != nil {
		t.Fatal(err)
	}
	cmd := command(context.Background(), ns, args...)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		f.Close()
	})
	return cmd
}

// TestClusterOfProcesses runs NATS, workers and a coordinator as separate
// processes, kills the coordinator with SIGKILL mid-run, restarts it, and
// checks that the offline query is refused while it runs and that the run
// completes.
func TestClusterOfProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("a multi-minute cluster of gahpo processes: -short")
	}
	dir := t.TempDir()
	url := fmt.Sprintf("nats://127.0.0.1:%d", freePort(t))
	start(t, filepath.Join(dir, "nats.log"), "nats", "--listen", strings.TrimPrefix(url, "nats://"), "--store", filepath.Join(dir, "nats"))
	time.Sleep(500 * time.Millisecond)
	for i := range 2 {
		start(t, filepath.Join(dir, fmt.Sprintf("w%d.log", i)), "worker", "--nats", url, "--name", fmt.Sprintf("w%d", i))
	}
	db := filepath.Join(dir, "h.db")
	args := []string{"coordinator", "--nats", url, "--db", db, "--problem", "regression", "--population", "10", "--generations", "10", "--final-epochs", "0", "--ack-wait", "2s"}
	coord := start(t, filepath.Join(dir, "coord1.log"), args...)

	// While it runs: the offline query fails fast and points to --nats;
	// the live query and status answer.
	var live []bestEntry
	deadline := time.Now().Add(time.Minute)
	for {
		out, _, err := gahpo(t, "query", "best", "--json", "--nats", url)
		if err == nil && json.Unmarshal([]byte(out), &live) == nil && len(live) >= 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("live query never answered: %v %s", err, out)
		}
		time.Sleep(100 * time.Millisecond)
	}
	begin := time.Now()
	_, errOut, err := gahpo(t, "query", "best", "--db", db)
	if err == nil || !strings.Contains(errOut, "--nats") {
		t.Errorf("offline query during the run: err %v, stderr %q; want a refusal naming --nats", err, errOut)
	}
	if d := time.Since(begin); d > 10*time.Second {
		t.Errorf("offline query took %v to fail", d)
	}
	if out, errOut, err := gahpo(t, "status", "--nats", url); err != nil || !strings.Contains(out, "generation") {
		t.Errorf("status: %v\n%s%s", err, out, errOut)
	}
	// A second coordinator on the same file fails fast.
	begin = time.Now()
	if _, errOut, err := gahpo(t, args...); err == nil || !strings.Contains(errOut, "give this search another --db") {
		t.Errorf("second coordinator: err %v, stderr %q; want a refusal", err, errOut)
	}
	if d := time.Since(begin); d > 10*time.Second {
		t.Errorf("second coordinator took %v to fail", d)
	}

	// kill -9 mid-run, then restart on the same file.
	if err := coord.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = coord.Wait()
	out, errOut, err := gahpo(t, args...)
	if err != nil {
		t.Fatalf("restarted coordinator: %v\n%s\n%s", err, out, errOut)
	}
	if !strings.Contains(errOut, "resum") && !strings.Contains(out, "resum") {
		t.Logf("restart output does not mention resuming:\n%s", errOut)
	}
	checkDoneRestartedOnce(t, db)
	out, _, err = gahpo(t, "query", "best", "--json", "--db", db)
	if err != nil || json.Unmarshal([]byte(out), &live) != nil || len(live) != 10 {
		t.Errorf("best after the run: %v, %d generations", err, len(live))
	}
}

// waitFor polls cond every 200 ms until it holds, failing the test after d
// with the logs in dir.
func waitFor(t *testing.T, d time.Duration, cond func() bool, dir string) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met after %v\n%s", d, logs(dir))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// logs returns the tail of every log file in dir.
func logs(dir string) string {
	var b strings.Builder
	files, _ := filepath.Glob(filepath.Join(dir, "*.log"))
	for _, f := range files {
		data, _ := os.ReadFile(f)
		if len(data) > 3000 {
			data = data[len(data)-3000:]
		}
		fmt.Fprintf(&b, "--- %s\n%s\n", filepath.Base(f), data)
	}
	return b.String()
}

// TestStopExitStatus: a run stopped by SIGINT exits 130, by SIGTERM
// (systemd's stop, a scale down) 143 and by SIGHUP (its terminal closed)
// 129, as a shell reports a process killed by each, after it has stopped
// in order (the systemd units count 143 a success) and said how to resume
// the run.
func TestStopExitStatus(t *testing.T) {
	if testing.Short() {
		t.Skip("the binary, stopped by signals: -short")
	}
	for _, tc := range []struct {
		sig  syscall.Signal
		code int
		says string
	}{{syscall.SIGINT, 130, "gahpo: interrupted"}, {syscall.SIGTERM, 143, "gahpo: terminated"}, {syscall.SIGHUP, 129, "gahpo: hung up"}} {
		t.Run(tc.sig.String(), func(t *testing.T) {
			if tc.sig == syscall.SIGHUP {
				skipIfHangupIgnored(t)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			db := filepath.Join(t.TempDir(), "h.db")
			cmd := command(ctx, "", "run", "--problem", "regression", "--population", "50", "--generations", "40", "--db", db, "--no-progress", "--log-level", "info")
			var stderr testnats.LogBuffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			for !strings.Contains(stderr.String(), "run started") {
				if ctx.Err() != nil {
					t.Fatalf("the run did not start:\n%s", stderr.String())
				}
				time.Sleep(50 * time.Millisecond)
			}
			if err := cmd.Process.Signal(tc.sig); err != nil {
				t.Fatal(err)
			}
			err := cmd.Wait()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != tc.code || !strings.Contains(stderr.String(), tc.says) {
				t.Errorf("after %v: %v; want exit status %d saying %q\n%s", tc.sig, err, tc.code, tc.says, stderr.String())
			}
			if !strings.Contains(stderr.String(), "; to resume it where it stopped: gahpo run ") {
				t.Errorf("after %v, the run does not say how to resume it:\n%s", tc.sig, stderr.String())
			}
		})
	}
}

// TestViewsShowControlCharactersInert: a genome's failure holds what its
// training command printed, escape sequences included; the binary's query
// genome shows them in caret notation, so they do not act on the terminal.
func TestViewsShowControlCharactersInert(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the gahpo binary: -short")
	}
	db := filepath.Join(t.TempDir(), "h.db")
	if out, errOut, err := gahpo(t, "run", "--problem", "regression", "--db", db, "--population", "4", "--generations", "1", "--final-epochs", "0", "--workers", "1"); err != nil {
		t.Fatalf("gahpo run: %v\n%s\n%s", err, out, errOut)
	}
	st, err := store.Open(db, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	run, err := st.Run("")
	if err != nil {
		t.Fatal(err)
	}
	gs, err := st.Genomes(run.ID, -1)
	if err != nil {
		t.Fatal(err)
	}
	g := gs[0]
	g.Failure = "command failed: \x1b]0;owned\x07\x1b[2Kstandard error ends"
	if err := st.Commit(run.ID, store.Change{Genomes: []root.GenomeRecord{g}}); err != nil {
		t.Fatal(err)
	}
	st.Close()
	out, errOut, err := gahpo(t, "query", "genome", fmt.Sprint(g.ID), "--db", db)
	if err != nil {
		t.Fatalf("query genome: %v\n%s", err, errOut)
	}
	if strings.ContainsRune(out, 0x1b) || !strings.Contains(out, "command failed: ^[]0;owned^G^[[2Kstandard error ends") {
		t.Errorf("query genome:\n%q\nwant the escapes in caret notation", out)
	}
}

// checkDoneRestartedOnce checks, with gahpo query runs, that the history db
// holds one run, done, resumed once.
func checkDoneRestartedOnce(t *testing.T, db string) {
	t.Helper()
	out, errOut, err := gahpo(t, "query", "runs", "--json", "--db", db)
	if err != nil {
		t.Fatalf("query runs: %v %s", err, errOut)
	}
	var runs []struct {
		Status   string `json:"status"`
		Restarts int    `json:"restarts"`
	}
	if err := json.Unmarshal([]byte(out), &runs); err != nil {
		t.Fatal(err)
	}
	if len(runs) != 1 || runs[0].Status != "done" || runs[0].Restarts != 1 {
		t.Errorf("runs = %+v; want one run, done, restarted once", runs)
	}
}
