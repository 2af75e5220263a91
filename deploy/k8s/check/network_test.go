package check

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// TestServicesSelectPods checks every Service: its selector picks the pods
// of a workload in its namespace, each target port is a port of those
// pods, and the Service a StatefulSet names (its serviceName, which must
// exist before it) is headless and selects its pods.
func TestServicesSelectPods(t *testing.T) { checkServicesSelectPods(t, load(t)) }

func checkServicesSelectPods(t *testing.T, d *deployment) {
	tpls := podTemplates(d.applied, d.kust.Namespace)
	svcs := objects[*corev1.Service](d.applied)
	if len(svcs) == 0 {
		t.Fatal("no Service")
	}
	for _, svc := range svcs {
		if len(svc.Spec.Selector) == 0 {
			t.Errorf("Service %s: no selector", svc.Name)
			continue
		}
		sel := labels.SelectorFromSet(svc.Spec.Selector)
		var picked []podTemplate
		for _, tpl := range tpls {
			if tpl.ns == d.kust.Namespace && sel.Matches(labels.Set(tpl.spec.Labels)) {
				picked = append(picked, tpl)
			}
		}
		if len(picked) == 0 {
			t.Errorf("Service %s: selector %v picks no pod", svc.Name, svc.Spec.Selector)
			continue
		}
		for _, p := range svc.Spec.Ports {
			for _, tpl := range picked {
				tp := p.TargetPort
				if tp == (intstr.IntOrString{}) {
					tp = intstr.FromInt32(p.Port)
				}
				if _, ok := containerPort(&tpl.spec.Spec, tp, protocol(p.Protocol)); !ok {
					t.Errorf("Service %s port %s: target %s is no %s port of %s", svc.Name, p.Name, tp.String(), protocol(p.Protocol), tpl.owner)
				}
			}
		}
	}
	for _, tpl := range tpls {
		if !strings.HasPrefix(tpl.owner, "StatefulSet ") {
			continue
		}
		name := strings.TrimPrefix(tpl.owner, "StatefulSet ")
		sts := find[*appsv1.StatefulSet](d.applied, name).Spec.ServiceName
		svc := find[*corev1.Service](d.applied, sts)
		switch {
		case sts == "":
		case svc == nil:
			t.Errorf("StatefulSet %s: serviceName %s names no Service in the kustomization", name, sts)
		case svc.Spec.ClusterIP != corev1.ClusterIPNone:
			t.Errorf("StatefulSet %s: Service %s is not headless", name, sts)
		case !labels.SelectorFromSet(svc.Spec.Selector).Matches(labels.Set(tpl.spec.Labels)):
			t.Errorf("StatefulSet %s: Service %s does not select its pods", name, sts)
		}
	}
}

// protocol is p, or TCP when unset (the API's default).
func protocol(p corev1.Protocol) corev1.Protocol {
	if p == "" {
		return corev1.ProtocolTCP
	}
	return p
}

// containerPort finds the port (by name or number) among a pod's
// containers' ports.
func containerPort(spec *corev1.PodSpec, port intstr.IntOrString, proto corev1.Protocol) (corev1.ContainerPort, bool) {
	for _, c := range spec.Containers {
		for _, p := range c.Ports {
			if protocol(p.Protocol) != proto {
				continue
			}
			if (port.Type == intstr.String && p.Name == port.StrVal) || (port.Type == intstr.Int && p.ContainerPort == port.IntVal) {
				return p, true
			}
		}
	}
	return corev1.ContainerPort{}, false
}

// A pod of the network model: the manifests' pods and some from outside.
type netPod struct {
	name   string
	ns     string
	labels map[string]string
	ports  []corev1.ContainerPort
	ours   bool // one of the manifests' pods
}

// otherPort is a port no policy names: a pod of ours that accepts nothing
// must not accept it either.
var otherPort = corev1.ContainerPort{Name: "other", ContainerPort: 9999, Protocol: corev1.ProtocolTCP}

