package deploy_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// The compose tests run the image built by build-image.sh under this tag.
const testImage = "gahpo:test"

// search is the regression search every compose test runs: small, and long
// enough (a few tens of seconds on 3 workers) to be interrupted. Four
// generations ended in 10-20 s on a loaded 2-core machine, before the
// faults could be injected; six did too, at a load of ~6 (a search and a
// CI run beside the tests: the docker commands that find the moment to
// strike slow down more than the run): ten.
const (
	population  = 8
	generations = 10
)

var (
	buildOnce sync.Once
	buildErr  error
)

// dockerOrSkip skips the test when Docker or compose is missing, or in
// -short mode, and builds the image once.
func dockerOrSkip(t *testing.T) []string {
	t.Helper()
	if testing.Short() {
		t.Skip("Docker tests take minutes; skipped with -short")
	}
	if os.Getenv("GAHPO_DOCKER_TESTS") == "" {
		t.Skip("the Docker tests take about 10 minutes: set GAHPO_DOCKER_TESTS=1 to run them (.ci/run does)")
	}
	if _, err := exec.LookPath("docker"); err != nil {
		t.Skip("no docker command: the image and compose tests need Docker Engine")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "docker", "info", "--format", "{{.ServerVersion}}").CombinedOutput(); err != nil {
		t.Skipf("the Docker daemon does not answer (%v: %s): the image and compose tests need it", err, bytes.TrimSpace(out))
	}
	compose := []string{"docker", "compose"}
	if exec.Command("docker", "compose", "version").Run() != nil {
		if _, err := exec.LookPath("docker-compose"); err != nil {
			t.Skip("neither 'docker compose' nor docker-compose is installed")
		}
		compose = []string{"docker-compose"}
	}
	buildOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
		defer cancel()
		out, err := exec.CommandContext(ctx, "./build-image.sh", testImage).CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("build-image.sh: %w\n%s", err, out)
			return
		}
		out, err = exec.CommandContext(ctx, "./compose-secrets.sh").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("compose-secrets.sh: %w\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return compose
}

// project is one compose project (its own containers, network and volumes).
type project struct {
	t        *testing.T
	compose  []string
	name     string
	files    []string
	env      []string
	profiles []string
}

