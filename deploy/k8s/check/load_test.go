package check

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	sigsjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// dir is deploy/k8s, seen from this package.
const dir = ".."

// strictDecoder decodes the built-in kinds the manifests use as the API
// server does with strict field validation: a field the type lacks, a
// field given twice or a field in the wrong case is an error.
var strictDecoder = func() runtime.Decoder {
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{corev1.AddToScheme, appsv1.AddToScheme, batchv1.AddToScheme, networkingv1.AddToScheme, policyv1.AddToScheme} {
		if err := add(scheme); err != nil {
			panic(err)
		}
	}
	return serializer.NewCodecFactory(scheme, serializer.EnableStrict).UniversalDeserializer()
}()

// doc is one YAML document of a manifest file, decoded into its type: a
// k8s.io/api object, or a *ScaledObject.
type doc struct {
	where string // file and document number, for messages
	obj   any
}

// name is the object's kind and name, for messages.
func (d doc) name() string {
	switch o := d.obj.(type) {
	case runtime.Object:
		m, _ := o.(metav1.Object)
		return o.GetObjectKind().GroupVersionKind().Kind + " " + m.GetName()
	case *ScaledObject:
		return "ScaledObject " + o.Name
	}
	return fmt.Sprintf("%T", d.obj)
}

// splitDocs returns the YAML documents of data that hold anything but
// comments.
func splitDocs(data []byte) ([][]byte, error) {
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var docs [][]byte
	for {
		d, err := r.Read()
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return nil, fmt.Errorf("check: split documents: %w", err)
		}
		var v any
		if err := yaml.Unmarshal(d, &v); err != nil {
			return nil, fmt.Errorf("check: %w", err)
		}
		if v != nil {
			docs = append(docs, d)
		}
	}
}

// decodeStrict decodes one document into its type, refusing unknown,
// duplicated and miscased fields.
func decodeStrict(data []byte) (any, error) {
	js, err := yaml.YAMLToJSONStrict(data) // refuses duplicate keys
	if err != nil {
		return nil, fmt.Errorf("check: %w", err)
	}
	var tm metav1.TypeMeta
	if err := sigsjson.UnmarshalCaseSensitivePreserveInts(js, &tm); err != nil {
		return nil, fmt.Errorf("check: apiVersion and kind: %w", err)
	}
	if tm.APIVersion == "" || tm.Kind == "" {
		return nil, fmt.Errorf("check: a document without apiVersion or kind")
	}
	if tm.APIVersion == kedaAPIVersion {
		if tm.Kind != "ScaledObject" {
			return nil, fmt.Errorf("check: %s %s: only ScaledObject is known here", tm.APIVersion, tm.Kind)
		}
		var so ScaledObject
		strict, err := sigsjson.UnmarshalStrict(js, &so)
		if err == nil {
			err = errors.Join(strict...)
		}
		if err != nil {
			return nil, fmt.Errorf("check: ScaledObject: %w", err)
		}
		return &so, nil
	}
	obj, _, err := strictDecoder.Decode(js, nil, nil)
	if err != nil {
		return nil, fmt.Errorf("check: %s %s: %w", tm.APIVersion, tm.Kind, err)
	}
	return obj, nil
}

// decodeFile decodes every document of a manifest file.
func decodeFile(path string) ([]doc, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("check: %w", err)
	}
	return decodeAll(filepath.Base(path), data)
}

func decodeAll(name string, data []byte) ([]doc, error) {
	parts, err := splitDocs(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	var docs []doc
	var errs []error
	for i, p := range parts {
		where := fmt.Sprintf("%s#%d", name, i+1)
		obj, err := decodeStrict(p)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", where, err))
			continue
		}
		docs = append(docs, doc{where: where, obj: obj})
	}
	return docs, errors.Join(errs...)
}

// kustomization is what kustomization.yaml may hold: the fields it uses.
// A field added there must be added here, where the tests can check it.
type kustomization struct {
	APIVersion string   `json:"apiVersion"`
	Kind       string   `json:"kind"`
	Namespace  string   `json:"namespace"`
	Resources  []string `json:"resources"`
}

// deployment is deploy/k8s decoded: what kubectl apply -k creates, and the
// files kept beside it (the Secret's example, the one-off Job).
type deployment struct {
	kust    kustomization
	applied []doc // the kustomization's resources
	extra   []doc // the other files
}

// load decodes deploy/k8s, failing the test on any document that does not
// decode strictly.
func load(t *testing.T) *deployment {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	d := &deployment{}
	js, err := yaml.YAMLToJSONStrict(data)
	if err != nil {
		t.Fatalf("kustomization.yaml: %v", err)
	}
	if strict, err := sigsjson.UnmarshalStrict(js, &d.kust); err != nil || len(strict) > 0 {
		t.Fatalf("kustomization.yaml: %v %v", err, strict)
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		base := filepath.Base(f)
		if base == "kustomization.yaml" {
			continue
		}
		docs, err := decodeFile(f)
		if err != nil {
			t.Error(err)
		}
		if slices.Contains(d.kust.Resources, base) {
			d.applied = append(d.applied, docs...)
		} else {
			d.extra = append(d.extra, docs...)
		}
	}
	if t.Failed() {
		t.FailNow()
	}
	return d
}

// all is every decoded document.
func (d *deployment) all() []doc { return slices.Concat(d.applied, d.extra) }

// objects returns the documents of type T among docs.
func objects[T any](docs []doc) []T {
	var out []T
	for _, d := range docs {
		if o, ok := d.obj.(T); ok {
			out = append(out, o)
		}
	}
	return out
}

// find returns the object of type T named name, or nil.
func find[T interface {
	comparable
	GetName() string
}](docs []doc, name string) T {
	var zero T
	for _, o := range objects[T](docs) {
		if o.GetName() == name {
			return o
		}
	}
	return zero
}

// podTemplate is a workload's pod template with where it comes from.
type podTemplate struct {
	owner string // kind and name
	ns    string
	spec  *corev1.PodTemplateSpec
}

// podTemplates returns the pod templates of the workloads among docs, in
// the namespace ns unless they name their own.
func podTemplates(docs []doc, ns string) []podTemplate {
	var out []podTemplate
	pick := func(m metav1.ObjectMeta) string {
		if m.Namespace != "" {
			return m.Namespace
		}
		return ns
	}
	for _, d := range docs {
		switch o := d.obj.(type) {
		case *appsv1.StatefulSet:
			out = append(out, podTemplate{"StatefulSet " + o.Name, pick(o.ObjectMeta), &o.Spec.Template})
		case *appsv1.Deployment:
			out = append(out, podTemplate{"Deployment " + o.Name, pick(o.ObjectMeta), &o.Spec.Template})
		case *batchv1.Job:
			out = append(out, podTemplate{"Job " + o.Name, pick(o.ObjectMeta), &o.Spec.Template})
		}
	}
	return out
}

// flagValue returns the value of --name in args (--name=v or --name v).
func flagValue(args []string, name string) (string, bool) {
	for i, a := range args {
		f := strings.TrimLeft(a, "-")
		if len(f) == len(a) {
			continue
		}
		if k, v, ok := strings.Cut(f, "="); ok && k == name {
			return v, true
		}
		if f == name && i+1 < len(args) {
			return args[i+1], true
		}
	}
	return "", false
}

// envValue returns the literal value of the environment variable name.
func envValue(c *corev1.Container, name string) (string, bool) {
	for _, e := range c.Env {
		if e.Name == name && e.ValueFrom == nil {
			return e.Value, true
		}
	}
	return "", false
}
