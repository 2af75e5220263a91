package deploy_test

import (
	"bufio"
	"bytes"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	natsconf "github.com/nats-io/nats-server/v2/conf"
	"gopkg.in/yaml.v3"

	"github.com/gahpo/gahpo/bus"
)

// The built binary and what it knows: its commands with their flags, and
// its bytes (the environment variables it reads are string constants).
var (
	binOnce  sync.Once
	binErr   error
	binBytes []byte
	binFlags map[string]map[string]bool // command -> flag names
)

func binary(t *testing.T) {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "gahpo-manifests")
		if err != nil {
			binErr = err
			return
		}
		defer os.RemoveAll(dir)
		bin := filepath.Join(dir, "gahpo")
		if out, err := exec.Command("go", "build", "-o", bin, "../cmd/gahpo").CombinedOutput(); err != nil {
			binErr = fmt.Errorf("go build: %w\n%s", err, out)
			return
		}
		if binBytes, binErr = os.ReadFile(bin); binErr != nil {
			return
		}
		// `gahpo help` lists the commands; `gahpo CMD -h` their flags.
		out, _ := exec.Command(bin, "help").CombinedOutput()
		binFlags = map[string]map[string]bool{}
		cmdLine := regexp.MustCompile(`^  ([a-z]+) +\S`)
		flagLine := regexp.MustCompile(`^  -([a-z0-9-]+)`)
		sc := bufio.NewScanner(bytes.NewReader(out))
		for sc.Scan() {
			m := cmdLine.FindStringSubmatch(sc.Text())
			if m == nil {
				continue
			}
			flags := map[string]bool{}
			help, _ := exec.Command(bin, m[1], "-h").CombinedOutput()
			fs := bufio.NewScanner(bytes.NewReader(help))
			for fs.Scan() {
				if f := flagLine.FindStringSubmatch(fs.Text()); f != nil {
					flags[f[1]] = true
				}
			}
			binFlags[m[1]] = flags
		}
		if len(binFlags) < 5 || len(binFlags["worker"]) == 0 {
			binErr = fmt.Errorf("could not read the commands and flags from the help:\n%s", out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
}

// secretFlags put a secret in a process's arguments: no deployment file may
// use them.
var secretFlags = []string{"token", "password", "nats-token", "nats-password"}

// invocation is one use of the binary found in a deployment file.
type invocation struct {
	where string
	args  []string
	env   []string
	ports []int
}

// checkInvocation checks a command line against the binary: the command
// exists, each flag exists for it, no secret is on the command line, the
// environment variables are read by the binary (or by the users file), and
// the ports listened on are the ones declared.
func checkInvocation(t *testing.T, inv invocation, usersFile string) {
	t.Helper()
	if len(inv.args) == 0 {
		t.Errorf("%s: no command", inv.where)
		return
	}
	cmd := inv.args[0]
	flags, ok := binFlags[cmd]
	if !ok {
		t.Errorf("%s: gahpo has no command %q", inv.where, cmd)
		return
	}
	listened := map[int]bool{}
	for i := 1; i < len(inv.args); i++ {
		a := inv.args[i]
		if !strings.HasPrefix(a, "-") {
			if cmd == "nats" && a == "health" || cmd == "query" && i == 1 {
				continue
			}
			continue // a flag's value
		}
		name, value, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !flags[name] {
			t.Errorf("%s: gahpo %s has no flag --%s", inv.where, cmd, name)
		}
		if slices.Contains(secretFlags, name) {
			t.Errorf("%s: --%s puts a secret in the arguments (use the environment or a file)", inv.where, name)
		}
		if !hasValue && i+1 < len(inv.args) && !strings.HasPrefix(inv.args[i+1], "-") {
			value = inv.args[i+1]
		}
		if (name == "listen" || name == "cluster" || name == "monitor") && !strings.Contains(value, "${") && (value != "" || name != "cluster") {
			if host, port, err := splitPort(value); err == nil {
				listened[port] = true
				if name == "cluster" && !loopback(host) && !slices.Contains(inv.env, routePasswordEnv+"_FILE") && !slices.Contains(inv.env, routePasswordEnv) {
					t.Errorf("%s: --cluster %s beyond loopback without %s_FILE (gahpo refuses open routes)", inv.where, value, routePasswordEnv)
				}
			} else {
				t.Errorf("%s: --%s %q: %v", inv.where, name, value, err)
			}
		}
	}
	for _, p := range inv.ports {
		if !listened[p] {
			t.Errorf("%s: declares port %d, which gahpo %s does not listen on", inv.where, p, cmd)
		}
	}
	users, _ := os.ReadFile(usersFile)
	for _, e := range inv.env {
		switch {
		case e == "POD_NAME":
			if !slices.ContainsFunc(inv.args, func(a string) bool { return strings.Contains(a, "$(POD_NAME)") }) {
				t.Errorf("%s: POD_NAME is set but not used in the arguments", inv.where)
			}
		case bytes.Contains(binBytes, []byte(e)):
		case bytes.Contains(users, []byte("$"+e)):
		case strings.HasSuffix(e, "_FILE") && cmd == "nats" && bytes.Contains(users, []byte("$"+strings.TrimSuffix(e, "_FILE"))):
		default:
			t.Errorf("%s: environment variable %s is read neither by gahpo nor by %s", inv.where, e, usersFile)
		}
	}
}

// routePasswordEnv is where gahpo nats reads the routes' password.
const routePasswordEnv = "GAHPO_NATS_ROUTE_PASSWORD"

func loopback(host string) bool {
	return host == "localhost" || strings.HasPrefix(host, "127.") || host == "[::1]" || host == "::1"
}

func splitPort(hostPort string) (string, int, error) {
	i := strings.LastIndex(hostPort, ":")
	if i < 0 {
		return "", 0, fmt.Errorf("no port in %q", hostPort)
	}
	p, err := strconv.Atoi(hostPort[i+1:])
	return hostPort[:i], p, err
}

// yamlDocs decodes every document of a YAML file.
func yamlDocs(t *testing.T, path string) []map[string]any {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var docs []map[string]any
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var d map[string]any
		if err := dec.Decode(&d); err != nil {
			if err.Error() == "EOF" {
				return docs
			}
			t.Fatalf("%s: %v", path, err)
		}
		if d != nil {
			docs = append(docs, d)
		}
	}
}

