#!/usr/bin/env bash
# Build the GIS bindings (shapely, pyproj, rasterio, fiona) from sdists against the shared native
# install trees. Runs INSIDE the toolchain container, as the non-root build user, network off, as
# the command of `native_build.py run`, which has installed the native trees into /opt (so every
# path the bindings see is the final layer path) and copies --out out of the container.
#
#   build-wheels.sh --python PYTREE --wheelhouse DIR --out DIR --policy POLICY.json
#                   [--patches DIR] [--jobs N] [--rpath origin|opt|none] [--no-strip]
#                   [--optimize-size NAME]... [--cross TRIPLE --host-python PYTREE] [PACKAGE...]
#     --python PYTREE   a CPython install tree (cpython_build; runs from wherever it is): the
#                       interpreter the wheels are for
#     --cross TRIPLE    cross-compile for TRIPLE's CPU (e.g. aarch64-linux-gnu; CC and binutils come
#                       from the environment, `native_build.py run --cross`, and so does the meson
#                       cross file, $MESON_CROSS_FILE): --host-python, the
#                       same CPython built for this machine, runs pip and the build backends with
#                       the target's headers and sysconfig (_PYTHON_SYSCONFIGDATA_NAME,
#                       _PYTHON_HOST_PLATFORM)
#     --wheelhouse DIR  sdists + build-requirement wheels (fetch-wheelhouse.sh); pip uses it with
#                       --no-index. Each sdist's [build-system].requires are installed from it into
#                       a fixed directory (highest version allowed, e.g. cython 3.0.x for fiona
#                       1.10.1), then built with --no-build-isolation: same bytes on every build.
#     --out DIR         receives one wheel per PACKAGE (emptied first)
#     --patches DIR     per-sdist recipe files:
#                       <name>-<version>-*.patch  applied with patch -p1 to the unpacked sdist
#                       <name>-<version>.build-constraints.txt  pip constraints for its build
#                         environment (e.g. a Cython line)
#                       <name>-<version>.build-requires.txt  build requirements beyond its
#                         pyproject.toml (what the backend would ask for, e.g. ninja for numpy)
#                       <name>-<version>.config-settings  one `pip --config-settings` value per
#                         line (e.g. numpy's meson `setup-args=-Dblas=openblas`); a line starting
#                         `[aarch64] ` or `[x86_64] ` applies to that CPU only
#     --policy FILE     runtime policy for the audit (elf_policy.py, beside this script)
#     --jobs CORES      the cores Pants gives the step (default: nproc); two compile jobs a core
#                       (as native_build.py) where the build backend honours it
#     --rpath MODE      RUNPATH of every extension module: origin (default) = $ORIGIN-relative to
#                       <layer>/lib for a wheel installed at <layer>/python/ (pip install --target);
#                       opt = /opt/lib; none = leave it to LD_LIBRARY_PATH (Lambda has /opt/lib)
#     --no-strip        keep symbols (default: strip --strip-unneeded, before patchelf)
#     --optimize-size NAME  compile NAME with -Os instead of CPython's -O3 (binding glue around
#                       native libraries: about a third smaller, the work happens in GDAL/PROJ/GEOS)
#     PACKAGE...        default: every sdist in the wheelhouse, in the order shapely pyproj rasterio fiona
# Env: SOURCE_DATE_EPOCH (wheel timestamps), PREFIX=/opt, BUILD_ROOT=/tmp/wheel-build (fixed: paths end up in objects),
#      LOG_DIR (per-package pip logs copied there).
# Exit: 0 ok, 2 usage, 1 failure (the package is named).
set -euo pipefail
die() { echo "build-wheels: ERROR: $*" >&2; exit "${2:-1}"; }
log() { echo "build-wheels: $*" >&2; }

