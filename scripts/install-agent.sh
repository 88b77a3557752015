#!/usr/bin/env bash
# Installs the benchfarm agent as a systemd service on Debian, Ubuntu, Raspberry Pi OS or
# JetPack (L4T), arm64 or x86-64. Run from a benchfarm checkout, as root (or with sudo):
#
#   scripts/install-agent.sh --nats nats://farm.lab:4222 --grpc farm.lab:50051 \
#       [--labels site=lab1,board=jetson-orin] [--rapl] [--prefix /opt/benchfarm] [--dry-run]
#
#   --rapl     let the agent read RAPL energy counters (root-only since Linux 5.10, because
#              fine-grained energy readings are a side channel): a tmpfiles rule gives the
#              group benchfarm-power read access to intel-rapl energy_uj at every boot.
#   --dry-run  print what would be done, change nothing.
#
# It copies the checkout to the prefix, installs the npm packages (onnxruntime-node's CPU
# binaries ship in the package; its CUDA download is skipped), builds dist/agent/main.mjs,
# writes /etc/benchfarm/agent.env (kept if present), installs the unit and starts it.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
prefix=/opt/benchfarm nats="" grpc="" labels="" rapl=0 dry=0
while [ $# -gt 0 ]; do
  case "$1" in
    --nats) nats=${2:?--nats needs a URL}; shift 2 ;;
    --grpc) grpc=${2:?--grpc needs host:port}; shift 2 ;;
    --labels) labels=${2:?--labels needs k=v,...}; shift 2 ;;
    --prefix) prefix=${2:?--prefix needs a directory}; shift 2 ;;
    --rapl) rapl=1; shift ;;
    --dry-run) dry=1; shift ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
    *) echo "install-agent: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
[[ -z "$nats" || "$nats" =~ ^(nats|tls)://[^[:space:]]+$ ]] || { echo "install-agent: --nats must look like nats://host:4222, got $nats" >&2; exit 2; }
[[ -z "$grpc" || "$grpc" =~ ^[^[:space:]/]+:[0-9]{1,5}$ ]] || { echo "install-agent: --grpc must be host:port, got $grpc" >&2; exit 2; }

run() { if [ "$dry" -eq 1 ]; then echo "would run: $*"; else "$@"; fi; }
write() { # write FILE MODE < content
  local file=$1 mode=$2 content; content=$(cat)
  if [ "$dry" -eq 1 ]; then printf 'would write %s (mode %s):\n%s\n' "$file" "$mode" "$content"; else printf '%s\n' "$content" >"$file"; chmod "$mode" "$file"; fi
}

# What this device is (for the log and for the checks below).
. /etc/os-release 2>/dev/null || true
arch=$(uname -m)
board=$({ tr -d '\0' </proc/device-tree/model; } 2>/dev/null || true)
l4t=$(sed -n 's/^# R\([0-9]*\) (release), REVISION: \([0-9.]*\),.*/\1.\2/p' /etc/nv_tegra_release 2>/dev/null || true)
echo "install-agent: ${PRETTY_NAME:-unknown OS} on $arch${board:+, $board}${l4t:+, L4T $l4t}"
case "$arch" in x86_64|aarch64) ;; *) echo "install-agent: $arch is not supported (x86_64 or aarch64)" >&2; exit 1 ;; esac
case "${ID:-}:${ID_LIKE:-}" in debian:*|ubuntu:*|raspbian:*|*:*debian*) ;; *) echo "install-agent: ${PRETTY_NAME:-this OS} is not Debian-based; continuing, but only Debian, Ubuntu, Raspberry Pi OS and JetPack are tested" >&2 ;; esac
if [ "$dry" -eq 0 ] && [ "$(id -u)" -ne 0 ]; then echo "install-agent: run as root (sudo)" >&2; exit 1; fi
command -v node >/dev/null || { echo "install-agent: Node.js 20 or newer is needed (Debian/Ubuntu ship older ones: use NodeSource or the official tarball)" >&2; exit 1; }
node_major=$(node -p 'process.versions.node.split(".")[0]')
[ "$node_major" -ge 20 ] || { echo "install-agent: Node.js 20 or newer is needed (found $(node -v))" >&2; exit 1; }
command -v systemctl >/dev/null || { echo "install-agent: systemd is needed" >&2; exit 1; }

# Files: the checkout without local state, then packages and the agent bundle.
run mkdir -p "$prefix" /etc/benchfarm
excludes=(--exclude=.git --exclude=node_modules --exclude=.benchfarm --exclude=dist --exclude=.nx --exclude=tmp)
if [ "$dry" -eq 1 ]; then echo "would copy $src to $prefix (${excludes[*]})"
else tar -C "$src" "${excludes[@]}" -cf - . | tar -C "$prefix" -xf -; fi
run env ONNXRUNTIME_NODE_INSTALL=skip npm --prefix "$prefix" ci --no-audit --no-fund
run node "$prefix/scripts/build-agent.mjs"

# Groups the unit names (SupplementaryGroups fails the start when one is missing).
for g in video render benchfarm-power; do
  getent group "$g" >/dev/null || run groupadd --system "$g"
done
if [ "$rapl" -eq 1 ]; then
  write /etc/tmpfiles.d/benchfarm-rapl.conf 0644 <<'CONF'
# benchfarm: RAPL energy counters readable by the agent's group (scripts/install-agent.sh --rapl)
z /sys/class/powercap/intel-rapl:*/energy_uj 0440 root benchfarm-power -
z /sys/class/powercap/intel-rapl:*:*/energy_uj 0440 root benchfarm-power -
CONF
  run systemd-tmpfiles --create /etc/tmpfiles.d/benchfarm-rapl.conf
fi

if [ -f /etc/benchfarm/agent.env ] && [ "$dry" -eq 0 ]; then
  echo "install-agent: keeping /etc/benchfarm/agent.env"
else
  [ -n "$nats" ] && [ -n "$grpc" ] || { echo "install-agent: --nats and --grpc are needed for a first install" >&2; exit 2; }
  write /etc/benchfarm/agent.env 0644 <<ENV
BENCHFARM_NATS_URL=$nats
BENCHFARM_GRPC_ADDRESS=$grpc
BENCHFARM_AGENT_LABELS=${labels:-arch=$arch}
ENV
fi
unit=/etc/systemd/system/benchfarm-agent.service
if [ "$prefix" = /opt/benchfarm ]; then
  run install -m 0644 "$src/deploy/systemd/benchfarm-agent.service" "$unit"
else
  sed "s|/opt/benchfarm|$prefix|g" "$src/deploy/systemd/benchfarm-agent.service" | write "$unit" 0644
fi
run systemctl daemon-reload
run systemctl enable --now benchfarm-agent.service
echo "install-agent: done; follow it with: journalctl -u benchfarm-agent -f"
