// Package check holds the tests that keep gahpo's Kubernetes manifests
// (deploy/k8s) correct on a machine without a cluster. It is a module of its
// own so that the Kubernetes API types stay out of gahpo's go.mod; .ci/run
// runs its tests.
//
// # What the tests check
//
//   - Every document decodes strictly (unknown, duplicated or miscased fields
//     refused, as the API server's strict field validation does) into its
//     k8s.io/api type; the KEDA ScaledObject into a copy of KEDA's v1alpha1
//     type; kustomization.yaml into the fields it uses; helm/values.yaml's
//     keys are the official NATS chart's (testdata/nats-chart-values.yaml).
//   - The API server's rules that a decoder does not see, for the fields
//     used here: names, labels and selectors (with apimachinery's validation
//     functions), workload selectors matching their pod templates, volume
//     mounts naming volumes, port names, environment variable names.
//   - The Pod Security Standards' restricted level, with the admission
//     plugin's own checks (k8s.io/pod-security-admission/policy).
//   - What a reviewer looks for: Services select pods and target their
//     ports; the NetworkPolicies allow exactly the connections
//     deploy/README.md lists (an evaluator of NetworkPolicy semantics over
//     the manifests' pods and a few outside ones); every container is
//     hardened, with requests and limits, and writes only to volumes;
//     secrets come from the Secret, as variables or mounted files, never
//     as literals; probes name ports that exist; the NATS servers' routes
//     and replicas agree with the coordinator's --replicas and the Helm
//     values, and a disruption budget keeps their quorum; the images are
//     the one deploy/build-image.sh builds; new-search.yaml runs the
//     coordinator's command with --new on its volume and reaches NATS.
//   - The Helm values' users are nats/auth.conf's (in gahpo's own deploy
//     tests, which have the NATS config parser), and the chart's pod they
//     make is hardened; given the output of helm template
//     (GAHPO_HELM_RENDERED), the deployment's checks run on the chart.
//   - With kubectl on the PATH, `kubectl kustomize` renders the
//     kustomization and the rendered objects pass the same decoding.
//
// The API server's own validation (k8s.io/kubernetes/pkg/apis/.../validation)
// is not importable without the whole kubernetes module, so the rules above
// that it would check are written here, for the fields these manifests use.
package check