here="$(cd "$(dirname "$0")" && pwd)"
PYTREE="" WH="" OUT="" PATCHES="" POLICY="" JOBS="" RPATH_MODE=origin DO_STRIP=1 PKGS=() SMALL=() CROSS="" HOST_PYTREE=""
while [ $# -gt 0 ]; do
  case "$1" in
    --python) PYTREE="$2"; shift 2 ;;
    --wheelhouse) WH="$2"; shift 2 ;;
    --out) OUT="$2"; shift 2 ;;
    --patches) PATCHES="$2"; shift 2 ;;
    --policy) POLICY="$2"; shift 2 ;;
    --jobs) JOBS="$2"; shift 2 ;;
    --rpath) RPATH_MODE="$2"; shift 2 ;;
    --no-strip) DO_STRIP=0; shift ;;
    --optimize-size) SMALL+=("$2"); shift 2 ;;
    --cross) CROSS="$2"; shift 2 ;;
    --host-python) HOST_PYTREE="$2"; shift 2 ;;
    -*) die "unknown option $1 (see header of $0)" 2 ;;
    *) PKGS+=("$1"); shift ;;
  esac
done
[ -n "$PYTREE" ] && [ -n "$WH" ] && [ -n "$OUT" ] || die "--python, --wheelhouse and --out are required" 2
case "$RPATH_MODE" in origin|opt|none) ;; *) die "--rpath must be origin, opt or none" 2 ;; esac
PY="$(readlink -f "$PYTREE")/bin/python3"
[ -x "$PY" ] || die "no bin/python3 in $PYTREE" 2
[ -z "$CROSS" ] || [ -x "$HOST_PYTREE/bin/python3" ] || die "--cross needs --host-python with a bin/python3" 2
CPU="${CROSS%%-*}"; CPU="${CPU:-$(uname -m)}"
WH="$(readlink -f "$WH")"; [ -d "$WH" ] || die "no wheelhouse $WH" 2
[ -f "$POLICY" ] || die "policy not found: ${POLICY:-(pass --policy)}" 2
POLICY="$(readlink -f "$POLICY")"
[ -d "$PATCHES" ] && PATCHES="$(readlink -f "$PATCHES")"
mkdir -p "$OUT"; OUT="$(readlink -f "$OUT")"
PREFIX="${PREFIX:-/opt}"
BUILD_ROOT="${BUILD_ROOT:-/tmp/wheel-build}"
export SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-1609459200}"
export LC_ALL=C TZ=UTC PYTHONHASHSEED=0 PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1
unset PIP_FIND_LINKS PIP_INDEX_URL PIP_EXTRA_INDEX_URL PIP_CONSTRAINT
export MAX_JOBS="$((2 * ${JOBS:-$(nproc)}))"
umask 022
t_start=$SECONDS

rm -rf "$BUILD_ROOT"; mkdir -p "$BUILD_ROOT"/{src,raw,fixed,bin,tools,logs}
export PATH="$BUILD_ROOT/bin:$PATH"

# --- a cross build runs this machine's interpreter with the target's headers and sysconfig (the
# pure-Python standard library is the same), as crossenv does; only `pip wheel` sees the target
CROSS_ENV=() MESON_CROSS=()
if [ -n "$CROSS" ]; then
  target="$(readlink -f "$PYTREE")"
  xpy="$BUILD_ROOT/xpython"
  cp -a "$(readlink -f "$HOST_PYTREE")" "$xpy"
  rm -rf "$xpy/include"; cp -a "$target/include" "$xpy/include"
  sysconfigdata="$(cd "$target/lib" && ls python3.*/_sysconfigdata__linux_"$CROSS".py)" \
    || die "no _sysconfigdata__linux_$CROSS.py in $PYTREE: not a CPython built for $CROSS" 2
  cp "$target/lib/$sysconfigdata" "$xpy/lib/$sysconfigdata"
  PY="$xpy/bin/python3"
  CROSS_ENV=(_PYTHON_HOST_PLATFORM="linux-$CPU" _PYTHON_SYSCONFIGDATA_NAME="$(basename "$sysconfigdata" .py)")
  [ -f "${MESON_CROSS_FILE:-}" ] || die "--cross needs \$MESON_CROSS_FILE (native_build.py run --cross writes it)" 2
  MESON_CROSS=("--config-settings=setup-args=--cross-file=$MESON_CROSS_FILE")
  log "cross build for $CROSS: $(env "${CROSS_ENV[@]}" "$PY" -c 'import sysconfig; print(sysconfig.get_platform(), sysconfig.get_config_var("EXT_SUFFIX"), sysconfig.get_config_var("CC"))')"
fi

