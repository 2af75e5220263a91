package check

import (
	"context"
	"os/exec"
	"reflect"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestKustomizeRenders renders the kustomization with kubectl's kustomize
// (what kubectl apply -k does, offline) and checks the result: it decodes
// strictly, holds the files' objects and no other, each unchanged but for
// the kustomization's namespace, which every namespaced object gets.
func TestKustomizeRenders(t *testing.T) {
	kubectl, err := exec.LookPath("kubectl")
	if err != nil {
		t.Skip("kubectl is not on the PATH (Debian: apt-get install kubernetes-client): kubectl kustomize not tried")
	}
	d := load(t)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, kubectl, "kustomize", dir).Output()
	if err != nil {
		msg := ""
		if ee, ok := err.(*exec.ExitError); ok {
			msg = string(ee.Stderr)
		}
		t.Fatalf("kubectl kustomize %s: %v\n%s", dir, err, msg)
	}
	rendered, err := decodeAll("kubectl kustomize", out)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]doc{}
	for _, f := range d.applied {
		files[f.name()] = f
	}
	var seen []string
	for _, r := range rendered {
		seen = append(seen, r.name())
		f, ok := files[r.name()]
		if !ok {
			t.Errorf("kustomize renders %s, which no listed file holds", r.name())
			continue
		}
		meta := objectMeta(r.obj)
		if _, isNS := r.obj.(*corev1.Namespace); isNS {
			if meta.Name != d.kust.Namespace {
				t.Errorf("kustomize renders Namespace %s, the kustomization's is %s", meta.Name, d.kust.Namespace)
			}
		} else if meta.Namespace != d.kust.Namespace {
			t.Errorf("%s: rendered in namespace %q, want %q", r.name(), meta.Namespace, d.kust.Namespace)
		}
		want := objectMeta(f.obj)
		if want.Namespace == "" {
			if _, isNS := f.obj.(*corev1.Namespace); !isNS {
				want.Namespace = d.kust.Namespace
				defer func() { want.Namespace = "" }()
			}
		}
		if !reflect.DeepEqual(r.obj, f.obj) {
			t.Errorf("%s: kustomize changed it beyond its namespace:\nfile:     %+v\nrendered: %+v", r.name(), f.obj, r.obj)
		}
	}
	for name := range files {
		if !slices.Contains(seen, name) {
			t.Errorf("kustomize does not render %s", name)
		}
	}
}

// objectMeta returns a decoded object's metadata, to read or to change.
func objectMeta(obj any) *metav1.ObjectMeta {
	switch o := obj.(type) {
	case *ScaledObject:
		return &o.ObjectMeta
	case metav1.ObjectMetaAccessor:
		m, _ := o.GetObjectMeta().(*metav1.ObjectMeta)
		return m
	}
	return nil
}
