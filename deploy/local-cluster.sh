#!/usr/bin/env bash
# Starts a gahpo cluster of separate processes on this machine: a NATS
# server, a coordinator and N workers, the way they run across machines.
#
#   deploy/local-cluster.sh [WORKERS] [extra coordinator flags...]
#   e.g. deploy/local-cluster.sh 3 --problem regression
#
# Everything lives in a temporary directory printed at start; Ctrl-C stops all.
set -euo pipefail
cd "$(dirname "$0")/.."
workers=${1:-2}
shift || true
dir=$(mktemp -d -t gahpo-cluster.XXXXXX)
go build -o "$dir/gahpo" ./cmd/gahpo
port=$(( 20000 + RANDOM % 20000 ))
url="nats://127.0.0.1:$port"
echo "cluster in $dir, NATS at $url"
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM
"$dir/gahpo" nats --listen "127.0.0.1:$port" --store "$dir/nats" >"$dir/nats.log" 2>&1 &
pids+=($!)
sleep 1
for i in $(seq 1 "$workers"); do
  "$dir/gahpo" worker --nats "$url" --name "w$i" --cache "$dir/cache" >"$dir/worker$i.log" 2>&1 &
  pids+=($!)
done
"$dir/gahpo" coordinator --nats "$url" --db "$dir/gahpo.db" "$@"
"$dir/gahpo" query best --per-generation --db "$dir/gahpo.db"
