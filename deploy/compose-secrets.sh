#!/usr/bin/env bash
# Makes the NATS passwords of compose.yaml (deploy/secrets/*.password),
# random, once; existing ones are kept: one per user of nats/auth.conf, and
# route.password, which the servers of a cluster share for their routes.
set -euo pipefail
dir="$(dirname "$0")/secrets"
mkdir -p "$dir"
chmod 700 "$dir"
for name in coordinator worker query route; do
  f="$dir/$name.password"
  if [ ! -s "$f" ]; then
    head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$f"
    # Readable by the containers' user (uid 10001) through the bind mount;
    # the directory keeps others on this host out.
    chmod 644 "$f"
  fi
done
echo "passwords in $dir"
