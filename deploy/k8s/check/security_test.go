package check

import (
	"fmt"
	"maps"
	"os"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	psaapi "k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"
)

// TestPodSecurityRestricted runs the Pod Security admission plugin's own
// checks, at the restricted level of the newest Kubernetes it knows, on
// every pod template, and checks that the namespace enforces that level
// (pod-security.kubernetes.io/enforce=restricted).
func TestPodSecurityRestricted(t *testing.T) { checkPodSecurityRestricted(t, load(t)) }

func checkPodSecurityRestricted(t *testing.T, d *deployment) {
	eval, err := policy.NewEvaluator(policy.DefaultChecks(), nil)
	if err != nil {
		t.Fatal(err)
	}
	lv := psaapi.LevelVersion{Level: psaapi.LevelRestricted, Version: psaapi.LatestVersion()}
	// The namespace enforces the level, so that a pod added later that
	// falls short is refused rather than run.
	for _, ns := range objects[*corev1.Namespace](d.applied) {
		if got := ns.Labels[psaapi.EnforceLevelLabel]; got != string(psaapi.LevelRestricted) {
			t.Errorf("Namespace %s: %s %q, want %q (its pods meet it)", ns.Name, psaapi.EnforceLevelLabel, got, psaapi.LevelRestricted)
		}
	}
	tpls := podTemplates(d.all(), d.kust.Namespace)
	if len(tpls) < 3 {
		t.Fatalf("%d pod templates", len(tpls))
	}
	for _, tpl := range tpls {
		res := policy.AggregateCheckResults(eval.EvaluatePod(lv, &tpl.spec.ObjectMeta, &tpl.spec.Spec))
		if !res.Allowed {
			t.Errorf("%s: not admitted at %s: %s: %s", tpl.owner, lv, res.ForbiddenReason(), res.ForbiddenDetail())
		}
	}
}

// imageUID is the user the image runs as (deploy/Dockerfile's USER, the
// gahpo user of deploy/image/passwd), which owns /data and /tmp in it.
func imageUID(t *testing.T) int64 {
	t.Helper()
	data, err := os.ReadFile("../../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^USER (\d+)(:\d+)?$`).FindSubmatch(data)
	if m == nil {
		t.Fatal("deploy/Dockerfile: no numeric USER")
	}
	uid, _ := strconv.ParseInt(string(m[1]), 10, 64)
	return uid
}

// TestContainersHardened checks every container of every pod template:
// not root (gahpo's image: its user), no privilege to gain, no capability, a
// read-only root filesystem, no host namespace, no API token it does not
// use, and requests and limits.
func TestContainersHardened(t *testing.T) { checkContainersHardened(t, load(t)) }

func checkContainersHardened(t *testing.T, d *deployment) {
	uid, image := imageUID(t), builtImage(t)
	for _, tpl := range podTemplates(d.all(), d.kust.Namespace) {
		spec := &tpl.spec.Spec
		if spec.HostNetwork || spec.HostPID || spec.HostIPC {
			t.Errorf("%s: shares a host namespace", tpl.owner)
		}
		if spec.AutomountServiceAccountToken == nil || *spec.AutomountServiceAccountToken {
			t.Errorf("%s: mounts a service account token (gahpo never calls the Kubernetes API): set automountServiceAccountToken: false", tpl.owner)
		}
		psc := spec.SecurityContext
		if psc == nil {
			psc = &corev1.PodSecurityContext{}
		}
		for _, c := range slices.Concat(spec.InitContainers, spec.Containers) {
			where := tpl.owner + " container " + c.Name
			sc := c.SecurityContext
			if sc == nil {
				sc = &corev1.SecurityContext{}
			}
			nonRoot, user := pick(sc.RunAsNonRoot, psc.RunAsNonRoot), pick(sc.RunAsUser, psc.RunAsUser)
			if nonRoot == nil || !*nonRoot {
				t.Errorf("%s: runAsNonRoot is not true", where)
			}
			switch {
			case user == nil || *user == 0:
				t.Errorf("%s: runAsUser %v, want a user other than root", where, deref(user))
			case c.Image == image && *user != uid:
				t.Errorf("%s: runAsUser %d, want the image's user %d (it owns /data and /tmp)", where, *user, uid)
			}
			if sc.Privileged != nil && *sc.Privileged {
				t.Errorf("%s: privileged", where)
			}
			if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
				t.Errorf("%s: allowPrivilegeEscalation is not false", where)
			}
			if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
				t.Errorf("%s: readOnlyRootFilesystem is not true", where)
			}
			if sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") || len(sc.Capabilities.Add) > 0 {
				t.Errorf("%s: capabilities %v, want all dropped and none added", where, sc.Capabilities)
			}
			req, lim := c.Resources.Requests, c.Resources.Limits
			for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
				if _, ok := req[r]; !ok {
					t.Errorf("%s: no %s request", where, r)
				}
			}
			lm, ok := lim[corev1.ResourceMemory]
			if !ok {
				t.Errorf("%s: no memory limit", where)
			} else if rm := req[corev1.ResourceMemory]; lm.Cmp(rm) < 0 {
				t.Errorf("%s: memory limit %s below its request %s", where, lm.String(), rm.String())
			}
			if lc, ok := lim[corev1.ResourceCPU]; ok {
				if rc := req[corev1.ResourceCPU]; lc.Cmp(rc) < 0 {
					t.Errorf("%s: cpu limit %s below its request %s", where, lc.String(), rc.String())
				}
			}
		}
	}
}

