#!/usr/bin/env bash
# Regenerates libs/protocol/src/gen from proto/ with the pinned ts-proto and its options.
# Usage: scripts/gen-proto.sh [OUT_DIR]   (default: libs/protocol/src/gen)
# Needs protoc 3.21 (Debian package protobuf-compiler).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-"$root/libs/protocol/src/gen"}
command -v protoc >/dev/null || { echo "gen-proto: protoc not found; install the Debian package protobuf-compiler" >&2; exit 2; }
rm -rf "$out"; mkdir -p "$out"
protoc \
  --plugin="protoc-gen-ts_proto=$root/node_modules/.bin/protoc-gen-ts_proto" \
  --ts_proto_out="$out" \
  --ts_proto_opt=outputServices=grpc-js,env=node,esModuleInterop=true,forceLong=number,oneof=unions-value,useOptionals=none,exportCommonSymbols=false \
  -I "$root/proto" \
  $(cd "$root/proto" && find . -name '*.proto' | sort | sed 's|^\./||')
