package check

import (
	"fmt"
	"net"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// natsStatefulSet returns the StatefulSet running `gahpo nats` and its
// container.
func natsStatefulSet(t *testing.T, d *deployment) (*appsv1.StatefulSet, *corev1.Container) {
	t.Helper()
	for _, s := range objects[*appsv1.StatefulSet](d.applied) {
		for i, c := range s.Spec.Template.Spec.Containers {
			if len(c.Args) > 0 && c.Args[0] == "nats" {
				return s, &s.Spec.Template.Spec.Containers[i]
			}
		}
	}
	t.Fatal("no StatefulSet runs gahpo nats")
	return nil, nil
}

// coordinatorContainer returns the container running `gahpo coordinator`
// in the kustomization.
func coordinatorContainer(t *testing.T, d *deployment) *corev1.Container {
	t.Helper()
	for _, tpl := range podTemplates(d.applied, d.kust.Namespace) {
		for i, c := range tpl.spec.Spec.Containers {
			if len(c.Args) > 0 && c.Args[0] == "coordinator" {
				return &tpl.spec.Spec.Containers[i]
			}
		}
	}
	t.Fatal("no coordinator in the kustomization")
	return nil
}

// replicasFlag is the coordinator's --replicas (1 when not given).
func replicasFlag(t *testing.T, c *corev1.Container) int {
	t.Helper()
	v, ok := flagValue(c.Args, "replicas")
	if !ok {
		return 1
	}
	r, err := strconv.Atoi(v)
	if err != nil {
		t.Fatalf("coordinator --replicas %q: %v", v, err)
	}
	return r
}

// TestNATSClusterAgrees checks the NATS StatefulSet against itself and its
// clients: the routes name each of its pods through its headless Service
// on the cluster port; each server is named after its pod; the
// coordinator's --replicas fits the servers and survives losing one; the
// clients' address is the Service in front of the servers.
func TestNATSClusterAgrees(t *testing.T) { checkNATSClusterAgrees(t, load(t)) }

func checkNATSClusterAgrees(t *testing.T, d *deployment) {
	sts, c := natsStatefulSet(t, d)
	n := int32(1)
	if sts.Spec.Replicas != nil {
		n = *sts.Spec.Replicas
	}
	if n < 3 || n%2 == 0 {
		t.Errorf("StatefulSet %s: %d servers; JetStream's replicated streams need an odd number, at least 3, for a quorum after a loss", sts.Name, n)
	}
	if sts.Spec.PodManagementPolicy != appsv1.ParallelPodManagement {
		t.Errorf("StatefulSet %s: pods started one by one (%q): the first waits for a cluster the others have not joined", sts.Name, sts.Spec.PodManagementPolicy)
	}
	cluster, _ := flagValue(c.Args, "cluster")
	_, clusterPort, err := net.SplitHostPort(cluster)
	if err != nil {
		t.Fatalf("nats --cluster %q: %v", cluster, err)
	}
	var want []string
	for i := range n {
		want = append(want, fmt.Sprintf("nats://%s-%d.%s:%s", sts.Name, i, sts.Spec.ServiceName, clusterPort))
	}
	routes, _ := flagValue(c.Args, "routes")
	got := strings.Split(routes, ",")
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("nats --routes %v, want its %d pods through Service %s: %v", got, n, sts.Spec.ServiceName, want)
	}
	if name, _ := flagValue(c.Args, "server-name"); name != "$(POD_NAME)" {
		t.Errorf("nats --server-name %q, want $(POD_NAME) (unique in the cluster)", name)
	}
	if !slices.ContainsFunc(c.Env, func(e corev1.EnvVar) bool {
		return e.Name == "POD_NAME" && e.ValueFrom != nil && e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "metadata.name"
	}) {
		t.Error("nats: POD_NAME is not the pod's name")
	}
	r := replicasFlag(t, coordinatorContainer(t, d))
	if r > int(n) || r < min(int(n), 3) {
		t.Errorf("coordinator --replicas %d on %d NATS servers: want at most one per server and at least 3 where there are 3 (losing a server must lose nothing)", r, n)
	}
	for _, tpl := range podTemplates(d.all(), d.kust.Namespace) {
		for _, c := range tpl.spec.Spec.Containers {
			url, ok := envValue(&c, "GAHPO_NATS")
			if !ok {
				continue
			}
			for u := range strings.SplitSeq(url, ",") {
				host, port, err := net.SplitHostPort(strings.TrimPrefix(u, "nats://"))
				if err != nil {
					t.Errorf("%s: GAHPO_NATS %q: %v", tpl.owner, url, err)
					continue
				}
				checkServiceAddress(t, d, tpl.owner+" GAHPO_NATS", host, port)
				if svc := find[*corev1.Service](d.applied, strings.Split(host, ".")[0]); svc != nil && !matches(metaSelector(svc.Spec.Selector), sts.Spec.Template.Labels) {
					t.Errorf("%s: GAHPO_NATS %s: Service %s does not select the NATS servers", tpl.owner, url, svc.Name)
				}
			}
		}
	}
}

// TestProbesAndPortsMatch checks every probe's port against its
// container's ports, and the ports `gahpo nats` listens on against the
// ports its container declares under the names the Services use.
func TestProbesAndPortsMatch(t *testing.T) { checkProbesAndPortsMatch(t, load(t)) }

