// Package deploy holds gahpo's deployment files (image, compose, Kubernetes,
// NATS users, systemd units) and the tests that keep them working: the
// manifests use only commands, flags, ports and variables the binary knows,
// and on a machine with Docker the image runs whole searches through faults.
// The Kubernetes manifests are also checked against the Kubernetes API's
// types and rules by deploy/k8s/check, a module of its own.
package deploy