func newProject(t *testing.T, compose []string, coordinatorArgs []string, extraEnv ...string) *project {
	t.Helper()
	name := fmt.Sprintf("gahpotest%d", time.Now().UnixNano()%1e9)
	override := filepath.Join(t.TempDir(), "override.yaml")
	args, _ := json.Marshal(append([]string{"coordinator", "--db=/data/history/gahpo.db", "--problem=regression",
		fmt.Sprintf("--population=%d", population), fmt.Sprintf("--generations=%d", generations),
		"--seed=5", "--final-epochs=0", "--ack-wait=5s", "--no-progress"}, coordinatorArgs...))
	if err := os.WriteFile(override, []byte("services:\n  coordinator:\n    command: "+string(args)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p := &project{t: t, compose: compose, name: name, files: []string{"compose.yaml", override},
		env: append([]string{"GAHPO_IMAGE=" + testImage}, extraEnv...)}
	t.Cleanup(func() {
		if t.Failed() {
			out, _ := p.run(2*time.Minute, "logs", "--no-color", "--tail=40")
			t.Logf("logs of %s:\n%s", name, out)
		}
		_, _ = p.run(3*time.Minute, "down", "-v", "-t", "2", "--remove-orphans")
	})
	return p
}

// run runs a compose command of the project.
func (p *project) run(timeout time.Duration, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	full := append([]string{}, p.compose[1:]...)
	full = append(full, "-p", p.name)
	for _, f := range p.files {
		full = append(full, "-f", f)
	}
	for _, pr := range p.profiles {
		full = append(full, "--profile", pr)
	}
	cmd := exec.CommandContext(ctx, p.compose[0], append(full, args...)...)
	cmd.Env = append(os.Environ(), p.env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

func (p *project) must(timeout time.Duration, args ...string) string {
	p.t.Helper()
	out, err := p.run(timeout, args...)
	if err != nil {
		p.t.Fatalf("compose %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// container is the id of a service's n-th container (1-based).
func (p *project) container(service string, n int) string {
	p.t.Helper()
	ids := strings.Fields(p.must(time.Minute, "ps", "-q", service))
	slices.Sort(ids)
	if len(ids) < n {
		p.t.Fatalf("service %s has %d containers, want %d", service, len(ids), n)
	}
	return ids[n-1]
}

func docker(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "docker", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("docker %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// state is a container's status and exit code ("running 0", "exited 0").
func state(t *testing.T, id string) string {
	return docker(t, "inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", id)
}

// waitLog waits until the service's logs contain s.
func (p *project) waitLog(service, s string, d time.Duration) {
	p.t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if out, _ := p.run(time.Minute, "logs", "--no-color", service); strings.Contains(out, s) {
			return
		}
		time.Sleep(time.Second)
	}
	p.t.Fatalf("%s never logged %q", service, s)
}

// waitDone waits for the coordinator to exit 0, at most d.
func (p *project) waitDone(d time.Duration) {
	p.t.Helper()
	id := p.container("coordinator", 1)
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		switch st := state(p.t, id); st {
		case "exited 0":
			return
		case "running 0", "restarting 0", "created 0":
		default:
			if !strings.HasPrefix(st, "restarting") && !strings.HasPrefix(st, "running") {
				p.t.Fatalf("coordinator: %s", st)
			}
		}
		time.Sleep(time.Second)
	}
	p.t.Fatalf("the run did not finish within %v", d)
}

// genome is a record of the history as `gahpo query generation --json`
// prints it.
type genome struct {
	ID       int                `json:"id"`
	Status   string             `json:"status"`
	Fitness  json.RawMessage    `json:"fitness"`
	Params   map[string]float64 `json:"params"`
	Attempts int                `json:"attempts"`
}

// history reads every generation of the finished run from the history
// volume with the binary's own offline query.
func (p *project) history() map[int]genome {
	p.t.Helper()
	all := map[int]genome{}
	for g := range generations {
		out := p.must(2*time.Minute, "run", "--rm", "-T", "-e", "GAHPO_NATS=", "coordinator",
			"query", "generation", fmt.Sprint(g+1), "--json", "--db", "/data/history/gahpo.db")
		var gs []genome
		if err := json.Unmarshal([]byte(jsonPart(out)), &gs); err != nil {
			p.t.Fatalf("generation %d: %v\n%s", g, err, out)
		}
		if len(gs) != population {
			p.t.Errorf("generation %d has %d genomes, want %d", g, len(gs), population)
		}
		for _, r := range gs {
			if _, dup := all[r.ID]; dup {
				p.t.Errorf("genome %d recorded twice", r.ID)
			}
			// failed: the genome's own failure (a diverged training),
			// the same in every run of the seed.
			if r.Status != "done" && r.Status != "duplicate" && r.Status != "failed" {
				p.t.Errorf("genome %d: status %q, want a final one", r.ID, r.Status)
			}
			all[r.ID] = r
		}
	}
	return all
}

// jsonPart drops the lines compose prints before the command's output.
func jsonPart(out string) string {
	if i := strings.Index(out, "["); i >= 0 {
		return out[i:]
	}
	return out
}

// sameHistory compares a history with the uninterrupted run's.
func sameHistory(t *testing.T, got, want map[int]genome) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%d genomes, want %d", len(got), len(want))
	}
	for id, w := range want {
		g, ok := got[id]
		switch {
		case !ok:
			t.Errorf("genome %d missing", id)
		case string(g.Fitness) != string(w.Fitness) || fmt.Sprint(g.Params) != fmt.Sprint(w.Params) || g.Status != w.Status:
			t.Errorf("genome %d = %s %v %s, uninterrupted %s %v %s", id, g.Status, g.Params, g.Fitness, w.Status, w.Params, w.Fitness)
		}
	}
}

var (
	baselineOnce sync.Once
	baseline     map[int]genome
)

// uninterrupted is the history of the search run without faults.
func uninterrupted(t *testing.T, compose []string) map[int]genome {
	baselineOnce.Do(func() {
		p := newProject(t, compose, nil)
		p.must(5*time.Minute, "up", "-d", "--scale", "worker=3")
		p.waitDone(5 * time.Minute)
		baseline = p.history()
	})
	if baseline == nil {
		t.Fatal("the uninterrupted run failed")
	}
	return baseline
}

// TestComposeSearch runs a regression search on the compose file (NATS, a
// coordinator, 3 workers) and reads the history with `gahpo query`.
func TestComposeSearch(t *testing.T) {
	compose := dockerOrSkip(t)
	begin := time.Now()
	h := uninterrupted(t, compose)
	if len(h) != population*generations {
		t.Errorf("%d genomes, want %d", len(h), population*generations)
	}
	t.Logf("search on compose: %d genomes in %v (image built before)", len(h), time.Since(begin).Round(time.Second))
}

// TestComposeFaults interrupts runs in four ways; each run completes with
// every genome recorded once and the same history as the uninterrupted run.
func TestComposeFaults(t *testing.T) {
	compose := dockerOrSkip(t)
	want := uninterrupted(t, compose)
	for _, tc := range []struct {
		name  string
		fault func(t *testing.T, p *project)
	}{
		{"kill a worker", func(t *testing.T, p *project) {
			docker(t, "kill", p.container("worker", 1))
		}},
		{"cut a worker's network", func(t *testing.T, p *project) {
			w := p.container("worker", 2)
			net := p.name + "_gahpo"
			docker(t, "network", "disconnect", net, w)
			time.Sleep(8 * time.Second) // longer than the 5 s lease
			docker(t, "network", "connect", net, w)
		}},
		{"restart NATS", func(t *testing.T, p *project) {
			docker(t, "restart", "-t", "0", p.container("nats", 1))
		}},
		{"kill the coordinator", func(t *testing.T, p *project) {
			c := p.container("coordinator", 1)
			docker(t, "kill", c)
			time.Sleep(2 * time.Second)
			docker(t, "start", c) // what its supervisor (restart policy, systemd, Kubernetes) does
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel() // four projects at once: each run only gets longer
			begin := time.Now()
			p := newProject(t, compose, nil)
			p.must(5*time.Minute, "up", "-d", "--scale", "worker=3")
			p.waitLog("coordinator", "run started", 3*time.Minute)
			time.Sleep(3 * time.Second)
			if st := state(t, p.container("coordinator", 1)); st != "running 0" {
				t.Fatalf("the run ended before the fault (%s): make the search longer", st)
			}
			tc.fault(t, p)
			p.waitDone(5 * time.Minute)
			sameHistory(t, p.history(), want)
			t.Logf("%s: run completed in %v", tc.name, time.Since(begin).Round(time.Second))
		})
	}
}

// TestComposeClusterLosesLeader runs the search on the 3-server profile with
// streams of 3 replicas and kills (SIGKILL) the server leading the task
// stream mid-run: the run completes with nothing lost.
func TestComposeClusterLosesLeader(t *testing.T) {
	compose := dockerOrSkip(t)
	want := uninterrupted(t, compose)
	var clusterEnv []string
	for k, v := range envFile(t, "cluster.env") {
		clusterEnv = append(clusterEnv, k+"="+v)
	}
	p := newProject(t, compose, []string{"--replicas=3"}, clusterEnv...)
	p.profiles = []string{"cluster"}
	begin := time.Now()
	// One worker until the fault, so that finding the leader (the
	// cluster's monitoring, slow on a loaded machine) never outlasts the
	// search; then three, started alone (--no-deps: the killed server
	// stays dead).
	p.must(5*time.Minute, "up", "-d", "--scale", "worker=1")
	// The profile runs exactly the three servers of the cluster.
	services := strings.Fields(docker(t, "ps", "-a", "--filter", "label=com.docker.compose.project="+p.name, "--format", `{{.Label "com.docker.compose.service"}}`))
	if servers := slices.DeleteFunc(services, func(s string) bool { return !strings.HasPrefix(s, "nats") }); len(servers) != 3 {
		t.Fatalf("the cluster profile runs the NATS servers %v, want 3", servers)
	}
	p.waitLog("coordinator", "run started", 3*time.Minute)
	leader := streamLeader(t, p, "GAHPO_TASKS")
	if st := state(t, p.container("coordinator", 1)); st != "running 0" {
		t.Fatalf("the run ended before the fault (%s)", st)
	}
	docker(t, "kill", "-s", "KILL", p.container(leader, 1))
	t.Logf("killed %s, the leader of GAHPO_TASKS", leader)
	p.must(5*time.Minute, "up", "-d", "--no-deps", "--scale", "worker=3", "worker")
	p.waitDone(5 * time.Minute)
	sameHistory(t, p.history(), want)
	t.Logf("cluster run completed in %v", time.Since(begin).Round(time.Second))

	// A server on the network without the routes' password (its own
	// routes on loopback need none) is refused by the cluster.
	rogue := p.name + "-rogue"
	t.Cleanup(func() { _ = exec.Command("docker", "rm", "-f", rogue).Run() })
	docker(t, "run", "-d", "--name", rogue, "--network", p.name+"_gahpo", testImage, "nats", "-v", "--listen", "127.0.0.1:4222",
		"--store", "/data/js", "--cluster", "127.0.0.1:6222", "--server-name", "rogue", "--routes", "nats://nats:6222,nats://nats-2:6222,nats://nats-3:6222")
	deadline := time.Now().Add(time.Minute)
	for {
		logs := docker(t, "logs", rogue)
		if strings.Contains(logs, "Authorization Violation") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the server without the routes' password was not refused:\n%s", logs)
		}
		time.Sleep(time.Second)
	}
}

// streamLeader asks a cluster member, as the coordinator user, which
// server leads a stream; the server names are the compose service names.
// (The monitoring port stays inside the containers.)
func streamLeader(t *testing.T, p *project, stream string) string {
	t.Helper()
	ip := docker(t, "inspect", "-f", "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}", p.container("nats", 1))
	pw, err := os.ReadFile("secrets/coordinator.password")
	if err != nil {
		t.Fatal(err)
	}
	nc, err := nats.Connect("nats://"+ip+":4222", nats.UserInfo("coordinator", strings.TrimSpace(string(pw))),
		nats.CustomInboxPrefix("_INBOX_coordinator"), nats.Timeout(5*time.Second))
	if err != nil {
		t.Fatalf("connect to nats (%s): %v", ip, err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		s, err := js.Stream(ctx, stream)
		if err == nil && s.CachedInfo().Cluster != nil && s.CachedInfo().Cluster.Leader != "" {
			cancel()
			return s.CachedInfo().Cluster.Leader
		}
		cancel()
		time.Sleep(time.Second)
	}
	t.Fatalf("no leader of %s found through nats (%s)", stream, ip)
	return ""
}