func checkProbesAndPortsMatch(t *testing.T, d *deployment) {
	probes := 0
	for _, tpl := range podTemplates(d.all(), d.kust.Namespace) {
		for _, c := range tpl.spec.Spec.Containers {
			where := tpl.owner + " container " + c.Name
			for kind, p := range map[string]*corev1.Probe{"startup": c.StartupProbe, "readiness": c.ReadinessProbe, "liveness": c.LivenessProbe} {
				if p == nil {
					continue
				}
				probes++
				var port intstr.IntOrString
				switch {
				case p.HTTPGet != nil:
					port = p.HTTPGet.Port
					if !strings.HasPrefix(p.HTTPGet.Path, "/healthz") {
						t.Errorf("%s: %s probe on %s, not the monitoring port's /healthz", where, kind, p.HTTPGet.Path)
					}
				case p.TCPSocket != nil:
					port = p.TCPSocket.Port
				case p.GRPC != nil:
					port = intstr.FromInt32(p.GRPC.Port)
				default:
					continue
				}
				if _, ok := containerPort(&corev1.PodSpec{Containers: []corev1.Container{c}}, port, corev1.ProtocolTCP); !ok {
					t.Errorf("%s: %s probe on port %s, which the container does not declare", where, kind, port.String())
				}
			}
			if len(c.Args) == 0 || c.Args[0] != "nats" {
				continue
			}
			for flag, name := range map[string]string{"listen": "client", "cluster": "cluster", "monitor": "monitor"} {
				v, _ := flagValue(c.Args, flag)
				_, port, err := net.SplitHostPort(v)
				if err != nil {
					t.Errorf("%s: --%s %q: %v", where, flag, v, err)
					continue
				}
				cp, ok := containerPort(&corev1.PodSpec{Containers: []corev1.Container{c}}, intstr.FromString(name), corev1.ProtocolTCP)
				if !ok || strconv.Itoa(int(cp.ContainerPort)) != port {
					t.Errorf("%s: --%s listens on %s, the port named %s is %d", where, flag, port, name, cp.ContainerPort)
				}
			}
		}
	}
	if probes == 0 {
		t.Error("no probe at all")
	}
}

// TestImagesAreBuilt checks that every container runs the image
// deploy/build-image.sh builds, and that the paths the coordinator reads
// from the image are the Dockerfile's.
func TestImagesAreBuilt(t *testing.T) { checkImagesAreBuilt(t, load(t)) }

func checkImagesAreBuilt(t *testing.T, d *deployment) {
	image := builtImage(t)
	dockerfile, err := os.ReadFile("../../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	dm := regexp.MustCompile(`(?m)^COPY mnist/ (\S+?)/?$`).FindSubmatch(dockerfile)
	if dm == nil {
		t.Fatal("deploy/Dockerfile: no COPY mnist/")
	}
	for _, tpl := range podTemplates(d.all(), d.kust.Namespace) {
		for _, c := range slices.Concat(tpl.spec.Spec.InitContainers, tpl.spec.Spec.Containers) {
			if c.Image != image {
				t.Errorf("%s container %s: image %s, deploy/build-image.sh builds %s", tpl.owner, c.Name, c.Image, image)
			}
			if len(c.Command) > 0 {
				t.Errorf("%s container %s: command %v replaces the image's entrypoint", tpl.owner, c.Name, c.Command)
			}
			if data, ok := flagValue(c.Args, "data"); ok && data != string(dm[1]) {
				t.Errorf("%s container %s: --data %s, the image has MNIST in %s", tpl.owner, c.Name, data, dm[1])
			}
		}
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), "The image `"+image+"`") {
		t.Errorf("deploy/README.md's Kubernetes section does not name the image %s", image)
	}
}

// builtImage is the image deploy/build-image.sh builds by default.
func builtImage(t *testing.T) string {
	t.Helper()
	script, err := os.ReadFile("../../build-image.sh")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^tag=\$\{1:-([^}]+)\}$`).FindSubmatch(script)
	if m == nil {
		t.Fatal("deploy/build-image.sh: no default tag (tag=${1:-NAME:TAG})")
	}
	return string(m[1])
}

// TestNATSDisruptionBudget checks that a voluntary disruption (a node
// drained for an upgrade) can take only as many NATS servers as leaves
// JetStream a quorum: with 3 servers, one at a time.
func TestNATSDisruptionBudget(t *testing.T) {
	d := load(t)
	sts, _ := natsStatefulSet(t, d)
	n := int(ptrOr(sts.Spec.Replicas, 1))
	quorum := n/2 + 1
	var found bool
	for _, pdb := range objects[*policyv1.PodDisruptionBudget](d.applied) {
		if pdb.Spec.Selector == nil || !matches(pdb.Spec.Selector, sts.Spec.Template.Labels) {
			continue
		}
		found = true
		var down int
		switch {
		case pdb.Spec.MaxUnavailable != nil:
			v, err := intstr.GetScaledValueFromIntOrPercent(pdb.Spec.MaxUnavailable, n, true)
			if err != nil {
				t.Fatal(err)
			}
			down = v
		case pdb.Spec.MinAvailable != nil:
			v, err := intstr.GetScaledValueFromIntOrPercent(pdb.Spec.MinAvailable, n, true)
			if err != nil {
				t.Fatal(err)
			}
			down = n - v
		}
		if down < 1 || n-down < quorum {
			t.Errorf("PodDisruptionBudget %s lets %d of %d NATS servers go at once: want at least 1 (drains must proceed) and at most %d (a quorum of %d stays)", pdb.Name, down, n, n-quorum, quorum)
		}
	}
	if !found {
		t.Errorf("no PodDisruptionBudget guards StatefulSet %s: a drain may evict a quorum of NATS servers at once, stopping every replicated stream", sts.Name)
	}
}
