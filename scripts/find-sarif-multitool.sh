# Sourced by scripts/test.sh (from the repository root): sets MESHCD_SARIF_MULTITOOL to
# Microsoft's SARIF multitool unless one is already given. Looks in ./.venv/sarif-multitool and
# installs it there when missing: the npm package @microsoft/sarif-multitool-linux (a
# self-contained .NET build, about 100 MB; no .NET runtime needed). tests/it/sarif.rs validates
# meshcd's SARIF with it, with GitHub code scanning's rules.
if [ -z "${MESHCD_SARIF_MULTITOOL:-}" ]; then
  sarif_dir=.venv/sarif-multitool
  sarif_bin=$sarif_dir/node_modules/@microsoft/sarif-multitool-linux/Sarif.Multitool
  if [ ! -f "$sarif_bin" ]; then
    echo "== installing @microsoft/sarif-multitool-linux into ./$sarif_dir"
    mkdir -p "$sarif_dir"
    npm install --prefix "$sarif_dir" --no-save --no-audit --no-fund --loglevel=error \
      @microsoft/sarif-multitool-linux@5.7.0
  fi
  # npm may skip the package's postinstall (`chmod u+x`): do it here.
  chmod u+x "$sarif_bin"
  export MESHCD_SARIF_MULTITOOL="$PWD/$sarif_bin"
fi
