package check

import (
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const kedaAPIVersion = "keda.sh/v1alpha1"

// ScaledObject is KEDA's keda.sh/v1alpha1 ScaledObject as its CRD defines
// it (kedacore/keda apis/keda/v1alpha1/scaledobject_types.go and
// scaletriggers_types.go, KEDA 2.x): the manifest is decoded into it with
// unknown fields refused. Status is left out: a manifest never sets it.
type ScaledObject struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              ScaledObjectSpec `json:"spec"`
}

// ScaledObjectSpec is KEDA's ScaledObjectSpec.
type ScaledObjectSpec struct {
	ScaleTargetRef        *ScaleTarget    `json:"scaleTargetRef"`
	PollingInterval       *int32          `json:"pollingInterval,omitempty"`
	InitialCooldownPeriod *int32          `json:"initialCooldownPeriod,omitempty"`
	CooldownPeriod        *int32          `json:"cooldownPeriod,omitempty"`
	IdleReplicaCount      *int32          `json:"idleReplicaCount,omitempty"`
	MinReplicaCount       *int32          `json:"minReplicaCount,omitempty"`
	MaxReplicaCount       *int32          `json:"maxReplicaCount,omitempty"`
	Advanced              *AdvancedConfig `json:"advanced,omitempty"`
	Triggers              []ScaleTriggers `json:"triggers"`
	Fallback              *Fallback       `json:"fallback,omitempty"`
}

// ScaleTarget is KEDA's ScaleTarget.
type ScaleTarget struct {
	Name                   string `json:"name"`
	APIVersion             string `json:"apiVersion,omitempty"`
	Kind                   string `json:"kind,omitempty"`
	EnvSourceContainerName string `json:"envSourceContainerName,omitempty"`
}

// AdvancedConfig is KEDA's AdvancedConfig.
type AdvancedConfig struct {
	HorizontalPodAutoscalerConfig *HorizontalPodAutoscalerConfig `json:"horizontalPodAutoscalerConfig,omitempty"`
	RestoreToOriginalReplicaCount bool                           `json:"restoreToOriginalReplicaCount,omitempty"`
	ScalingModifiers              *ScalingModifiers              `json:"scalingModifiers,omitempty"`
}

// HorizontalPodAutoscalerConfig is KEDA's HorizontalPodAutoscalerConfig.
type HorizontalPodAutoscalerConfig struct {
	Behavior *autoscalingv2.HorizontalPodAutoscalerBehavior `json:"behavior,omitempty"`
	Name     string                                         `json:"name,omitempty"`
}

// ScalingModifiers is KEDA's ScalingModifiers.
type ScalingModifiers struct {
	Formula          string                         `json:"formula,omitempty"`
	Target           string                         `json:"target,omitempty"`
	ActivationTarget string                         `json:"activationTarget,omitempty"`
	MetricType       autoscalingv2.MetricTargetType `json:"metricType,omitempty"`
}

// Fallback is KEDA's Fallback.
type Fallback struct {
	FailureThreshold int32  `json:"failureThreshold"`
	Replicas         int32  `json:"replicas"`
	Behavior         string `json:"behavior,omitempty"`
}

// ScaleTriggers is KEDA's ScaleTriggers.
type ScaleTriggers struct {
	Type              string                         `json:"type"`
	Name              string                         `json:"name,omitempty"`
	UseCachedMetrics  bool                           `json:"useCachedMetrics,omitempty"`
	Metadata          map[string]string              `json:"metadata"`
	AuthenticationRef *AuthenticationRef             `json:"authenticationRef,omitempty"`
	MetricType        autoscalingv2.MetricTargetType `json:"metricType,omitempty"`
}

// AuthenticationRef is KEDA's AuthenticationRef.
type AuthenticationRef struct {
	Name string `json:"name"`
	Kind string `json:"kind,omitempty"`
}

// natsJetStreamParams are the nats-jetstream scaler's metadata keys and how
// each value is parsed (KEDA pkg/scalers/nats_jetstream_scaler.go; the
// docs' "NATS JetStream" scaler page): a key not listed is ignored by KEDA,
// so a misspelt optional key would silently do nothing.
var natsJetStreamParams = map[string]string{
	"natsServerMonitoringEndpoint": "host:port",
	"account":                      "string",
	"accountID":                    "string",
	"stream":                       "string",
	"consumer":                     "string",
	"lagThreshold":                 "int",
	"activationLagThreshold":       "int",
	"useHttps":                     "bool",
}

// TestScaledObject checks the KEDA ScaledObject beyond its schema: the
// target is the workers' Deployment, which sets no replicas of its own;
// the trigger's keys are the scaler's and parse; the monitoring endpoint
// is a Service of the deployment, in its namespace, on a port it serves,
// and the headless one of the NATS servers.
func TestScaledObject(t *testing.T) { checkScaledObject(t, load(t)) }

