package check

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
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