# --- versions of the natives, from their headers
hdr_define() { sed -nE "s/^#[[:space:]]*define[[:space:]]+$2[[:space:]]+\"?([^\" ]+)\"?.*/\1/p" "$PREFIX/include/$1" | head -n1; }
GDAL_V="" PROJ_V="" GEOS_V=""
[ -f "$PREFIX/include/gdal_version.h" ] && GDAL_V="$(hdr_define gdal_version.h GDAL_RELEASE_NAME)"
[ -f "$PREFIX/include/proj.h" ] && PROJ_V="$(hdr_define proj.h PROJ_VERSION_MAJOR).$(hdr_define proj.h PROJ_VERSION_MINOR).$(hdr_define proj.h PROJ_VERSION_PATCH)"
[ -f "$PREFIX/include/geos_c.h" ] && GEOS_V="$(hdr_define geos_c.h GEOS_VERSION)"
log "natives in $PREFIX: GDAL ${GDAL_V:-none}, PROJ ${PROJ_V:-none}, GEOS ${GEOS_V:-none}"

# gdal-config: GDAL's CMake build installs it only with the apps; rasterio/fiona need --cflags,
# --libs, --datadir, --version. A shim gives exactly the /opt paths.
if [ -x "$PREFIX/bin/gdal-config" ]; then
  GDAL_CONFIG="$PREFIX/bin/gdal-config"
else
  GDAL_CONFIG="$BUILD_ROOT/bin/gdal-config"
  cat >"$GDAL_CONFIG" <<SHIM
#!/bin/sh
case "\$1" in
  --cflags) echo "-I$PREFIX/include" ;;
  --libs) echo "-L$PREFIX/lib -lgdal" ;;
  --datadir) echo "$PREFIX/share/gdal" ;;
  --version) echo "$GDAL_V" ;;
  --prefix) echo "$PREFIX" ;;
  *) echo "gdal-config shim (build-wheels.sh): unsupported \$1" >&2; exit 1 ;;
esac
SHIM
  chmod +x "$GDAL_CONFIG"
fi
unset PROJ_WHEEL PACKAGE_DATA GDAL_DATA PROJ_DATA PROJ_LIB GDAL_VERSION PROJ_VERSION
export GDAL_CONFIG
if [ -n "$GDAL_V" ]; then export GDAL_VERSION="$GDAL_V"; fi
export GEOS_INCLUDE_PATH="$PREFIX/include" GEOS_LIBRARY_PATH="$PREFIX/lib"
export PKG_CONFIG_PATH="$PREFIX/lib/pkgconfig"
export PROJ_DIR="$PREFIX"
if [ -n "$PROJ_V" ]; then export PROJ_VERSION="$PROJ_V"; fi
# no debug info (smaller, fewer build paths in the objects); we link to /opt/lib at build time
export CFLAGS="-g0" CXXFLAGS="-g0" LDFLAGS="-L$PREFIX/lib"

# --- tools: `wheel` (unpack/pack) from the wheelhouse, into a scratch dir
"$PY" -m pip install --quiet --no-index --find-links "$WH" --no-cache-dir --target "$BUILD_ROOT/tools" wheel \
  || die "cannot install 'wheel' from the wheelhouse"
wheeltool() { PYTHONPATH="$BUILD_ROOT/tools" "$PY" -m wheel "$@"; }