// outsidePods are pods a cluster has besides gahpo's: KEDA's operator (in
// the namespace keda, where its chart installs it), the cluster DNS, a pod
// of another application in gahpo's namespace and one in another.
func outsidePods(ns string) []netPod {
	web := []corev1.ContainerPort{{Name: "http", ContainerPort: 8080, Protocol: corev1.ProtocolTCP}}
	return []netPod{
		{name: "keda-operator", ns: "keda", labels: map[string]string{"app": "keda-operator"}, ports: web},
		{name: "kube-dns", ns: "kube-system", labels: map[string]string{"k8s-app": "kube-dns"},
			ports: []corev1.ContainerPort{{Name: "dns", ContainerPort: 53, Protocol: corev1.ProtocolUDP}, {Name: "dns-tcp", ContainerPort: 53, Protocol: corev1.ProtocolTCP}}},
		{name: "neighbour", ns: ns, labels: map[string]string{"app": "neighbour"}, ports: web},
		{name: "stranger", ns: "default", labels: map[string]string{"app": "stranger"}, ports: web},
	}
}

// netPods returns the pods of the model: one per pod template, named by
// its workload, and the outside ones.
func netPods(d *deployment) []netPod {
	var pods []netPod
	for _, tpl := range podTemplates(d.all(), d.kust.Namespace) {
		p := netPod{name: strings.Fields(tpl.owner)[1], ns: tpl.ns, labels: tpl.spec.Labels, ours: true}
		for _, c := range tpl.spec.Spec.Containers {
			p.ports = append(p.ports, c.Ports...)
		}
		p.ports = append(p.ports, otherPort)
		pods = append(pods, p)
	}
	return append(pods, outsidePods(d.kust.Namespace)...)
}

// policyTypes returns the directions a policy isolates (the API's default:
// Ingress, and Egress when it has egress rules).
func policyTypes(np *networkingv1.NetworkPolicy) []networkingv1.PolicyType {
	if len(np.Spec.PolicyTypes) > 0 {
		return np.Spec.PolicyTypes
	}
	types := []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}
	if len(np.Spec.Egress) > 0 {
		types = append(types, networkingv1.PolicyTypeEgress)
	}
	return types
}

func matches(sel *metav1.LabelSelector, l map[string]string) bool {
	s, err := metav1.LabelSelectorAsSelector(sel)
	return err == nil && s.Matches(labels.Set(l))
}

// peerMatches reports whether a policy's peer (in the policy's namespace
// ns) is the pod p. Every namespace carries the label
// kubernetes.io/metadata.name.
func peerMatches(peer networkingv1.NetworkPolicyPeer, ns string, p netPod) (bool, error) {
	if peer.IPBlock != nil {
		return false, fmt.Errorf("an ipBlock peer: not modelled")
	}
	if peer.NamespaceSelector != nil {
		if !matches(peer.NamespaceSelector, map[string]string{"kubernetes.io/metadata.name": p.ns}) {
			return false, nil
		}
	} else if p.ns != ns {
		return false, nil
	}
	return peer.PodSelector == nil || matches(peer.PodSelector, p.labels), nil
}

// portMatches reports whether a rule's port admits port of the pod dst.
func portMatches(rp networkingv1.NetworkPolicyPort, port corev1.ContainerPort) bool {
	if protocol(ptrOr(rp.Protocol, "")) != protocol(port.Protocol) {
		return false
	}
	switch {
	case rp.Port == nil:
		return true
	case rp.Port.Type == intstr.String:
		return rp.Port.StrVal == port.Name
	case rp.EndPort != nil:
		return port.ContainerPort >= rp.Port.IntVal && port.ContainerPort <= *rp.EndPort
	}
	return rp.Port.IntVal == port.ContainerPort
}

func ptrOr[T any](p *T, v T) T {
	if p == nil {
		return v
	}
	return *p
}

