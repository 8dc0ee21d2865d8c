#!/usr/bin/env bash
# Build CPython from a pinned source tarball into a relocatable install tree. Runs INSIDE the
# toolchain container (bullseye, glibc 2.31), as the non-root build user, network off.
#
#   build-cpython.sh SRC_TARBALL OUT_DIR [--prefix /var/lang] [--policy POLICY.json]
#                    [--portabilize PATH] [--no-vendor]
#     SRC_TARBALL  e.g. python3.13_3.13.5.orig.tar.xz (Debian mirror; = upstream Python-3.13.5.tar.xz)
#     OUT_DIR      receives the install tree (the content of DESTDIR$PREFIX: bin/ lib/ include/ share/)
#                  emptied first. Mount or copy it at PREFIX (AWS Lambda: /var/lang); it also runs
#                  from any other directory (static libpython, $ORIGIN RUNPATHs, prefix found from
#                  the executable), which is how build-wheels.sh uses it.
#     --prefix     configure prefix (default /var/lang, where AWS Lambda's python runtime lives; NOT
#                  /opt, where layers are mounted)
#     --policy     portabilize policy (default: native/policy/aws-al2023.json relative to the repo
#                  root guessed from this script's location); used to vendor the non-policy libraries
#                  the extension modules need (libssl, libcrypto, libffi, libbz2, liblzma, libsqlite3,
#                  libuuid) into lib/ with hash-suffixed names, so the tree runs on a bare image.
#     --portabilize  path to portabilize.py (default: ../docker/portabilize.py next to this script)
#     --no-vendor  skip portabilize (tree then needs those libraries from the system)
# Env: JOBS=$(nproc), SOURCE_DATE_EPOCH=1609459200, BUILD_ROOT=/tmp/cpython-build (fixed path, so
#      __FILE__ strings are stable), LOG_DIR (configure/build/install logs copied there),
#      REQUIRED_MODULES (space-separated, default below): the build fails if one does not import.
# Exit: 0 ok, 2 usage, 1 failure.
set -euo pipefail

die() { echo "build-cpython: ERROR: $*" >&2; exit "${2:-1}"; }
log() { echo "build-cpython: $*" >&2; }

here="$(cd "$(dirname "$0")" && pwd)"
SRC="" OUT="" PREFIX=/var/lang POLICY="" PORTABILIZE="$here/../docker/portabilize.py" VENDOR=1
POS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) PREFIX="$2"; shift 2 ;;
    --policy) POLICY="$2"; shift 2 ;;
    --portabilize) PORTABILIZE="$2"; shift 2 ;;
    --no-vendor) VENDOR=0; shift ;;
    -*) die "unknown option $1 (see header of $0)" 2 ;;
    *) POS+=("$1"); shift ;;
  esac
