#!/usr/bin/env bash
# Build one CMake project into an install tree. Runs INSIDE the toolchain container, as the
# non-root build user, network off. Needs /opt writable by that user (the toolchain image makes the
# @user own /opt); dependency trees are copied there, so every compiled-in path is the final /opt one.
#
#   cmake-build.sh --source ARCHIVE --out DIR [--patch FILE]... [--dep TREE]... [--name NAME] \
#                  [--] [CMAKE_OPTION]...
#     --source ARCHIVE  source tarball (.tar.gz/.tar.bz2/.tar.xz/.tgz), one top dir or flat
#     --out DIR         receives the install tree of THIS project only: DIR/{lib,include,share,bin}
#                       (the content of DESTDIR/opt). DIR must exist or be creatable; emptied first.
#     --patch FILE      applied in order with `patch -p1` in the source root (repeatable)
#     --dep TREE        install tree of a dependency (same layout as --out), copied into /opt before
#                       configuring (repeatable; later ones win on conflicts)
#     --name NAME       label used in logs (default: archive basename)
#     CMAKE_OPTION...   passed to the configure step, e.g. -DBUILD_TESTING=OFF
# Env:
#     JOBS=$(nproc)          parallel jobs (the CPUs the container may use)
#     INSTALL_PREFIX=/opt    CMAKE_INSTALL_PREFIX (the Lambda layer mount)
#     OPT_FLAGS="-O2 -DNDEBUG"  CMAKE_{C,CXX}_FLAGS_RELEASE (CMake's Release -O3 made libgdal 9% bigger);
#                            a -DCMAKE_C_FLAGS_RELEASE=... CMAKE_OPTION still wins
#     CCACHE_DIR             if set (and writable), compile through ccache (CCACHE_BASEDIR must stay
#                            unset: it changed output bytes); compilercheck=content
#     SOURCE_DATE_EPOCH      default 1609459200
#     BUILD_ROOT=/tmp/cmake-build  fixed scratch path (fixed so __FILE__ strings and ccache keys are stable)
#     LOG_DIR                if set, configure/build/install logs and CMakeCache.txt are copied there
#                            (also on failure)
# Exit: 0 ok, 2 usage, 1 failure (the failing step is named).
set -euo pipefail

die() { echo "cmake-build: ERROR: $*" >&2; exit "${2:-1}"; }
log() { echo "cmake-build[$NAME]: $*" >&2; }

SRC="" OUT="" NAME="" PATCHES=() DEPS=() CMAKE_ARGS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --source) SRC="$2"; shift 2 ;;
    --out) OUT="$2"; shift 2 ;;
    --patch) PATCHES+=("$2"); shift 2 ;;
    --dep) DEPS+=("$2"); shift 2 ;;
    --name) NAME="$2"; shift 2 ;;
    --) shift; CMAKE_ARGS+=("$@"); break ;;
    -D*|-G*|-W*) CMAKE_ARGS+=("$1"); shift ;;
    *) die "unknown argument: $1 (see header of $0)" 2 ;;
  esac
done
[ -n "$SRC" ] && [ -n "$OUT" ] || die "--source and --out are required" 2
[ -f "$SRC" ] || die "source archive not found: $SRC" 2
NAME="${NAME:-$(basename "$SRC")}"
JOBS="${JOBS:-$(nproc)}"
PREFIX="${INSTALL_PREFIX:-/opt}"
BUILD_ROOT="${BUILD_ROOT:-/tmp/cmake-build}"
export SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-1609459200}"
export LC_ALL=C TZ=UTC PKG_CONFIG_PATH="${INSTALL_PREFIX:-/opt}/lib/pkgconfig"
umask 022