// get walks a decoded YAML value along keys (string keys, int indexes).
func get(v any, keys ...any) any {
	for _, k := range keys {
		switch k := k.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				return nil
			}
			v = m[k]
		case int:
			l, ok := v.([]any)
			if !ok || k >= len(l) {
				return nil
			}
			v = l[k]
		}
	}
	return v
}

func strs(v any) []string {
	var out []string
	l, _ := v.([]any)
	for _, x := range l {
		out = append(out, fmt.Sprint(x))
	}
	return out
}

// TestKubernetesManifestsMatchTheBinary parses deploy/k8s and checks every
// container that runs gahpo, the KEDA trigger, the Services and the
// NetworkPolicies against the binary and the bus's names.
func TestKubernetesManifestsMatchTheBinary(t *testing.T) {
	binary(t)
	files, _ := filepath.Glob("k8s/*.yaml")
	if len(files) < 6 {
		t.Fatalf("k8s manifests: %v", files)
	}
	kinds := map[string]int{}
	portNames := map[string]bool{}
	var services []map[string]any
	for _, f := range files {
		for _, d := range yamlDocs(t, f) {
			kind := fmt.Sprint(d["kind"])
			kinds[kind]++
			where := f + " " + kind + " " + fmt.Sprint(get(d, "metadata", "name"))
			switch kind {
			case "StatefulSet", "Deployment", "Job":
				cs, _ := get(d, "spec", "template", "spec", "containers").([]any)
				for _, c := range cs {
					inv := invocation{where: where, args: strs(get(c, "args"))}
					if cmd := strs(get(c, "command")); len(cmd) > 0 {
						t.Errorf("%s: command %v replaces the image's entrypoint", where, cmd)
					}
					envs, _ := get(c, "env").([]any)
					for _, e := range envs {
						inv.env = append(inv.env, fmt.Sprint(get(e, "name")))
					}
					ports, _ := get(c, "ports").([]any)
					for _, p := range ports {
						n, _ := get(p, "containerPort").(int)
						inv.ports = append(inv.ports, n)
						portNames[fmt.Sprint(get(p, "name"))] = true
					}
					checkInvocation(t, inv, "nats/auth.conf")
				}
				if kind == "StatefulSet" && get(d, "spec", "volumeClaimTemplates") == nil {
					t.Errorf("%s: a StatefulSet without a volume", where)
				}
			case "ScaledObject":
				trig := get(d, "spec", "triggers", 0)
				if get(trig, "type") != "nats-jetstream" || get(trig, "metadata", "stream") != bus.StreamTasks || get(trig, "metadata", "consumer") != bus.ConsumerWorkers {
					t.Errorf("%s: trigger %v, want nats-jetstream on %s/%s", where, trig, bus.StreamTasks, bus.ConsumerWorkers)
				}
				if ep := fmt.Sprint(get(trig, "metadata", "natsServerMonitoringEndpoint")); !strings.HasSuffix(ep, ":8222") {
					t.Errorf("%s: monitoring endpoint %s is not the servers' --monitor port 8222", where, ep)
				}
			case "Service":
				services = append(services, d)
			case "NetworkPolicy":
				for _, dir := range []string{"ingress", "egress"} {
					rules, _ := get(d, "spec", dir).([]any)
					for _, r := range rules {
						ps, _ := get(r, "ports").([]any)
						for _, p := range ps {
							if n, _ := get(p, "port").(int); n != 4222 && n != 6222 && n != 8222 && n != 53 {
								t.Errorf("%s: port %d is not one gahpo uses", where, n)
							}
						}
					}
				}
			case "ConfigMap":
				conf, _ := os.ReadFile("nats/auth.conf")
				if got := fmt.Sprint(get(d, "data", "auth.conf")); got != string(conf) {
					t.Errorf("%s: auth.conf differs from deploy/nats/auth.conf", where)
				}
			}
		}
	}
	for _, s := range services {
		ps, _ := get(s, "spec", "ports").([]any)
		for _, p := range ps {
			if tp := fmt.Sprint(get(p, "targetPort")); !portNames[tp] {
				t.Errorf("Service %v: targetPort %s names no container port", get(s, "metadata", "name"), tp)
			}
		}
	}
	for _, k := range []string{"StatefulSet", "Deployment", "ScaledObject", "NetworkPolicy", "Service", "ConfigMap"} {
		if kinds[k] == 0 {
			t.Errorf("no %s in deploy/k8s", k)
		}
	}
}