# --- which sdists
if [ ${#PKGS[@]} = 0 ]; then
  for p in shapely pyproj rasterio fiona; do
    ls "$WH" | grep -qiE "^$p-[0-9][^-]*\.(tar\.gz|zip)$" && PKGS+=("$p")
  done
fi
[ ${#PKGS[@]} -gt 0 ] || die "no sdists of shapely/pyproj/rasterio/fiona in $WH" 2

summary=()
for name in "${PKGS[@]}"; do
  t0=$SECONDS
  case "$name" in
    shapely) need="$GEOS_V" what=GEOS ;; pyproj) need="$PROJ_V" what=PROJ ;; rasterio|fiona) need="$GDAL_V" what=GDAL ;; *) need=x ;;
  esac
  [ -n "$need" ] || die "$name needs $what in $PREFIX (its include/ has no headers): add its native_library to \`natives\`" 2
  sdist="$(ls "$WH" | grep -iE "^$name-[0-9][^-]*\.(tar\.gz|zip)$" | head -n1)"
  [ -n "$sdist" ] || die "no sdist of $name in $WH" 2
  version="$(echo "$sdist" | sed -E "s/^[^-]+-(.*)\.(tar\.gz|zip)$/\1/")"
  src="$BUILD_ROOT/src/$name"
  mkdir -p "$src.x"
  case "$sdist" in *.zip) (cd "$src.x" && "$PY" -m zipfile -e "$WH/$sdist" .) ;; *) tar -xf "$WH/$sdist" -C "$src.x" --no-same-owner ;; esac
  mv "$src.x"/* "$src"; rmdir "$src.x"
  shopt -s nullglob
  for p in "$PATCHES/$name-$version"-*.patch; do
    log "$name: patch $(basename "$p")"
    patch -d "$src" -p1 --forward --no-backup-if-mismatch -s -i "$p" || die "patch $(basename "$p") does not apply to $name $version"
  done
  shopt -u nullglob
  # compile extension modules in parallel (setuptools build_ext --parallel)
  if ! grep -qs '^\[build_ext\]' "$src/setup.cfg"; then
    printf '\n[build_ext]\nparallel = %s\n' "$MAX_JOBS" >>"$src/setup.cfg"
  fi

  # --- build environment: the sdist's [build-system].requires from the wheelhouse, installed into a
  # FIXED directory (pip's isolated env lives in a random /tmp/pip-build-env-XXXX, and Cython writes
  # that path into the generated C, so wheels differed from build to build), plus per-sdist pins
  # beyond its pyproject.toml (<name>-<version>.build-constraints.txt)
  benv="$BUILD_ROOT/buildenv"; rm -rf "$benv"
  mapfile -t breqs < <("$PY" -c '
import sys, tomllib
try:
    with open(sys.argv[1], "rb") as f:
        reqs = tomllib.load(f).get("build-system", {}).get("requires")
except FileNotFoundError:
    reqs = None
print("\n".join(reqs if reqs is not None else ["setuptools>=40.8.0", "wheel"]))' "$src/pyproject.toml")
  cons=() csets=()
  bc="$PATCHES/$name-$version.build-constraints.txt"
  if [ -f "$bc" ]; then cons=(-c "$bc"); log "$name: build constraints $(grep -v '^#' "$bc" | tr '\n' ' ')"; fi
  br="$PATCHES/$name-$version.build-requires.txt"
  if [ -f "$br" ]; then mapfile -t -O "${#breqs[@]}" breqs < <(grep -v '^#' "$br" | grep .); fi
  cs="$PATCHES/$name-$version.config-settings"
  if [ -f "$cs" ]; then
    while IFS= read -r line; do
      case "$line" in "[$CPU] "*) line="${line#"[$CPU] "}" ;; "["*"] "*) continue ;; esac
      csets+=("--config-settings=$line")
    done < <(grep -v '^#' "$cs" | grep .)
    log "$name: ${csets[*]}"
  fi
  if grep -qs 'mesonpy' "$src/pyproject.toml"; then csets+=("${MESON_CROSS[@]}"); fi
  "$PY" -m pip install --no-index --only-binary=:all: --find-links "$WH" --no-cache-dir --no-compile --target "$benv" \
      "${cons[@]}" "${breqs[@]}" >"$BUILD_ROOT/logs/$name.buildenv.log" 2>&1 \
    || { tail -n 20 "$BUILD_ROOT/logs/$name.buildenv.log" >&2; die "$name: build requirements (${breqs[*]}) not satisfiable from the wheelhouse"; }
  build_deps="$(PYTHONPATH="$benv" "$PY" -c '
import importlib.metadata as m, sys
print(" ".join(sorted(f"{d.metadata["Name"]}=={d.version}" for d in m.distributions(path=[sys.argv[1]]))))' "$benv")"

  cflags="$CFLAGS"
  if [[ " ${SMALL[*]} " == *" $name "* ]]; then cflags="$CFLAGS -Os"; fi
  log "$name $version: pip wheel (network off, CFLAGS $cflags, build deps: $build_deps)"
  if ! env "${CROSS_ENV[@]}" CFLAGS="$cflags" CXXFLAGS="$CXXFLAGS${cflags#"$CFLAGS"}" PYTHONPATH="$benv" PATH="$benv/bin:$PATH" "$PY" -m pip wheel --no-index --find-links "$WH" --no-deps \
        --no-build-isolation --no-cache-dir "${csets[@]}" -v -w "$BUILD_ROOT/raw" "$src" >"$BUILD_ROOT/logs/$name.log" 2>&1; then
    grep -E -B2 -A6 'error|Error' "$BUILD_ROOT/logs/$name.log" | tail -n 60 >&2
    if [ -n "${LOG_DIR:-}" ]; then mkdir -p "$LOG_DIR" && cp "$BUILD_ROOT/logs/$name"*.log "$LOG_DIR/"; fi
    die "pip wheel $name $version failed (log: $name.log)"
  fi
  if [ -n "${LOG_DIR:-}" ]; then mkdir -p "$LOG_DIR" && cp "$BUILD_ROOT/logs/$name"*.log "$LOG_DIR/"; fi
  whl="$(cd "$BUILD_ROOT/raw" && ls | grep -iE "^${name}-${version}-.*\.whl$" | head -n1)"
  [ -n "$whl" ] || die "pip wheel $name gave no wheel"

  # --- unpack, strip, RUNPATH, audit, repack (wheel pack rewrites RECORD; SOURCE_DATE_EPOCH mtimes)
  u="$BUILD_ROOT/unpacked/$name"; rm -rf "$u"; mkdir -p "$u"
  wheeltool unpack -d "$u" "$BUILD_ROOT/raw/$whl" >/dev/null
  root="$(ls -d "$u"/*)"
  nelf=0
  while IFS= read -r -d '' f; do
    [ "$(head -c4 "$f" | od -An -c | tr -d ' ')" = '177ELF' ] || continue
    nelf=$((nelf + 1))
    rel="${f#"$root"/}"
    case "$(basename "$f")" in
      *.cpython-*.so|*.abi3.so) ;;
      *) die "$name wheel bundles a native library: $rel (the layer's /opt/lib must be the only copy)" ;;
    esac
    [ "$DO_STRIP" = 1 ] && "${CROSS:+$CROSS-}strip" --strip-unneeded "$f"
    case "$RPATH_MODE" in
      origin)
        d="$(dirname "$rel")" up=""
        [ "$d" = . ] || up="$(echo "$d" | sed -E 's#[^/]+#..#g')/"
        patchelf --set-rpath "\$ORIGIN/${up}../lib" "$f" ;;
      opt) patchelf --set-rpath "$PREFIX/lib" "$f" ;;
      none) patchelf --remove-rpath "$f" ;;
    esac
  done < <(find "$root" -type f -print0 | sort -z)
  find "$root" -type d \( -name '*.libs' -o -name 'proj_dir' -o -name 'gdal_data' -o -name 'proj_data' \) | grep -q . \
    && die "$name wheel carries its own natives/data dir: $(find "$root" -type d \( -name '*.libs' -o -name proj_dir -o -name gdal_data -o -name proj_data \))"
  # every DT_NEEDED from the policy or $PREFIX/lib (the shared natives), symbol ceilings, and (but
  # for --rpath opt, absolute by design) $ORIGIN RUNPATHs
  origin=(--origin-runpath); [ "$RPATH_MODE" != opt ] || origin=()
  python3 "$here/elf_policy.py" audit --tree "$root" --policy "$POLICY" --lib-dir "$PREFIX/lib" "${origin[@]}" --machine "$CPU" \
      2> >(sed "s/^/  [$name] /" >&2) || die "$name: runtime policy audit failed (see above)"
  # generated C/C++ (rasterio 1.5 ships ~20 MB of it as package data) is never used at run time
  find "$root" -type f \( -name '*.c' -o -name '*.cpp' \) -delete
  find "$root" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
  wheeltool pack -d "$BUILD_ROOT/fixed" "$root" >/dev/null
  secs=$((SECONDS - t0))
  log "$name $version: ok in $secs s ($nelf extension modules; build deps: $build_deps)"
  summary+=("$name==$version  ${secs}s  build deps: $build_deps")
done

find "$OUT" -mindepth 1 -delete
cp "$BUILD_ROOT/fixed"/*.whl "$OUT/"
(cd "$OUT" && sha256sum *.whl) >&2
printf 'build-wheels: %s\n' "${summary[@]}" >&2
log "done in $((SECONDS - t_start)) s -> $OUT"