t_start=$SECONDS
save_logs() {
  [ -n "${LOG_DIR:-}" ] || return 0
  mkdir -p "$LOG_DIR" && cp "$BUILD_ROOT"/*.log "$BUILD_ROOT/build/CMakeCache.txt" "$LOG_DIR/" 2>/dev/null || true
}
trap save_logs EXIT
rm -rf "$BUILD_ROOT"; mkdir -p "$BUILD_ROOT/src" "$BUILD_ROOT/build" "$BUILD_ROOT/stage"

# --- dependencies into the real prefix
[ -d "$PREFIX" ] && [ -w "$PREFIX" ] || die "$PREFIX is not writable by uid $(id -u); use a toolchain image built by build-toolchain-image.sh"
for d in "${DEPS[@]}"; do
  [ -d "$d" ] || die "dependency tree not found: $d" 2
  cp -a "$d/." "$PREFIX/"
done

# --- sources
tar -xf "$SRC" -C "$BUILD_ROOT/src" --no-same-owner || die "cannot extract $SRC"
shopt -s nullglob dotglob
top=("$BUILD_ROOT/src"/*)
shopt -u dotglob
if [ ${#top[@]} = 1 ] && [ -d "${top[0]}" ]; then SRCDIR="${top[0]}"; else SRCDIR="$BUILD_ROOT/src"; fi
# normalize the source dir name so paths baked into objects do not depend on the archive
if [ "$SRCDIR" != "$BUILD_ROOT/src" ]; then mv "$SRCDIR" "$BUILD_ROOT/source"; SRCDIR="$BUILD_ROOT/source"; fi
for p in "${PATCHES[@]}"; do
  log "patch $(basename "$p")"
  patch -d "$SRCDIR" -p1 --forward --no-backup-if-mismatch -s -i "$(readlink -f "$p")" \
    || die "patch $(basename "$p") does not apply to $NAME"
done
[ -f "$SRCDIR/CMakeLists.txt" ] || die "no CMakeLists.txt at the top of $SRC"

# --- configure
launcher=()
if [ -n "${CCACHE_DIR:-}" ]; then
  mkdir -p "$CCACHE_DIR" 2>/dev/null || true
  [ -w "$CCACHE_DIR" ] || die "CCACHE_DIR=$CCACHE_DIR is not writable"
  unset CCACHE_BASEDIR
  export CCACHE_COMPILERCHECK=content CCACHE_NOHASHDIR=1 CCACHE_MAXSIZE="${CCACHE_MAXSIZE:-2G}"
  launcher=(-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  ccache -z >/dev/null 2>&1 || true
fi
t0=$SECONDS
cmake -S "$SRCDIR" -B "$BUILD_ROOT/build" \
  -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_INSTALL_PREFIX="$PREFIX" \
  -DCMAKE_INSTALL_LIBDIR=lib \
  -DCMAKE_PREFIX_PATH="$PREFIX" \
  -DCMAKE_SKIP_INSTALL_RPATH=ON \
  -DCMAKE_C_FLAGS_RELEASE="${OPT_FLAGS:--O2 -DNDEBUG}" \
  -DCMAKE_CXX_FLAGS_RELEASE="${OPT_FLAGS:--O2 -DNDEBUG}" \
  "${launcher[@]}" "${CMAKE_ARGS[@]}" >"$BUILD_ROOT/configure.log" 2>&1 \
  || { tail -n 40 "$BUILD_ROOT/configure.log" >&2; die "configure of $NAME failed"; }
log "configure: $((SECONDS - t0)) s"

# --- build + install
t0=$SECONDS
cmake --build "$BUILD_ROOT/build" -j "$JOBS" >"$BUILD_ROOT/build.log" 2>&1 \
  || { grep -E -B2 -A8 'error|Error' "$BUILD_ROOT/build.log" | tail -n 60 >&2; die "build of $NAME failed"; }
log "build: $((SECONDS - t0)) s"
DESTDIR="$BUILD_ROOT/stage" cmake --install "$BUILD_ROOT/build" >"$BUILD_ROOT/install.log" 2>&1 \
  || { tail -n 40 "$BUILD_ROOT/install.log" >&2; die "install of $NAME failed"; }
[ -d "$BUILD_ROOT/stage$PREFIX" ] || die "$NAME installed nothing under $PREFIX"

# --- output: the project's own tree only, libtool archives dropped, mtimes pinned
mkdir -p "$OUT"
find "$OUT" -mindepth 1 -delete
cp -a "$BUILD_ROOT/stage$PREFIX/." "$OUT/"
find "$OUT" -name '*.la' -delete
find "$OUT" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
[ -n "${CCACHE_DIR:-}" ] && ccache -s 2>/dev/null | grep -E 'hit|miss' | tr -s ' ' | paste -sd';' | sed "s/^/cmake-build[$NAME]: ccache: /" >&2 || true
log "done in $((SECONDS - t_start)) s -> $OUT"
