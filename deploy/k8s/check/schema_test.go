package check

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// TestStrictDecoderRefuses shows that the decoder the other tests rely on
// refuses what the API server's strict field validation refuses.
func TestStrictDecoderRefuses(t *testing.T) {
	const svc = "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec:\n  selector: {a: b}\n"
	for _, tc := range []struct {
		name, doc, want string
	}{
		{"unknown field", svc + "  clusterIp: None\n", `unknown field "spec.clusterIp"`},
		{"misplaced field", svc + "  ports:\n    - {port: 80, containerPort: 80}\n", `unknown field "spec.ports[0].containerPort"`},
		{"duplicate key", svc + "  selector: {c: d}\n", `already set in map`},
		{"wrong type", svc + "  ports:\n    - {port: eighty}\n", `cannot unmarshal`},
		{"unknown kind", "apiVersion: v1\nkind: Servise\nmetadata: {name: s}\n", `no kind "Servise"`},
		{"no kind", "metadata: {name: s}\n", `without apiVersion or kind`},
		{"ScaledObject unknown field", "apiVersion: keda.sh/v1alpha1\nkind: ScaledObject\nmetadata: {name: s}\nspec:\n  scaleTargetRef: {name: w}\n  maxReplicas: 3\n  triggers: []\n", `unknown field "spec.maxReplicas"`},
		{"ScaledObject miscased field", "apiVersion: keda.sh/v1alpha1\nkind: ScaledObject\nmetadata: {name: s}\nspec:\n  scaleTargetRef: {name: w}\n  MinReplicaCount: 0\n  triggers: []\n", `unknown field "spec.MinReplicaCount"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := decodeStrict([]byte(tc.doc))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("decode: %v, want an error with %q", err, tc.want)
			}
		})
	}
	if _, err := decodeStrict([]byte(svc)); err != nil {
		t.Errorf("a valid Service: %v", err)
	}
}

// TestManifestsDecodeStrictly decodes every document of deploy/k8s into its
// API type (load fails on any that does not), and checks the
// kustomization's list against the files.
func TestManifestsDecodeStrictly(t *testing.T) {
	d := load(t)
	k := d.kust
	if k.APIVersion != "kustomize.config.k8s.io/v1beta1" || k.Kind != "Kustomization" {
		t.Errorf("kustomization.yaml: %s %s", k.APIVersion, k.Kind)
	}
	if k.Namespace == "" {
		t.Error("kustomization.yaml: no namespace")
	}
	for _, r := range k.Resources {
		if _, err := os.Stat(filepath.Join(dir, r)); err != nil {
			t.Errorf("kustomization.yaml: resource %s: %v", r, err)
		}
	}
	kinds := map[string]int{}
	for _, doc := range d.applied {
		kinds[strings.Fields(doc.name())[0]]++
	}
	for _, kind := range []string{"Namespace", "ConfigMap", "Service", "StatefulSet", "Deployment", "ScaledObject", "NetworkPolicy"} {
		if kinds[kind] == 0 {
			t.Errorf("the kustomization creates no %s", kind)
		}
	}
	// The files kept out of the kustomization are the Secret's example (the
	// Secret is made from files) and one-off objects.
	for _, doc := range d.extra {
		if _, ok := doc.obj.(*corev1.Namespace); ok {
			t.Errorf("%s: a Namespace outside the kustomization", doc.where)
		}
	}
	names := map[string]string{}
	for _, doc := range d.all() {
		if prev, ok := names[doc.name()]; ok {
			t.Errorf("%s: %s already defined in %s", doc.where, doc.name(), prev)
		}
		names[doc.name()] = doc.where
	}
}

// TestAPIRules checks what the API server's validation would refuse and a
// decoder does not see, for the fields these manifests use.
func TestAPIRules(t *testing.T) {
	d := load(t)
	for _, dc := range d.all() {
		var errs field.ErrorList
		if o, ok := dc.obj.(metav1.Object); ok {
			nameFn := apivalidation.NameIsDNSSubdomain
			switch dc.obj.(type) {
			case *corev1.Service, *corev1.Namespace:
				nameFn = apivalidation.NameIsDNS1035Label
			case *appsv1.StatefulSet, *appsv1.Deployment:
				nameFn = apivalidation.NameIsDNSLabel // pods' host names
			}
			_, namespaced := dc.obj.(*corev1.Namespace)
			meta := metav1.ObjectMeta{Name: o.GetName(), Namespace: o.GetNamespace(), Labels: o.GetLabels(), Annotations: o.GetAnnotations()}
			if meta.Namespace == "" && !namespaced {
				meta.Namespace = d.kust.Namespace
			}
			errs = append(errs, apivalidation.ValidateObjectMeta(&meta, !namespaced, nameFn, field.NewPath("metadata"))...)
		}
		switch o := dc.obj.(type) {
		case *appsv1.StatefulSet:
			errs = append(errs, workloadRules(o.Spec.Selector, &o.Spec.Template, field.NewPath("spec"))...)
			for i, pvc := range o.Spec.VolumeClaimTemplates {
				p := field.NewPath("spec", "volumeClaimTemplates").Index(i)
				for _, msg := range validation.IsDNS1123Label(pvc.Name) {
					errs = append(errs, field.Invalid(p.Child("metadata", "name"), pvc.Name, msg))
				}
				if len(pvc.Spec.AccessModes) == 0 {
					errs = append(errs, field.Required(p.Child("spec", "accessModes"), ""))
				}
				if _, ok := pvc.Spec.Resources.Requests[corev1.ResourceStorage]; !ok {
					errs = append(errs, field.Required(p.Child("spec", "resources", "requests", "storage"), ""))
				}
			}
		case *appsv1.Deployment:
			errs = append(errs, workloadRules(o.Spec.Selector, &o.Spec.Template, field.NewPath("spec"))...)
		case *networkingv1.NetworkPolicy:
			p := field.NewPath("spec")
			errs = append(errs, selectorRules(&o.Spec.PodSelector, p.Child("podSelector"))...)
			for i, r := range o.Spec.Ingress {
				errs = append(errs, peerRules(r.From, p.Child("ingress").Index(i).Child("from"))...)
			}
			for i, r := range o.Spec.Egress {
				errs = append(errs, peerRules(r.To, p.Child("egress").Index(i).Child("to"))...)
			}
		case *corev1.Service:
			p := field.NewPath("spec", "ports")
			for i, port := range o.Spec.Ports {
				if len(o.Spec.Ports) > 1 && port.Name == "" {
					errs = append(errs, field.Required(p.Index(i).Child("name"), "with more than one port"))
				}
				errs = append(errs, portName(port.Name, p.Index(i).Child("name"))...)
			}
			errs = append(errs, metav1validation.ValidateLabels(o.Spec.Selector, field.NewPath("spec", "selector"))...)
		case *corev1.ConfigMap:
			for k := range o.Data {
				for _, msg := range validation.IsConfigMapKey(k) {
					errs = append(errs, field.Invalid(field.NewPath("data"), k, msg))
				}
			}
		case *corev1.Secret:
			for k := range o.StringData {
				for _, msg := range validation.IsConfigMapKey(k) {
					errs = append(errs, field.Invalid(field.NewPath("stringData"), k, msg))
				}
			}
		}
		for _, tpl := range podTemplates([]doc{dc}, d.kust.Namespace) {
			var claims []string
			if s, ok := dc.obj.(*appsv1.StatefulSet); ok {
				for _, c := range s.Spec.VolumeClaimTemplates {
					claims = append(claims, c.Name)
				}
			}
			errs = append(errs, podRules(&tpl.spec.Spec, claims, field.NewPath("spec", "template", "spec"))...)
		}
		for _, e := range errs {
			t.Errorf("%s %s: %v", dc.where, dc.name(), e)
		}
	}
}

func selectorRules(s *metav1.LabelSelector, p *field.Path) field.ErrorList {
	return metav1validation.ValidateLabelSelector(s, metav1validation.LabelSelectorValidationOptions{}, p)
}

func peerRules(peers []networkingv1.NetworkPolicyPeer, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i, peer := range peers {
		if peer.PodSelector == nil && peer.NamespaceSelector == nil && peer.IPBlock == nil {
			errs = append(errs, field.Required(p.Index(i), "a podSelector, namespaceSelector or ipBlock"))
		}
		if peer.PodSelector != nil {
			errs = append(errs, selectorRules(peer.PodSelector, p.Index(i).Child("podSelector"))...)
		}
		if peer.NamespaceSelector != nil {
			errs = append(errs, selectorRules(peer.NamespaceSelector, p.Index(i).Child("namespaceSelector"))...)
		}
	}
	return errs
}

// workloadRules: a selector that is valid, not empty, and matches the pod
// template's labels (the API server refuses a StatefulSet or a Deployment
// otherwise).
func workloadRules(sel *metav1.LabelSelector, tpl *corev1.PodTemplateSpec, p *field.Path) field.ErrorList {
	if sel == nil || (len(sel.MatchLabels) == 0 && len(sel.MatchExpressions) == 0) {
		return field.ErrorList{field.Required(p.Child("selector"), "")}
	}
	errs := selectorRules(sel, p.Child("selector"))
	errs = append(errs, metav1validation.ValidateLabels(tpl.Labels, p.Child("template", "metadata", "labels"))...)
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		return append(errs, field.Invalid(p.Child("selector"), sel, err.Error()))
	}
	if !s.Matches(labels.Set(tpl.Labels)) {
		errs = append(errs, field.Invalid(p.Child("template", "metadata", "labels"), tpl.Labels, "`selector` does not match template `labels`"))
	}
	return errs
}

func portName(name string, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if name == "" {
		return nil
	}
	for _, msg := range validation.IsValidPortName(name) {
		errs = append(errs, field.Invalid(p, name, msg))
	}
	return errs
}

// podRules checks a pod spec's names and references; claims are the
// volumes a StatefulSet's volumeClaimTemplates add.
func podRules(spec *corev1.PodSpec, claims []string, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	volumes := map[string]bool{}
	for _, c := range claims {
		volumes[c] = true
	}
	for i, v := range spec.Volumes {
		vp := p.Child("volumes").Index(i)
		for _, msg := range validation.IsDNS1123Label(v.Name) {
			errs = append(errs, field.Invalid(vp.Child("name"), v.Name, msg))
		}
		if volumes[v.Name] {
			errs = append(errs, field.Duplicate(vp.Child("name"), v.Name))
		}
		volumes[v.Name] = true
		var items []corev1.KeyToPath
		switch {
		case v.Secret != nil:
			items = v.Secret.Items
		case v.ConfigMap != nil:
			items = v.ConfigMap.Items
		}
		for j, it := range items {
			for _, msg := range validation.IsConfigMapKey(it.Key) {
				errs = append(errs, field.Invalid(vp.Child("items").Index(j).Child("key"), it.Key, msg))
			}
			if it.Path == "" || strings.HasPrefix(it.Path, "/") || slices.Contains(strings.Split(it.Path, "/"), "..") {
				errs = append(errs, field.Invalid(vp.Child("items").Index(j).Child("path"), it.Path, "must be a relative path without '..'"))
			}
		}
	}
	containers := map[string]bool{}
	for i, c := range slices.Concat(spec.InitContainers, spec.Containers) {
		cp := p.Child("containers").Index(i)
		for _, msg := range validation.IsDNS1123Label(c.Name) {
			errs = append(errs, field.Invalid(cp.Child("name"), c.Name, msg))
		}
		if containers[c.Name] {
			errs = append(errs, field.Duplicate(cp.Child("name"), c.Name))
		}
		containers[c.Name] = true
		if c.Image == "" {
			errs = append(errs, field.Required(cp.Child("image"), ""))
		}
		ports := map[string]bool{}
		for j, port := range c.Ports {
			pp := cp.Child("ports").Index(j)
			errs = append(errs, portName(port.Name, pp.Child("name"))...)
			if port.Name != "" && ports[port.Name] {
				errs = append(errs, field.Duplicate(pp.Child("name"), port.Name))
			}
			ports[port.Name] = true
			for _, msg := range validation.IsValidPortNum(int(port.ContainerPort)) {
				errs = append(errs, field.Invalid(pp.Child("containerPort"), port.ContainerPort, msg))
			}
		}
		for j, e := range c.Env {
			for _, msg := range validation.IsEnvVarName(e.Name) {
				errs = append(errs, field.Invalid(cp.Child("env").Index(j).Child("name"), e.Name, msg))
			}
		}
		paths := map[string]bool{}
		for j, m := range c.VolumeMounts {
			mp := cp.Child("volumeMounts").Index(j)
			if !volumes[m.Name] {
				errs = append(errs, field.NotFound(mp.Child("name"), m.Name))
			}
			if !strings.HasPrefix(m.MountPath, "/") || paths[m.MountPath] {
				errs = append(errs, field.Invalid(mp.Child("mountPath"), m.MountPath, "must be absolute and unique"))
			}
			paths[m.MountPath] = true
		}
	}
	return errs
}