// composeValue replaces ${VAR:-default} by the variable's value in env, or
// else by its default.
func composeValue(s string, env map[string]string) string {
	return regexp.MustCompile(`\$\{([A-Z_]+):-([^}]*)\}`).ReplaceAllStringFunc(s, func(m string) string {
		sub := regexp.MustCompile(`\$\{([A-Z_]+):-([^}]*)\}`).FindStringSubmatch(m)
		if v, ok := env[sub[1]]; ok {
			return v
		}
		return sub[2]
	})
}

// envFile reads a compose --env-file.
func envFile(t *testing.T, path string) map[string]string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{}
	for line := range strings.Lines(string(data)) {
		line = strings.TrimSpace(line)
		if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") {
			env[k] = v
		}
	}
	return env
}

// TestComposeFileMatchesTheBinary checks every service of compose.yaml,
// with its defaults and with cluster.env (the cluster profile).
func TestComposeFileMatchesTheBinary(t *testing.T) {
	binary(t)
	t.Run("defaults", func(t *testing.T) { checkCompose(t, nil) })
	t.Run("cluster.env", func(t *testing.T) {
		env := envFile(t, "cluster.env")
		if len(env) < 3 {
			t.Fatalf("cluster.env: %v", env)
		}
		checkCompose(t, env)
	})
}

func checkCompose(t *testing.T, env map[string]string) {
	docs := yamlDocs(t, "compose.yaml")
	svcs, _ := get(docs[0], "services").(map[string]any)
	if len(svcs) < 4 {
		t.Fatalf("compose services: %d", len(svcs))
	}
	for name, s := range svcs {
		where := "compose.yaml service " + name
		var args []string
		for _, a := range strs(get(s, "command")) {
			args = append(args, composeValue(a, env))
		}
		if ep := strs(get(s, "entrypoint")); len(ep) > 1 {
			args = append(ep[1:], args...)
		}
		inv := invocation{where: where, args: args}
		env, _ := get(s, "environment").(map[string]any)
		for k := range env {
			inv.env = append(inv.env, k)
		}
		checkInvocation(t, inv, "nats/auth.conf")
		if get(s, "read_only") != true || !slices.Contains(strs(get(s, "cap_drop")), "ALL") || !slices.Contains(strs(get(s, "security_opt")), "no-new-privileges:true") {
			t.Errorf("%s: read_only %v, cap_drop %v, security_opt %v; want a read-only root, no capabilities, no new privileges",
				where, get(s, "read_only"), get(s, "cap_drop"), get(s, "security_opt"))
		}
		if hc := strs(get(s, "healthcheck", "test")); len(hc) > 2 {
			checkInvocation(t, invocation{where: where + " healthcheck", args: hc[2:]}, "nats/auth.conf")
		}
	}
}

// TestSystemdUnitsMatchTheBinary checks the units' ExecStart lines.
func TestSystemdUnitsMatchTheBinary(t *testing.T) {
	binary(t)
	units, _ := filepath.Glob("systemd/*.service")
	if len(units) < 3 {
		t.Fatalf("systemd units: %v", units)
	}
	for _, u := range units {
		data, err := os.ReadFile(u)
		if err != nil {
			t.Fatal(err)
		}
		for line := range strings.Lines(string(data)) {
			cmd, ok := strings.CutPrefix(strings.TrimSpace(line), "ExecStart=")
			if !ok {
				continue
			}
			f := strings.Fields(cmd)
			if len(f) < 2 || filepath.Base(f[0]) != "gahpo" {
				t.Errorf("%s: ExecStart %q does not run gahpo", u, cmd)
				continue
			}
			checkInvocation(t, invocation{where: u, args: f[1:]}, "nats/auth.conf")
		}
	}
}