func pick[T any](container, pod *T) *T {
	if container != nil {
		return container
	}
	return pod
}

func deref[T any](p *T) any {
	if p == nil {
		return "unset"
	}
	return *p
}

// writtenPaths are the paths each gahpo command writes, from its flags
// (and the image's TMPDIR for the worker's training commands).
func writtenPaths(args []string) []string {
	if len(args) == 0 {
		return nil
	}
	var out []string
	switch args[0] {
	case "coordinator", "run":
		if db, ok := flagValue(args, "db"); ok {
			out = append(out, path.Dir(db))
		}
	case "nats":
		if s, ok := flagValue(args, "store"); ok {
			out = append(out, s)
		}
	case "worker":
		if c, ok := flagValue(args, "cache"); ok {
			out = append(out, c)
		}
		out = append(out, "/tmp")
	}
	return out
}

// mountFor returns the volume mount that holds p, the deepest one.
func mountFor(c *corev1.Container, p string) *corev1.VolumeMount {
	var best *corev1.VolumeMount
	for i, m := range c.VolumeMounts {
		mp := strings.TrimSuffix(m.MountPath, "/")
		if (p == mp || strings.HasPrefix(p, mp+"/")) && (best == nil || len(mp) > len(best.MountPath)) {
			best = &c.VolumeMounts[i]
		}
	}
	return best
}

// TestWritesGoToVolumes checks that what each container writes (its
// history, its NATS store, its cache, its temporary files) is on a
// writable volume: the root filesystem is read-only.
func TestWritesGoToVolumes(t *testing.T) { checkWritesGoToVolumes(t, load(t)) }

func checkWritesGoToVolumes(t *testing.T, d *deployment) {
	n := 0
	for _, tpl := range podTemplates(d.all(), d.kust.Namespace) {
		for _, c := range tpl.spec.Spec.Containers {
			for _, p := range writtenPaths(c.Args) {
				n++
				m := mountFor(&c, p)
				if m == nil || m.ReadOnly {
					t.Errorf("%s container %s: gahpo %s writes %s, which is on no writable volume", tpl.owner, c.Name, c.Args[0], p)
				}
			}
		}
	}
	if n < 4 {
		t.Errorf("only %d written paths found", n)
	}
}

// secretEnv reports whether an environment variable holds a secret itself
// (not a file name).
func secretEnv(name string) bool {
	return !strings.HasSuffix(name, "_FILE") && regexp.MustCompile(`PASSWORD|TOKEN|SECRET|_KEY$`).MatchString(name)
}

// TestSecretsFromTheSecret checks where every secret comes from: variables
// holding one come from the Secret by secretKeyRef, never as literals;
// variables naming a file name a file of a mounted Secret volume that
// holds that key; the Secret's keys are secret.example.yaml's and those
// deploy/README.md creates it with; each client's user, password and
// reply prefix belong together; no argument carries a secret.
func TestSecretsFromTheSecret(t *testing.T) { checkSecretsFromTheSecret(t, load(t)) }

