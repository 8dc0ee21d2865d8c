#!/usr/bin/env bash
# Prototype of the layer step (issue 4): natives + bindings + numpy + data into one Lambda layer
# tree, laid out as Lambda mounts it at /opt. Runs in the toolchain container (or anywhere the
# built CPython runs), network off. No pruning beyond what is listed; the real layer target adds
# pruning + the smoke test after every step.
#
#   assemble-layer.sh --python PYTREE --wheelhouse WH --wheels DIR --out DIR [--dep TREE]...
#                     [--no-compile] [REQUIREMENT...]
#     --wheels DIR   wheels from build-wheels.sh (preferred over the wheelhouse: --find-links order)
#     --dep TREE     native install trees (curl, geos, proj, gdal): only lib/*.so.* and share/ go in
#     --no-compile   no __pycache__ (default: byte-compile, checked-hash pycs, SOURCE_DATE_EPOCH)
#     REQUIREMENT    default: rasterio fiona pyproj shapely numpy (+ their deps, from WH)
# Output: OUT/python/ (pip install --target), OUT/lib/ (one real file per SONAME: no dev symlinks,
#         no duplicate copies when zipped), OUT/share/{proj,gdal}; sizes printed.
set -euo pipefail
die() { echo "assemble-layer: ERROR: $*" >&2; exit "${2:-1}"; }
log() { echo "assemble-layer: $*" >&2; }
PYTREE="" WH="" WHEELS="" OUT="" DEPS=() COMPILE=1 REQS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --python) PYTREE="$2"; shift 2 ;;
    --wheelhouse) WH="$2"; shift 2 ;;
    --wheels) WHEELS="$2"; shift 2 ;;
    --out) OUT="$2"; shift 2 ;;
    --dep) DEPS+=("$2"); shift 2 ;;
    --no-compile) COMPILE=0; shift ;;
    -*) die "unknown option $1" 2 ;;
    *) REQS+=("$1"); shift ;;
  esac
done
[ -n "$PYTREE" ] && [ -n "$WH" ] && [ -n "$WHEELS" ] && [ -n "$OUT" ] || die "--python, --wheelhouse, --wheels, --out required" 2
[ ${#REQS[@]} -gt 0 ] || REQS=(rasterio fiona pyproj shapely numpy)
PY="$(readlink -f "$PYTREE")/bin/python3"
export SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-1609459200}" PYTHONHASHSEED=0 PIP_DISABLE_PIP_VERSION_CHECK=1
unset PIP_FIND_LINKS PIP_INDEX_URL PIP_EXTRA_INDEX_URL
mkdir -p "$OUT"; find "$OUT" -mindepth 1 -delete
t0=$SECONDS

compile=(--no-compile); [ "$COMPILE" = 1 ] && compile=()
"$PY" -m pip install --quiet --no-index --find-links "$WHEELS" --find-links "$WH" --no-cache-dir \
  --only-binary=:all: --target "$OUT/python" "${compile[@]}" "${REQS[@]}" || die "pip install failed"
rm -rf "$OUT/python/bin"   # console scripts with the build interpreter's shebang

mkdir -p "$OUT/lib" "$OUT/share"
for d in "${DEPS[@]}"; do
  [ -d "$d/lib" ] && find "$d/lib" -maxdepth 1 -name '*.so*' | sort | while read -r f; do
    soname="$(readelf -d "$(readlink -f "$f")" 2>/dev/null | sed -nE 's/.*\(SONAME\).*\[(.*)\]/\1/p')"
    [ -n "$soname" ] || continue
    [ -e "$OUT/lib/$soname" ] && continue
    cp "$(readlink -f "$f")" "$OUT/lib/$soname"   # the real file, named by its SONAME
  done
  [ -d "$d/share" ] && cp -a "$d/share/." "$OUT/share/"
done
rm -rf "$OUT/share/man" "$OUT/share/doc" "$OUT/share/bash-completion"
find "$OUT" -mindepth 1 -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
log "done in $((SECONDS - t0)) s: $(du -sm "$OUT" | cut -f1) MB (python $(du -sm "$OUT/python" | cut -f1), lib $(du -sm "$OUT/lib" | cut -f1), share $(du -sm "$OUT/share" | cut -f1))"