// TestComposeProfiles checks which NATS servers run: one by default; with
// cluster.env and the cluster profile exactly three, routed to each other,
// each with the routes' password. The coordinator and the workers depend
// on a server that runs either way.
func TestComposeProfiles(t *testing.T) {
	docs := yamlDocs(t, "compose.yaml")
	svcs, _ := get(docs[0], "services").(map[string]any)
	for _, tc := range []struct {
		name     string
		env      map[string]string
		profiles []string
		servers  int
	}{
		{"defaults", nil, nil, 1},
		{"cluster", envFile(t, "cluster.env"), []string{"cluster"}, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			active := func(s any) bool {
				ps := strs(get(s, "profiles"))
				return len(ps) == 0 || slices.ContainsFunc(ps, func(p string) bool { return slices.Contains(tc.profiles, p) })
			}
			servers := map[string][]string{} // service -> its arguments
			for name, s := range svcs {
				var args []string
				for _, a := range strs(get(s, "command")) {
					args = append(args, composeValue(a, tc.env))
				}
				if active(s) && len(args) > 0 && args[0] == "nats" {
					servers[name] = args
				}
			}
			if len(servers) != tc.servers {
				t.Fatalf("%d NATS servers run (%v), want %d", len(servers), slices.Sorted(maps.Keys(servers)), tc.servers)
			}
			for name, args := range servers {
				joined := strings.Join(args, " ")
				if tc.servers == 1 {
					if strings.Contains(joined, "--cluster=0") || strings.Contains(joined, "--cluster 0") {
						t.Errorf("%s: a single server with routes: %s", name, joined)
					}
					continue
				}
				for other := range servers {
					if !strings.Contains(joined, "nats://"+other+":6222") {
						t.Errorf("%s does not route to %s: %s", name, other, joined)
					}
				}
				if !strings.Contains(joined, "--server-name "+name) {
					t.Errorf("%s: server name is not the service's: %s", name, joined)
				}
				env, _ := get(svcs[name], "environment").(map[string]any)
				if _, ok := env[routePasswordEnv+"_FILE"]; !ok {
					t.Errorf("%s: no %s_FILE", name, routePasswordEnv)
				}
			}
			for _, client := range []string{"coordinator", "worker"} {
				deps, _ := get(svcs[client], "depends_on").(map[string]any)
				if len(deps) == 0 {
					t.Errorf("%s depends on no NATS server", client)
				}
				for d := range deps {
					if _, ok := servers[d]; !ok {
						t.Errorf("%s depends on %s, which is not a running NATS server", client, d)
					}
				}
			}
			if url := composeValue("${GAHPO_NATS_URL:-nats://nats:4222}", tc.env); strings.Count(url, "nats://") != tc.servers {
				t.Errorf("the clients' URL %s does not name the %d servers", url, tc.servers)
			}
		})
	}
}

// TestHelmValuesUsersAreAuthConf checks that the users the Helm values give
// the NATS chart (config.merge.authorization) are nats/auth.conf's, with
// the same passwords' variables and the same permissions: the chart path
// must grant no more and no less than nats.yaml's servers.
func TestHelmValuesUsersAreAuthConf(t *testing.T) {
	data, err := os.ReadFile("nats/auth.conf")
	if err != nil {
		t.Fatal(err)
	}
	// The conf parser resolves $VARIABLES from the environment.
	for _, v := range regexp.MustCompile(`\$(GAHPO_[A-Z_]+)`).FindAllStringSubmatch(string(data), -1) {
		t.Setenv(v[1], "ENV_"+v[1])
	}
	conf, err := natsconf.Parse(string(data))
	if err != nil {
		t.Fatalf("nats/auth.conf: %v", err)
	}
	want := get(conf, "authorization", "users")
	values := yamlDocs(t, "k8s/helm/values.yaml")
	got := get(values[0], "config", "merge", "authorization", "users")
	// The chart writes "<< $VAR >>" unquoted: the variable.
	variable := regexp.MustCompile(`^<< \$([A-Z_]+) >>$`)
	var norm func(v any) any
	norm = func(v any) any {
		switch v := v.(type) {
		case map[string]any:
			out := map[string]any{}
			for k, x := range v {
				out[k] = norm(x)
			}
			return out
		case []any:
			var out []any
			for _, x := range v {
				out = append(out, norm(x))
			}
			return out
		case string:
			if m := variable.FindStringSubmatch(v); m != nil {
				return "ENV_" + m[1]
			}
		}
		return v
	}
	if got, want := norm(got), norm(want); !reflect.DeepEqual(got, want) || want == nil {
		t.Errorf("helm/values.yaml config.merge.authorization.users differ from nats/auth.conf's:\nvalues:    %v\nauth.conf: %v", got, want)
	}
}
