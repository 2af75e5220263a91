package check

import (
	"fmt"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// TestNewSearchJob checks new-search.yaml, the Job deploy/README.md starts
// the next search with: it runs the coordinator StatefulSet's command with
// --new, on the StatefulSet's volume, never twice; the NetworkPolicies let
// it reach NATS as they let the coordinator; no workload or Service takes
// its pod for its own.
func TestNewSearchJob(t *testing.T) {
	d := load(t)
	jobs := objects[*batchv1.Job](d.extra)
	if len(jobs) != 1 {
		t.Fatalf("%d Jobs beside the kustomization, want new-search.yaml's", len(jobs))
	}
	job := jobs[0]
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), "new-search.yaml") {
		t.Error("deploy/README.md does not say to start the next search with new-search.yaml")
	}
	var sts *appsv1.StatefulSet
	for _, s := range objects[*appsv1.StatefulSet](d.applied) {
		if c := s.Spec.Template.Spec.Containers; len(c) > 0 && len(c[0].Args) > 0 && c[0].Args[0] == "coordinator" {
			sts = s
		}
	}
	if sts == nil {
		t.Fatal("no coordinator StatefulSet")
	}
	spec, sspec := &job.Spec.Template.Spec, &sts.Spec.Template.Spec
	if len(spec.Containers) != 1 {
		t.Fatalf("Job %s: %d containers", job.Name, len(spec.Containers))
	}
	jc, sc := spec.Containers[0], sspec.Containers[0]
	if want := slices.Insert(slices.Clone(sc.Args), 1, "--new"); !slices.Equal(jc.Args, want) {
		t.Errorf("Job %s runs %v, want the StatefulSet's command with --new: %v", job.Name, jc.Args, want)
	}
	for what, pair := range map[string][2]any{
		"environment": {jc.Env, sc.Env}, "volume mounts": {jc.VolumeMounts, sc.VolumeMounts},
		"resources": {jc.Resources, sc.Resources}, "security context": {jc.SecurityContext, sc.SecurityContext},
		"image": {jc.Image, sc.Image}, "pod security context": {spec.SecurityContext, sspec.SecurityContext},
	} {
		if !reflect.DeepEqual(pair[0], pair[1]) {
			t.Errorf("Job %s: its %s differ from the StatefulSet's: %+v, %+v", job.Name, what, pair[0], pair[1])
		}
	}
	for _, ct := range sts.Spec.VolumeClaimTemplates {
		claim := fmt.Sprintf("%s-%s-0", ct.Name, sts.Name)
		if !slices.ContainsFunc(spec.Volumes, func(v corev1.Volume) bool {
			return v.Name == ct.Name && v.PersistentVolumeClaim != nil && v.PersistentVolumeClaim.ClaimName == claim
		}) {
			t.Errorf("Job %s: no volume %s on the StatefulSet's claim %s", job.Name, ct.Name, claim)
		}
	}
	for _, v := range sspec.Volumes {
		if !slices.ContainsFunc(spec.Volumes, func(w corev1.Volume) bool { return reflect.DeepEqual(v, w) }) {
			t.Errorf("Job %s: the StatefulSet's volume %s differs or is missing", job.Name, v.Name)
		}
	}
	if job.Spec.BackoffLimit == nil || *job.Spec.BackoffLimit != 0 || spec.RestartPolicy != corev1.RestartPolicyNever {
		t.Errorf("Job %s: backoffLimit %v, restartPolicy %s: a second start with --new would begin another search", job.Name, deref(job.Spec.BackoffLimit), spec.RestartPolicy)
	}
	own := labels.Set(job.Spec.Template.Labels)
	for _, tpl := range podTemplates(d.applied, d.kust.Namespace) {
		if tpl.spec.Labels["app.kubernetes.io/name"] == own["app.kubernetes.io/name"] {
			t.Errorf("Job %s: its pod has the name label of %s's pods", job.Name, tpl.owner)
		}
	}
	for _, s := range objects[*appsv1.StatefulSet](d.applied) {
		if matches(s.Spec.Selector, own) {
			t.Errorf("Job %s: StatefulSet %s's selector takes its pod", job.Name, s.Name)
		}
	}
	for _, s := range objects[*appsv1.Deployment](d.applied) {
		if matches(s.Spec.Selector, own) {
			t.Errorf("Job %s: Deployment %s's selector takes its pod", job.Name, s.Name)
		}
	}
	for _, s := range objects[*corev1.Service](d.applied) {
		if labels.SelectorFromSet(s.Spec.Selector).Matches(own) {
			t.Errorf("Job %s: Service %s selects its pod", job.Name, s.Name)
		}
	}
	nps := objects[*networkingv1.NetworkPolicy](d.applied)
	for _, np := range nps {
		if np.Namespace == "" {
			np.Namespace = d.kust.Namespace
		}
	}
	pods := netPods(d)
	var jobPod, coordinator, natsPod netPod
	for _, p := range pods {
		switch {
		case p.name == job.Name:
			jobPod = p
		case p.name == sts.Name:
			coordinator = p
		case p.labels["gahpo.dev/role"] == "nats":
			natsPod = p
		}
	}
	for _, port := range natsPod.ports {
		a, err := allowed(nps, jobPod, natsPod, port)
		b, err2 := allowed(nps, coordinator, natsPod, port)
		if err != nil || err2 != nil {
			t.Fatal(err, err2)
		}
		if a != b || (port.ContainerPort == 4222 && !a) {
			t.Errorf("Job %s -> NATS port %d: allowed %v, the coordinator: %v", job.Name, port.ContainerPort, a, b)
		}
	}
}