func checkSecretsFromTheSecret(t *testing.T, d *deployment) {
	secrets := objects[*corev1.Secret](d.extra)
	if len(secrets) != 1 {
		t.Fatalf("%d Secrets beside the kustomization, want secret.example.yaml's", len(secrets))
	}
	example := secrets[0]
	keys := slices.Sorted(maps.Keys(example.StringData))
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var readmeKeys []string
	for _, m := range regexp.MustCompile(`--from-file=([a-z-]+)=`).FindAllSubmatch(readme, -1) {
		readmeKeys = append(readmeKeys, string(m[1]))
	}
	slices.Sort(readmeKeys)
	if !slices.Equal(readmeKeys, keys) {
		t.Errorf("deploy/README.md creates the Secret with keys %v, secret.example.yaml has %v", readmeKeys, keys)
	}
	if len(objects[*corev1.Secret](d.applied)) > 0 {
		t.Error("the kustomization applies a Secret: its passwords would be in git")
	}
	hasKey := func(name, key string) bool { return name == example.Name && slices.Contains(keys, key) }
	for _, tpl := range podTemplates(d.all(), d.kust.Namespace) {
		spec := &tpl.spec.Spec
		for _, c := range spec.Containers {
			where := tpl.owner + " container " + c.Name
			for _, a := range c.Args {
				name, _, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
				if strings.HasPrefix(a, "-") && regexp.MustCompile(`password|token|secret`).MatchString(name) && !strings.HasSuffix(name, "-file") && name != "route-user" {
					t.Errorf("%s: argument %s carries a secret", where, a)
				}
			}
			for _, e := range c.Env {
				switch {
				case secretEnv(e.Name):
					ref := (*corev1.SecretKeySelector)(nil)
					if e.ValueFrom != nil {
						ref = e.ValueFrom.SecretKeyRef
					}
					if ref == nil {
						t.Errorf("%s: %s is not from a Secret", where, e.Name)
					} else if !hasKey(ref.Name, ref.Key) {
						t.Errorf("%s: %s from Secret %s key %s, which secret.example.yaml does not have", where, e.Name, ref.Name, ref.Key)
					}
				case strings.HasSuffix(e.Name, "_FILE") && secretEnv(strings.TrimSuffix(e.Name, "_FILE")):
					key, err := secretFileKey(spec, &c, e.Value)
					if err != nil {
						t.Errorf("%s: %s=%s: %v", where, e.Name, e.Value, err)
					} else if !hasKey(example.Name, key) {
						t.Errorf("%s: %s is Secret key %s, which secret.example.yaml does not have", where, e.Name, key)
					}
				}
			}
			if user, ok := envValue(&c, "GAHPO_NATS_USER"); ok {
				file, _ := envValue(&c, "GAHPO_NATS_PASSWORD_FILE")
				key, _ := secretFileKey(spec, &c, file)
				if key != user+"-password" {
					t.Errorf("%s: user %s with the password of Secret key %q", where, user, key)
				}
				if p, _ := envValue(&c, "GAHPO_NATS_INBOX_PREFIX"); p != "_INBOX_"+user {
					t.Errorf("%s: user %s with reply prefix %q, want _INBOX_%s (its only subscriptions)", where, user, p, user)
				}
			}
		}
	}
}

// secretFileKey returns the key of the Secret whose file path is in c.
func secretFileKey(spec *corev1.PodSpec, c *corev1.Container, file string) (string, error) {
	m := mountFor(c, file)
	if m == nil {
		return "", fmt.Errorf("no volume holds %s", file)
	}
	if !m.ReadOnly {
		return "", fmt.Errorf("the secret's volume %s is mounted writable", m.Name)
	}
	rel := strings.TrimPrefix(strings.TrimPrefix(file, strings.TrimSuffix(m.MountPath, "/")), "/")
	if m.SubPath != "" {
		rel = path.Join(m.SubPath, rel)
	}
	for _, v := range spec.Volumes {
		if v.Name != m.Name {
			continue
		}
		if v.Secret == nil {
			return "", fmt.Errorf("volume %s is not a Secret", v.Name)
		}
		if len(v.Secret.Items) == 0 {
			return rel, nil
		}
		for _, it := range v.Secret.Items {
			if it.Path == rel {
				return it.Key, nil
			}
		}
		return "", fmt.Errorf("Secret volume %s has no item at %s", v.Name, rel)
	}
	return "", fmt.Errorf("no volume %s", m.Name)
}
