#!/usr/bin/env bash
# Remote-cache benchmark on the full example (real GDAL/PROJ/GEOS): starts BuildGrid on a free
# loopback port with an empty store, then times `./pants package ::`
#   1. cold: empty local store and named caches (no ccache), empty remote cache (writes it);
#   2. a second machine: empty local store and named caches, warm remote cache;
#   3. one handler edited on that machine.
# Prints wall times and how many native builds / layer zips / function zips each run executed.
#   build-support/bench/remote-cache.sh [WORK_DIR]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
work="${1:-$(mktemp -d /tmp/sgis-bench.XXXXXX)}"
mkdir -p "$work"
export PANTS_REMOTE_STORE_ADDRESS
PANTS_REMOTE_STORE_ADDRESS="$(build-support/remote-cache/server.sh start --port free --data "$work/remote")"
handler=functions/reproject-points/handler.py
cp "$handler" "$work/handler.py.orig"
cleanup() {
  cp "$work/handler.py.orig" "$handler"
  build-support/remote-cache/server.sh stop --data "$work/remote" >/dev/null || true
}
trap cleanup EXIT

run() {
  local label="$1" machine="$2"
  local start end
  start=$(date +%s%N)
  ./pants --no-pantsd --pants-config-files=pants.ci.toml \
    --local-store-dir="$work/$machine/store" --named-caches-dir="$work/$machine/named" \
    package :: >"$work/$label.log" 2>&1 || { tail -n 40 "$work/$label.log"; exit 1; }
  end=$(date +%s%N)
  local ms=$(((end - start) / 1000000))
  printf '%-34s %5d.%d s   native builds %2d   layer zips %2d   function zips %2d\n' "$label" \
    "$((ms / 1000))" "$((ms % 1000 / 100))" \
    "$(grep -c 'Completed: Build native library' "$work/$label.log" || true)" \
    "$(grep -c 'Completed: Zip layer' "$work/$label.log" || true)" \
    "$(grep -c 'Completed: Zip function' "$work/$label.log" || true)"
}

echo "remote cache: $PANTS_REMOTE_STORE_ADDRESS, logs in $work"
run "cold (empty caches)" machine1
run "fresh local cache, warm remote" machine2
echo "# benchmark edit" >>"$handler"
run "one handler edited" machine2
