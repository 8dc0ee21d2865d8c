#!/usr/bin/env bash
# GIS layer benchmark: builds the naive layer (`pip install --target python/` of the same versions'
# PyPI wheels, cp313 manylinux x86_64) and compares it with ours (`./pants package layers/geo:`):
# unzipped/zipped size, duplicated native libraries and GDAL/PROJ data, and the cold-import time of
# `import rasterio, shapely, pyproj, fiona` (page cache dropped before every run) in the Lambda
# runtime emulation (lambda-run.sh's recipe). Prints a table, writes JSON. Needs root, Docker, PyPI and
# deb.debian.org (libexpat for the naive layer: see README-gis-layer.md).
#
#   build-support/bench/gis-layer.sh [--ours ZIP | --no-build] [--python CPYTHON_TREE] [--runs N]
#                                    [--json PATH] [--cache DIR] [--warm]
#     --ours ZIP     our layer zip (default: `./pants package layers/geo:`, then dist/layers/geo/*x86_64*.zip)
#     --no-build     do not run Pants for our layer, use the zip already in dist/layers/geo/
#     --python DIR   CPython 3.13 tree for /var/lang (default: `./pants package native/python:cpython313`)
#     --runs N       fresh processes per layer (default 15)
#     --json PATH    default dist/bench/gis-layer.json
#     --cache DIR    wheels + naive zips (default ~/.cache/serverless-gis/bench)
#     --warm         do not drop the page cache (figures are then warm imports)
# Exit: 0 ok; 1 a layer does not import or a figure cannot be computed; 2 usage; 97 no Docker daemon.
set -euo pipefail
die() { echo "gis-layer: ERROR: $1" >&2; exit "${2:-1}"; }
OURS="" BUILD=1 PYTREE="" PASS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --ours) OURS="$(realpath -m "$2")"; shift 2 ;;
    --no-build) BUILD=0; shift ;;
    --python) PYTREE="$(realpath -m "$2")"; shift 2 ;;
    --runs) PASS+=("$1" "$2"); shift 2 ;;
    --json | --cache) PASS+=("$1" "$(realpath -m "$2")"); shift 2 ;;
    --warm) PASS+=("$1"); shift ;;
    -h | --help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument $1 (see --help)" 2 ;;
  esac
done
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
docker info >/dev/null 2>&1 || die "no Docker daemon: start one with 'bash build-support/docker/ensure-dockerd.sh' (as root)" 97

lock=native/toolchain/bullseye-x86_64-runtime.lock
IMAGE="$(bash pants-plugins/serverless_gis/native/steps/build-toolchain-image.sh --print-tag "$lock")"
docker image inspect "$IMAGE" >/dev/null 2>&1 || bash pants-plugins/serverless_gis/native/steps/build-toolchain-image.sh "$lock" >&2 \
  || die "cannot build the runtime image $IMAGE from $lock"

if [ -z "$PYTREE" ]; then
  ./pants --no-pantsd package native/python:cpython313@toolchain=x86_64 >&2 || die "Pants could not build native/python:cpython313@toolchain=x86_64"
  PYTREE="$(find dist/native/python/cpython313-x86_64 -path '*/bin/python3.13' -printf '%h\n' 2>/dev/null | head -n1)"
  [ -n "$PYTREE" ] || die "native/python:cpython313@toolchain=x86_64 left no bin/python3.13 under dist/: pass --python DIR"
  PYTREE="$PYTREE/.."
fi
[ -x "$PYTREE/bin/python3" ] || die "no bin/python3 in the CPython tree $PYTREE" 2

if [ -z "$OURS" ]; then
  [ "$BUILD" = 0 ] || ./pants --no-pantsd package layers/geo: >&2 || die "Pants could not package layers/geo: (or pass --ours ZIP)"
  OURS="$(ls dist/layers/geo/*x86_64*.zip 2>/dev/null | head -n1 || true)"
  [ -n "$OURS" ] || die "no dist/layers/geo/*x86_64*.zip: build it with ./pants package layers/geo: or pass --ours ZIP"
fi
[ -f "$OURS" ] || die "no such layer zip: $OURS" 2

exec python3 build-support/bench/gis_layer_bench.py --ours "$OURS" --python "$PYTREE" --image "$IMAGE" "${PASS[@]}"
