#!/usr/bin/env bash
# Install the pinned BuildGrid (requirements.txt, hash-checked) into its own venv:
#   ${XDG_CACHE_HOME:-$HOME/.cache}/serverless-gis/buildgrid-<version>
# Idempotent: when the venv was built from the same requirements.txt it only prints the path.
# Stdout: the venv path (one line). Messages go to stderr.
# Python 3.13 is found as: $BUILDGRID_PYTHON, then python3.13 on PATH, then pyenv's 3.13.x.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REQS="$HERE/requirements.txt"

pin="$(sed -n 's/^buildgrid==\([^ ]*\).*/\1/p' "$REQS")"
[[ -n "$pin" ]] || { echo "install.sh: no buildgrid== pin in $REQS" >&2; exit 1; }
CACHE_ROOT="${XDG_CACHE_HOME:-$HOME/.cache}/serverless-gis"
VENV="$CACHE_ROOT/buildgrid-$pin"
STAMP="$VENV/.serverless-gis-installed"
want="$(sha256sum "$REQS" | cut -d' ' -f1)"

# Fast path: nothing to do.
if [[ -x "$VENV/bin/python" && -f "$STAMP" && "$(cat "$STAMP")" == "$want" ]]; then
  echo "$VENV"
  exit 0
fi

is_py313() {
  [[ -n "$1" && -x "$1" ]] && "$1" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 13))' 2>/dev/null
}

find_python() {
  local cand
  if [[ -n "${BUILDGRID_PYTHON:-}" ]]; then
    is_py313 "$BUILDGRID_PYTHON" && { echo "$BUILDGRID_PYTHON"; return 0; }
    echo "install.sh: BUILDGRID_PYTHON=$BUILDGRID_PYTHON is not a CPython 3.13 interpreter" >&2
    return 1
  fi
  cand="$(command -v python3.13 || true)"
  # pyenv's shim exists even when 3.13 is not selected: is_py313 runs it, so a broken shim is skipped.
  is_py313 "$cand" && { echo "$cand"; return 0; }
  local root="${PYENV_ROOT:-$HOME/.pyenv}"
  for cand in $(printf '%s\n' "$root"/versions/3.13*/bin/python3.13 | sort -V -r); do
    is_py313 "$cand" && { echo "$cand"; return 0; }
  done
  return 1
}

if ! PY="$(find_python)"; then
  cat >&2 <<'EOF'
install.sh: CPython 3.13 not found (BuildGrid 0.9.1 needs Python >= 3.13; the lock is for 3.13).
Install one of:
  pyenv install 3.13            # then re-run; found under $PYENV_ROOT/versions/3.13.*
  apt-get install python3.13 python3.13-venv   # Debian trixie or newer
or point BUILDGRID_PYTHON at a python3.13 binary.
EOF
  exit 1
fi

mkdir -p "$CACHE_ROOT"
exec 9>"$CACHE_ROOT/.buildgrid-$pin.lock"
if command -v flock >/dev/null; then flock 9; fi
# Another process may have finished the install while we waited for the lock.
if [[ -x "$VENV/bin/python" && -f "$STAMP" && "$(cat "$STAMP")" == "$want" ]]; then
  echo "$VENV"
  exit 0
fi

echo "install.sh: installing BuildGrid $pin with $PY into $VENV" >&2
rm -rf "$VENV"
if ! "$PY" -m venv "$VENV" >&2; then
  echo "install.sh: '$PY -m venv' failed (on Debian: apt-get install python3.13-venv)" >&2
  rm -rf "$VENV"
  exit 1
fi
# PIP_CONFIG_FILE=/dev/null: no machine pip.conf (constraints, extra indexes) steers the install.
if ! PIP_CONFIG_FILE=/dev/null "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
  --no-input --isolated --require-hashes --no-deps -r "$REQS" >&2; then
  echo "install.sh: pip install failed; see above" >&2
  rm -rf "$VENV"
  exit 1
fi
"$VENV/bin/python" -c 'import buildgrid.server.app.cli' >&2
echo "$want" >"$STAMP"
echo "install.sh: done" >&2
echo "$VENV"
