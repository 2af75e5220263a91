package check

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	psaapi "k8s.io/pod-security-admission/api"
	"k8s.io/pod-security-admission/policy"
	sigsjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// readValues reads a Helm values file.
func readValues(t *testing.T, path string) map[string]any {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var v map[string]any
	if err := yaml.UnmarshalStrict(data, &v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return v
}

// value walks a values tree along a dotted path.
func value(v any, path string) any {
	for k := range strings.SplitSeq(path, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

// chartObjects are the values that the chart merges into a Kubernetes
// object, and the type of that object.
var chartObjects = map[string]func() any{
	"podTemplate.merge":   func() any { return &corev1.PodTemplateSpec{} },
	"container.merge":     func() any { return &corev1.Container{} },
	"container.resources": func() any { return &corev1.ResourceRequirements{} },
	"reloader.merge":      func() any { return &corev1.Container{} },
}

// decodeValue decodes a values subtree strictly into obj.
func decodeValue(v any, obj any) error {
	js, err := yaml.Marshal(v)
	if err != nil {
		return err
	}
	if js, err = yaml.YAMLToJSON(js); err != nil {
		return err
	}
	strict, err := sigsjson.UnmarshalStrict(js, obj)
	if err != nil {
		return err
	}
	if len(strict) > 0 {
		return fmt.Errorf("%v", strict)
	}
	return nil
}

// TestHelmValuesAreTheChartsKeys checks every key of helm/values.yaml
// against the official NATS chart's values (a copy of its values.yaml in
// testdata): a key the chart does not have would be ignored without a
// word. Below the chart's open maps (merge, env, resources: {} in its
// defaults) anything goes, except where the chart merges a Kubernetes
// object: that is decoded strictly into its type.
func TestHelmValuesAreTheChartsKeys(t *testing.T) {
	ours := readValues(t, filepath.Join(dir, "helm", "values.yaml"))
	chart := readValues(t, filepath.Join("testdata", "nats-chart-values.yaml"))
	var walk func(path string, ours, chart any)
	walk = func(path string, ours, chart any) {
		if mk, ok := chartObjects[path]; ok {
			if err := decodeValue(ours, mk()); err != nil {
				t.Errorf("helm/values.yaml %s: %v", path, err)
			}
			return
		}
		om, ok := ours.(map[string]any)
		if !ok || chart == nil {
			return // a value, or a key the chart leaves open (null)
		}
		cm, ok := chart.(map[string]any)
		if !ok {
			t.Errorf("helm/values.yaml %s: a map where the chart has %T %v", path, chart, chart)
			return
		}
		if len(cm) == 0 {
			return // open: the chart merges whatever is given
		}
		for k, v := range om {
			p := strings.TrimPrefix(path+"."+k, ".")
			cv, ok := cm[k]
			if !ok {
				t.Errorf("helm/values.yaml %s: not a value of the NATS chart (it has %v)", p, slices.Sorted(mapsKeys(cm)))
				continue
			}
			walk(p, v, cv)
		}
	}
	walk("", ours, chart)
}

func mapsKeys(m map[string]any) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// TestHelmValuesAgree checks what the chart installed with helm/values.yaml
// must agree with: the coordinator's --replicas, KEDA's monitoring port,
// the NetworkPolicy's labels, the Secret's keys, the names of the Services
// the clients and KEDA use, and the restricted Pod Security level (on the
// pod the values give the chart; the chart itself sets no security
// context).
func TestHelmValuesAgree(t *testing.T) {
	d := load(t)
	v := readValues(t, filepath.Join(dir, "helm", "values.yaml"))
	for path, want := range map[string]any{
		"config.cluster.enabled":   true,
		"config.jetstream.enabled": true,
		"config.monitor.enabled":   true,
		"natsBox.enabled":          false, // it would hold a user with every right
	} {
		if got := value(v, path); got != want {
			t.Errorf("helm/values.yaml %s: %v, want %v", path, got, want)
		}
	}
	sts, _ := natsStatefulSet(t, d)
	n, _ := value(v, "config.cluster.replicas").(float64)
	if sts.Spec.Replicas == nil || int32(n) != *sts.Spec.Replicas {
		t.Errorf("helm/values.yaml config.cluster.replicas %v, nats.yaml runs %v servers", n, deref(sts.Spec.Replicas))
	}
	if r := replicasFlag(t, coordinatorContainer(t, d)); r > int(n) || r < min(int(n), 3) {
		t.Errorf("coordinator --replicas %d on the chart's %v servers", r, n)
	}
	if p, _ := value(v, "config.monitor.port").(float64); fmt.Sprint(p) != "8222" {
		t.Errorf("helm/values.yaml config.monitor.port %v, KEDA reads 8222", p)
	}
	// The chart names its objects after the release, gahpo-nats: the
	// StatefulSet gahpo-nats, the Services gahpo-nats and
	// gahpo-nats-headless, as nats.yaml does; the values must not rename
	// them.
	for _, k := range []string{"nameOverride", "fullnameOverride", "statefulSet.name", "service.name", "headlessService.name"} {
		if x := value(v, k); x != nil {
			t.Errorf("helm/values.yaml %s: %v renames what the clients and KEDA reach", k, x)
		}
	}
	data, _ := os.ReadFile(filepath.Join(dir, "helm", "values.yaml"))
	if !regexp.MustCompile(`helm install ` + sts.Name + ` `).Match(data) {
		t.Errorf("helm/values.yaml: the install command does not name the release %s", sts.Name)
	}
	var tpl corev1.PodTemplateSpec
	if err := decodeValue(value(v, "podTemplate.merge"), &tpl); err != nil {
		t.Fatalf("podTemplate.merge: %v", err)
	}
	for _, np := range objects[*networkingv1.NetworkPolicy](d.applied) {
		if matches(&np.Spec.PodSelector, sts.Spec.Template.Labels) && !matches(&np.Spec.PodSelector, tpl.Labels) {
			t.Errorf("NetworkPolicy %s guards nats.yaml's servers, not the chart's (labels %v)", np.Name, tpl.Labels)
		}
	}
	for _, k := range []string{"app.kubernetes.io/part-of", "gahpo.dev/role"} {
		if tpl.Labels[k] != sts.Spec.Template.Labels[k] {
			t.Errorf("helm/values.yaml podTemplate.merge: label %s %q, nats.yaml's servers have %q", k, tpl.Labels[k], sts.Spec.Template.Labels[k])
		}
	}
	env, _ := value(v, "container.env").(map[string]any)
	for name, e := range env {
		if !secretEnv(name) {
			continue
		}
		var src struct {
			ValueFrom corev1.EnvVarSource `json:"valueFrom"`
		}
		if err := decodeValue(e, &src); err != nil || src.ValueFrom.SecretKeyRef == nil {
			t.Errorf("helm/values.yaml container.env %s: not from a Secret (%v)", name, err)
			continue
		}
		example := objects[*corev1.Secret](d.extra)
		if ref := src.ValueFrom.SecretKeyRef; len(example) == 0 || ref.Name != example[0].Name || example[0].StringData[ref.Key] == "" {
			t.Errorf("helm/values.yaml container.env %s: Secret %s key %s is not secret.example.yaml's", name, ref.Name, ref.Key)
		}
	}
	// The pod the chart makes, as far as security goes: the values' pod
	// template and containers.
	spec := tpl.Spec
	for _, c := range []struct{ name, path string }{{"nats", "container"}, {"reloader", "reloader"}} {
		var ctr corev1.Container
		if err := decodeValue(value(v, c.path+".merge"), &ctr); err != nil {
			t.Fatalf("%s.merge: %v", c.path, err)
		}
		ctr.Name = c.name
		if c.path == "container" {
			if err := decodeValue(value(v, "container.resources"), &ctr.Resources); err != nil {
				t.Fatalf("container.resources: %v", err)
			}
		}
		spec.Containers = append(spec.Containers, ctr)
	}
	eval, err := policy.NewEvaluator(policy.DefaultChecks(), nil)
	if err != nil {
		t.Fatal(err)
	}
	lv := psaapi.LevelVersion{Level: psaapi.LevelRestricted, Version: psaapi.LatestVersion()}
	if res := policy.AggregateCheckResults(eval.EvaluatePod(lv, &metav1.ObjectMeta{}, &spec)); !res.Allowed {
		t.Errorf("the chart's pod with helm/values.yaml: not admitted at %s: %s: %s", lv, res.ForbiddenReason(), res.ForbiddenDetail())
	}
	checkContainersHardened(t, &deployment{kust: d.kust, extra: []doc{{where: "helm/values.yaml", obj: &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: "gahpo-nats (Helm)"}, Spec: appsv1.StatefulSetSpec{Template: corev1.PodTemplateSpec{ObjectMeta: tpl.ObjectMeta, Spec: spec}},
	}}}})
}

// TestHelmChartRendered runs the deployment's checks with the NATS chart
// in place of nats.yaml, as deploy/README.md describes, on the chart as
// helm renders it with helm/values.yaml. Helm and the chart are not needed
// otherwise, so it runs only when GAHPO_HELM_RENDERED names the output of
//
//	helm template gahpo-nats nats/nats -n gahpo -f deploy/k8s/helm/values.yaml \
//	  --set config.cluster.routeURLs.password=x > rendered.yaml
func TestHelmChartRendered(t *testing.T) {
	path := os.Getenv("GAHPO_HELM_RENDERED")
	if path == "" {
		t.Skip("GAHPO_HELM_RENDERED names no output of helm template: the rendered chart is not checked")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	chart, err := decodeAll("helm template", data)
	if err != nil {
		t.Fatal(err)
	}
	d := load(t)
	withChart := &deployment{kust: d.kust, extra: d.extra}
	for _, doc := range d.applied {
		if !strings.HasPrefix(doc.where, "nats.yaml#") {
			withChart.applied = append(withChart.applied, doc)
		}
	}
	withChart.applied = append(withChart.applied, chart...)
	for name, check := range map[string]func(*testing.T, *deployment){
		"PodSecurityRestricted":                 checkPodSecurityRestricted,
		"ContainersHardened":                    checkContainersHardened,
		"SecretsFromTheSecret":                  checkSecretsFromTheSecret,
		"ServicesSelectPods":                    checkServicesSelectPods,
		"NetworkPoliciesAllowWhatTheREADMESays": checkNetworkPoliciesAllowWhatTheREADMESays,
		"ScaledObject":                          checkScaledObject,
		"ProbesAndPortsMatch":                   checkProbesAndPortsMatch,
	} {
		t.Run(name, func(t *testing.T) { check(t, withChart) })
	}
}
