#!/usr/bin/env bash
# The main job on a fresh machine: set up, start the embedded farm (nats-server,
# coordinator, one local agent), sweep a real pretrained model and print the report.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
"$root/scripts/setup.sh"
exec "$root/bin/benchfarm" demo "$@"