done
[ ${#POS[@]} = 2 ] || die "usage: build-cpython.sh SRC_TARBALL OUT_DIR [options]" 2
SRC="${POS[0]}" OUT="${POS[1]}"
[ -f "$SRC" ] || die "source tarball not found: $SRC" 2
[ -n "$POLICY" ] || POLICY="$here/../../native/policy/aws-al2023.json"
if [ "$VENDOR" = 1 ]; then
  [ -f "$POLICY" ] || die "policy not found: $POLICY (pass --policy or --no-vendor)" 2
  [ -f "$PORTABILIZE" ] || die "portabilize.py not found: $PORTABILIZE" 2
fi
SRC="$(readlink -f "$SRC")"; POLICY="$(readlink -f "$POLICY" 2>/dev/null || true)"
PORTABILIZE="$(readlink -f "$PORTABILIZE" 2>/dev/null || true)"
mkdir -p "$OUT"; OUT="$(readlink -f "$OUT")"

JOBS="${JOBS:-$(nproc)}"
BUILD_ROOT="${BUILD_ROOT:-/tmp/cpython-build}"
export SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-1609459200}"
export LC_ALL=C TZ=UTC PYTHONHASHSEED=0
umask 022
# ctypes (libffi-dev), bz2 (libbz2-dev), lzma, sqlite3, ssl, zlib, decimal, expat are what the
# AWS Lambda python runtime has and what wheels / pip need. _uuid is optional (uuid falls back).
REQUIRED_MODULES="${REQUIRED_MODULES:-ssl _ssl _hashlib sqlite3 zlib bz2 lzma ctypes _decimal pyexpat _json _socket select _posixsubprocess}"

t_start=$SECONDS
save_logs() {
  [ -n "${LOG_DIR:-}" ] || return 0
  mkdir -p "$LOG_DIR" && cp "$BUILD_ROOT"/*.log "$LOG_DIR/" 2>/dev/null || true
}
trap save_logs EXIT
rm -rf "$BUILD_ROOT"; mkdir -p "$BUILD_ROOT/src" "$BUILD_ROOT/stage"

tar -xf "$SRC" -C "$BUILD_ROOT/src" --no-same-owner || die "cannot extract $SRC"
top=("$BUILD_ROOT/src"/*)
[ ${#top[@]} = 1 ] && [ -f "${top[0]}/configure" ] || die "$SRC: expected one top dir with ./configure"
mv "${top[0]}" "$BUILD_ROOT/source"
S="$BUILD_ROOT/source"

# --- configure: no PGO/LTO, static libpython (relocatable, no LD_LIBRARY_PATH needed), bundled
# expat and mpdecimal (AL2023 Lambda has no libexpat; bullseye has no libmpdec-dev), no test suite.
t0=$SECONDS
(cd "$S" && ./configure \
    --prefix="$PREFIX" \
    --build=x86_64-pc-linux-gnu \
    --disable-shared \
    --disable-test-modules \
    --without-system-expat \
    --without-system-libmpdec \
    --with-ensurepip=install \
    --enable-ipv6 \
    LDFLAGS='-Wl,--as-needed' ) >"$BUILD_ROOT/configure.log" 2>&1 \
  || { tail -n 40 "$BUILD_ROOT/configure.log" >&2; die "configure failed"; }
log "configure: $((SECONDS - t0)) s"

t0=$SECONDS
make -C "$S" -j "$JOBS" >"$BUILD_ROOT/build.log" 2>&1 \
  || { grep -E -B2 -A8 'error' "$BUILD_ROOT/build.log" | tail -n 60 >&2; die "make failed"; }
log "build: $((SECONDS - t0)) s"
# the modules CPython could not build are listed at the end of the build log
sed -n '/necessary bits to build these optional modules/,/^$/p;/Following modules built successfully but were removed/,/^$/p;/Failed to build these modules/,/^$/p' \
  "$BUILD_ROOT/build.log" >&2 || true

t0=$SECONDS
make -C "$S" install DESTDIR="$BUILD_ROOT/stage" >"$BUILD_ROOT/install.log" 2>&1 \
  || { tail -n 40 "$BUILD_ROOT/install.log" >&2; die "make install failed"; }
log "install: $((SECONDS - t0)) s"
T="$BUILD_ROOT/stage$PREFIX"
[ -x "$T/bin/python3" ] || die "no $PREFIX/bin/python3 after install"
ver="$("$T/bin/python3" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"

# --- prune: the static libpython and python.o (only for embedding; extensions do not link them on
# Linux) and
# idle/turtle demos; keep the rest of the stdlib like the Lambda runtime does.
rm -f "$T/lib"/libpython*.a "$T/lib/python$ver/config-$ver"-*/libpython*.a "$T/lib/python$ver/config-$ver"-*/python.o
# optimized bytecode (-O/-OO) is never used by the Lambda runtime
find "$T" -name '*.opt-[12].pyc' -delete
rm -rf "$T/lib/python$ver/idlelib" "$T/lib/python$ver/turtledemo" "$T/lib/python$ver/tkinter" \
       "$T/bin/idle3" "$T/bin/idle$ver"
find "$T" -name '*.exe' -delete

# --- vendor non-policy libraries + strip + $ORIGIN RUNPATHs + glibc audit
if [ "$VENDOR" = 1 ]; then
  python3 "$PORTABILIZE" --tree "$T" --policy "$POLICY" --report "$BUILD_ROOT/portabilize.json" \
    || die "portabilize failed"
fi

# --- check the modules, from the staged (relocated) tree
missing=()
for m in $REQUIRED_MODULES; do
  "$T/bin/python3" -c "import $m" >/dev/null 2>&1 || missing+=("$m")
done
if [ ${#missing[@]} -gt 0 ]; then
  hint=""
  for m in "${missing[@]}"; do
    case "$m" in
      ctypes) hint+=" libffi-dev" ;; bz2) hint+=" libbz2-dev" ;; lzma) hint+=" liblzma-dev" ;;
      sqlite3) hint+=" libsqlite3-dev" ;; ssl|_ssl|_hashlib) hint+=" libssl-dev" ;; zlib) hint+=" zlib1g-dev" ;;
    esac
  done
  die "modules missing from the build: ${missing[*]} (add to the toolchain packages:${hint:- ?})"
fi
"$T/bin/python3" -c 'import _uuid' 2>/dev/null || log "note: _uuid not built (uuid-dev absent); uuid uses its pure-Python fallback"

# --- output, mtimes pinned
# (contents only: OUT itself may belong to another uid, e.g. a sandbox dir made writable for us)
find "$OUT" -mindepth 1 -delete
cp -a "$T"/* "$OUT/"
find "$OUT" -mindepth 1 -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +
log "python $("$OUT/bin/python3" -c 'import sys; print(sys.version.split()[0])') in $OUT ($(du -sm "$OUT" | cut -f1) MB), done in $((SECONDS - t_start)) s"
