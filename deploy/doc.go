// Package deploy holds gahpo's deployment files (image, compose, Kubernetes,
// NATS users, systemd units) and the tests that keep them working: the
// manifests use only commands, flags, ports and variables the binary knows,
// and on a machine with Docker the image runs whole searches through faults.
package deploy