func checkScaledObject(t *testing.T, d *deployment) {
	sos := objects[*ScaledObject](d.applied)
	if len(sos) != 1 {
		t.Fatalf("%d ScaledObjects, want 1", len(sos))
	}
	so := sos[0]
	ref := so.Spec.ScaleTargetRef
	if ref == nil {
		t.Fatal("ScaledObject: no scaleTargetRef")
	}
	if (ref.Kind != "" && ref.Kind != "Deployment") || (ref.APIVersion != "" && ref.APIVersion != "apps/v1") {
		t.Errorf("ScaledObject: target %s %s, want a Deployment", ref.APIVersion, ref.Kind)
	}
	dep := find[*appsv1.Deployment](d.applied, ref.Name)
	if dep == nil {
		t.Fatalf("ScaledObject: target Deployment %q is not in the kustomization", ref.Name)
	}
	if dep.Spec.Replicas != nil {
		t.Errorf("Deployment %s sets replicas %d: each kubectl apply would reset what KEDA scaled", dep.Name, *dep.Spec.Replicas)
	}
	lo, hi := int32(0), int32(100) // KEDA's defaults
	if p := so.Spec.MinReplicaCount; p != nil {
		lo = *p
	}
	if p := so.Spec.MaxReplicaCount; p != nil {
		hi = *p
	}
	if lo < 0 || hi < 1 || lo > hi {
		t.Errorf("ScaledObject: replicas %d..%d", lo, hi)
	}
	if len(so.Spec.Triggers) == 0 {
		t.Fatal("ScaledObject: no trigger")
	}
	for i, tr := range so.Spec.Triggers {
		where := fmt.Sprintf("ScaledObject trigger %d", i)
		if tr.Type != "nats-jetstream" {
			t.Errorf("%s: type %q, want nats-jetstream", where, tr.Type)
			continue
		}
		for k, v := range tr.Metadata {
			kind, ok := natsJetStreamParams[k]
			if !ok {
				t.Errorf("%s: metadata key %q is not a parameter of the nats-jetstream scaler", where, k)
				continue
			}
			var err error
			switch kind {
			case "int":
				_, err = strconv.ParseInt(v, 10, 64)
			case "bool":
				_, err = strconv.ParseBool(v)
			case "host:port":
				_, _, err = net.SplitHostPort(v)
			}
			if err != nil {
				t.Errorf("%s: %s %q: %v", where, k, v, err)
			}
		}
		for _, k := range []string{"natsServerMonitoringEndpoint", "stream", "consumer"} {
			if tr.Metadata[k] == "" {
				t.Errorf("%s: no %s", where, k)
			}
		}
		if tr.Metadata["account"] == "" && tr.Metadata["accountID"] == "" {
			t.Errorf("%s: no account (gahpo's users are in the global account $G)", where)
		}
		host, port, _ := net.SplitHostPort(tr.Metadata["natsServerMonitoringEndpoint"])
		checkServiceAddress(t, d, where, host, port)
		// In a cluster the scaler asks the endpoint's /varz for the servers,
		// then each server's /jsz for the consumer's leader: at the
		// servers' advertised client addresses, or, where they advertise
		// none (the NATS Helm chart's default, no_advertise), at
		// <server name>.<endpoint host>, which resolves only under the
		// headless Service of the servers' StatefulSet.
		svc := find[*corev1.Service](d.applied, strings.Split(host, ".")[0])
		for _, sts := range objects[*appsv1.StatefulSet](d.applied) {
			if sts.Spec.Template.Labels["gahpo.dev/role"] != "nats" {
				continue
			}
			if svc == nil || svc.Name != sts.Spec.ServiceName || svc.Spec.ClusterIP != corev1.ClusterIPNone {
				t.Errorf("%s: endpoint %s is not the NATS servers' headless Service %s: KEDA could not reach each server's monitoring port", where, host, sts.Spec.ServiceName)
			}
		}
	}
}

// checkServiceAddress checks that host:port reaches a Service of the
// deployment: host is NAME, NAME.NS, NAME.NS.svc or NAME.NS.svc.cluster.local
// with NS the kustomization's namespace, and the Service has port.
func checkServiceAddress(t *testing.T, d *deployment, where, host, port string) {
	t.Helper()
	labels := strings.Split(strings.TrimSuffix(host, ".cluster.local"), ".")
	if len(labels) > 1 && labels[1] != d.kust.Namespace {
		t.Errorf("%s: %s is in namespace %s, not the kustomization's %s", where, host, labels[1], d.kust.Namespace)
	}
	if len(labels) > 3 || (len(labels) == 3 && labels[2] != "svc") {
		t.Errorf("%s: %s is not a Service's name", where, host)
	}
	svc := find[*corev1.Service](d.applied, labels[0])
	if svc == nil {
		t.Errorf("%s: no Service %s in the kustomization", where, labels[0])
		return
	}
	if !slices.ContainsFunc(svc.Spec.Ports, func(p corev1.ServicePort) bool { return strconv.Itoa(int(p.Port)) == port }) {
		t.Errorf("%s: Service %s has no port %s", where, svc.Name, port)
	}
}
