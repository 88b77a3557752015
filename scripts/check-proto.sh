#!/usr/bin/env bash
# Fails when libs/protocol/src/gen differs from what proto/ generates now.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
"$root/scripts/gen-proto.sh" "$tmp/gen"
if ! diff -r "$tmp/gen" "$root/libs/protocol/src/gen" >"$tmp/diff"; then
  echo "check-proto: libs/protocol/src/gen is stale; run: npx nx run protocol:generate" >&2
  head -n 40 "$tmp/diff" >&2
  exit 1
fi
echo "check-proto: generated code is up to date"
