#!/usr/bin/env bash
# Runs INSIDE the toolchain container: build one CMake project, then make its install tree
# portable (vendor, strip, audit against the runtime policy).
#   native-build.sh POLICY.json CMAKE-BUILD-ARGS...   (see cmake-build.sh; --out and --dep are reused)
# The tree is assembled in the container and then copied into --out, a host-owned directory.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
policy="$1"; shift
out="" deps=() args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out="$2"; args+=(--out /tmp/native-out); shift 2 ;;
    --dep) deps+=(--dep-tree "$2"); args+=("$1" "$2"); shift 2 ;;
    --) args+=("$@"); break ;;
    *) args+=("$1"); shift ;;
  esac
done
[ -n "$out" ] || { echo "native-build: --out is required" >&2; exit 2; }
bash "$here/cmake-build.sh" "${args[@]}"
python3 "$here/portabilize.py" --tree /tmp/native-out --policy "$policy" "${deps[@]}"
cp -R /tmp/native-out/. "$out/"
