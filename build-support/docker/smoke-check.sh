#!/bin/sh
# Runs INSIDE a bare runtime container (no -dev packages, network off) with an install tree
# mounted read-only at /opt, as on Lambda:
#   1. every shared library under /opt/lib resolves each dependency from /opt/lib or from a
#      soname the runtime policy allows (ALLOWED_SONAMES);
#   2. the smoke program runs with LD_LIBRARY_PATH=/opt/lib and no PROJ/GDAL data variables.
#   smoke-check.sh SMOKE_BINARY
set -eu
export LD_LIBRARY_PATH=/opt/lib
unset PROJ_DATA PROJ_LIB GDAL_DATA || true
fail=0
for f in /opt/lib/*.so*; do
  [ -L "$f" ] && continue
  out="$(ldd "$f" 2>&1)" || { echo "ldd failed on $f: $out"; fail=1; continue; }
  if echo "$out" | grep -q 'not found'; then
    echo "UNRESOLVED in $f:"; echo "$out" | grep 'not found'; fail=1
  fi
  for pair in $(echo "$out" | awk '$2 == "=>" {print $1 "=" $3}'); do
    so="${pair%%=*}" path="${pair#*=}"
    case "$path" in /opt/lib/*) continue ;; esac
    ok=0
    for a in ${ALLOWED_SONAMES:-}; do [ "$so" = "$a" ] && ok=1; done
    [ $ok = 1 ] || { echo "POLICY: $f takes $so from $path: neither vendored nor provided by the runtime"; fail=1; }
  done
done
[ $fail = 0 ] || exit 1
echo "resolve check: every library in /opt/lib resolves from /opt/lib and the runtime policy"
"$1"