// allowed reports whether the policies let src open port of dst: the
// egress of src's policies and the ingress of dst's, each open when no
// policy of that direction selects the pod.
func allowed(nps []*networkingv1.NetworkPolicy, src, dst netPod, port corev1.ContainerPort) (bool, error) {
	ruleAllows := func(peers []networkingv1.NetworkPolicyPeer, ports []networkingv1.NetworkPolicyPort, ns string, peer netPod) (bool, error) {
		ok := len(peers) == 0
		for _, p := range peers {
			m, err := peerMatches(p, ns, peer)
			if err != nil {
				return false, err
			}
			ok = ok || m
		}
		return ok && (len(ports) == 0 || slices.ContainsFunc(ports, func(rp networkingv1.NetworkPolicyPort) bool { return portMatches(rp, port) })), nil
	}
	direction := func(self, peer netPod, dir networkingv1.PolicyType) (bool, error) {
		isolated, ok := false, false
		for _, np := range nps {
			if np.Namespace != self.ns || !slices.Contains(policyTypes(np), dir) || !matches(&np.Spec.PodSelector, self.labels) {
				continue
			}
			isolated = true
			if dir == networkingv1.PolicyTypeIngress {
				for _, r := range np.Spec.Ingress {
					a, err := ruleAllows(r.From, r.Ports, np.Namespace, peer)
					if err != nil {
						return false, fmt.Errorf("NetworkPolicy %s: %w", np.Name, err)
					}
					ok = ok || a
				}
			} else {
				for _, r := range np.Spec.Egress {
					a, err := ruleAllows(r.To, r.Ports, np.Namespace, peer)
					if err != nil {
						return false, fmt.Errorf("NetworkPolicy %s: %w", np.Name, err)
					}
					ok = ok || a
				}
			}
		}
		return !isolated || ok, nil
	}
	out, err := direction(src, dst, networkingv1.PolicyTypeEgress)
	if err != nil || !out {
		return false, err
	}
	return direction(dst, src, networkingv1.PolicyTypeIngress)
}

// TestNetworkPoliciesAllowWhatTheREADMESays evaluates the NetworkPolicies
// over the manifests' pods and some outside ones, and compares every
// connection they allow from or to gahpo's pods with deploy/README.md's
// list: NATS's client port only from gahpo's pods, the routes only between
// NATS servers, the monitoring port only from KEDA and the NATS servers;
// the coordinator and the workers accept nothing and reach only NATS's
// client port and DNS.
func TestNetworkPoliciesAllowWhatTheREADMESays(t *testing.T) {
	checkNetworkPoliciesAllowWhatTheREADMESays(t, load(t))
}

func checkNetworkPoliciesAllowWhatTheREADMESays(t *testing.T, d *deployment) {
	nps := objects[*networkingv1.NetworkPolicy](d.applied)
	if len(nps) == 0 {
		t.Fatal("no NetworkPolicy")
	}
	for _, np := range nps {
		if np.Namespace == "" {
			np.Namespace = d.kust.Namespace
		}
	}
	pods := netPods(d)
	role := func(p netPod) string { return p.labels["gahpo.dev/role"] }
	var want, got []string
	for _, src := range pods {
		for _, dst := range pods {
			if !src.ours && !dst.ours {
				continue
			}
			for _, port := range dst.ports {
				conn := fmt.Sprintf("%s -> %s:%d/%s", src.name, dst.name, port.ContainerPort, protocol(port.Protocol))
				ok, err := allowed(nps, src, dst, port)
				if err != nil {
					t.Fatal(err)
				}
				if ok {
					got = append(got, conn)
				}
				if readmeAllows(src, dst, port, role) {
					want = append(want, conn)
				}
			}
		}
	}
	for _, c := range want {
		if !slices.Contains(got, c) {
			t.Errorf("refused, but deploy/README.md allows it: %s", c)
		}
	}
	for _, c := range got {
		if !slices.Contains(want, c) {
			t.Errorf("allowed, but deploy/README.md does not allow it: %s", c)
		}
	}
	if len(want) < 5 {
		t.Errorf("only %d connections are meant to be allowed: %v", len(want), want)
	}
}

// readmeAllows is deploy/README.md's NetworkPolicy paragraph as a rule.
func readmeAllows(src, dst netPod, port corev1.ContainerPort, role func(netPod) string) bool {
	switch {
	case role(dst) == "nats":
		switch port.ContainerPort {
		case 4222: // clients
			return src.ours
		case 6222: // routes
			return role(src) == "nats"
		case 8222: // monitoring
			return role(src) == "nats" || src.name == "keda-operator"
		}
		return false
	case role(dst) == "coordinator" || role(dst) == "worker":
		return false // they accept nothing
	case role(src) == "coordinator" || role(src) == "worker":
		return dst.name == "kube-dns" && port.ContainerPort == 53 // and NATS, above
	case src.ours && role(src) == "nats":
		return true // the NATS servers' egress is not restricted
	}
	return false
}

// metaSelector is a Service's selector as a label selector.
func metaSelector(m map[string]string) *metav1.LabelSelector {
	return &metav1.LabelSelector{MatchLabels: m}
}
