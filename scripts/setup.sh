#!/usr/bin/env bash
# Installs everything benchfarm needs on a fresh Debian/Ubuntu machine, then the npm
# packages. Safe to run again: it only installs what is missing.
#   - nats-server (JetStream), protoc (ts-proto generation check), prometheus (metrics tests)
#   - chromium (the HTML report test)
#   - postgresql (the PostgreSQL store's tests start private servers from its binaries)
#   - npm packages from package-lock.json; onnxruntime-node's CUDA download is skipped
#     (its CPU binaries ship inside the package)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

need=()
command -v nats-server >/dev/null || [ -x /usr/sbin/nats-server ] || need+=(nats-server)
command -v protoc >/dev/null || need+=(protobuf-compiler)
command -v prometheus >/dev/null || need+=(prometheus)
# Headless Chromium: the HTML report test renders the report's charts in it (playwright-core).
command -v chromium >/dev/null || need+=(chromium)
# PostgreSQL: Debian keeps the server binaries off PATH, in /usr/lib/postgresql/<major>/bin.
compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null || need+=(postgresql)
if [ ${#need[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "setup: installing Debian packages: ${need[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  # The Debian prometheus package starts a system service; benchfarm's tests start their own.
  if [[ " ${need[*]} " == *" prometheus "* ]] && command -v systemctl >/dev/null; then $sudo systemctl disable --now prometheus >/dev/null 2>&1 || true; fi
  # The Debian postgresql package creates and starts a 'main' cluster on port 5432; the tests
  # initdb and start their own servers on free ports, so the system one is stopped and disabled.
  if [[ " ${need[*]} " == *" postgresql "* ]]; then
    if command -v systemctl >/dev/null; then $sudo systemctl disable --now postgresql >/dev/null 2>&1 || true; fi
    if command -v pg_lsclusters >/dev/null; then
      pg_lsclusters -h 2>/dev/null | while read -r version cluster _; do
        $sudo pg_ctlcluster "$version" "$cluster" stop >/dev/null 2>&1 || true
        # start.conf 'manual': no init script or systemd unit starts it again at boot.
        if [ -f "/etc/postgresql/$version/$cluster/start.conf" ]; then echo manual | $sudo tee "/etc/postgresql/$version/$cluster/start.conf" >/dev/null; fi
      done
    fi
  fi
fi

node_major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$node_major" -lt 20 ]; then echo "setup: Node.js 20 or newer is needed (found $(node -v))" >&2; exit 1; fi

stamp=node_modules/.benchfarm-setup
if [ ! -f "$stamp" ] || [ package-lock.json -nt "$stamp" ]; then
  echo "setup: npm ci (better-sqlite3 compiles from source when no prebuilt binary can be fetched: about 2 minutes)"
  ONNXRUNTIME_NODE_INSTALL=skip npm ci --no-audit --no-fund
  touch "$stamp"
fi
