#!/usr/bin/env bash
# The main job on the embedded defaults: build meshcd, turn samples/ into a Git repository,
# validate it, then commit a canary weight change and show the plan meshcd makes for it.
# Usage: ./deploy/demo.sh   (needs cargo; creates a temporary repository and removes it)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

echo "== building meshcd (release)"
cargo build --release --quiet
meshcd="$root/target/release/meshcd"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
repo="$work/routes"
cp -r "$root/samples" "$repo"
rm -rf "$repo/invalid"
git -C "$repo" init -q -b main
git -C "$repo" -c user.name=demo -c user.email=demo@example.com add -A
git -C "$repo" -c user.name=demo -c user.email=demo@example.com commit -qm "samples: 99/1 canary"

echo
echo "== meshcd validate --repo $repo"
"$meshcd" validate --repo "$repo"

echo
echo "== a commit moves target-route from 99/1 to 0/100"
route="$repo/cloud-run-mesh/routes/target-route.yaml"
sed -i -e 's/weight: 99$/weight: 0/' -e 's/weight: 1$/weight: 100/' "$route"
git -C "$repo" -c user.name=demo -c user.email=demo@example.com commit -qam "promote target-green"

echo
echo "== meshcd plan --repo $repo --base HEAD~1"
"$meshcd" plan --repo "$repo" --base HEAD~1

echo
echo "== a bad commit: a negative weight and a half-weighted split"
sed -i -e 's/weight: 0$/weight: -5/' "$route"
sed -i -e '0,/weight: 50$/{/weight: 50$/d}' "$repo/cloud-run-mesh/routes/route-target23.yaml"
git -C "$repo" -c user.name=demo -c user.email=demo@example.com commit -qam "oops"
echo "== meshcd validate --repo $repo   (exit 1: errors, each with file:line:col)"
"$meshcd" validate --repo "$repo" || echo "(exit $?)"
echo
echo "== meshcd plan --repo $repo --base HEAD~1   (refused: nothing is planned from a broken revision)"
"$meshcd" plan --repo "$repo" --base HEAD~1 || echo "(exit $?)"
echo
echo "Each built-in rule has an example in samples/invalid/ (meshcd rules lists them)."
