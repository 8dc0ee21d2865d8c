#!/usr/bin/env bash
# Builds the pex tool PEX that pants.toml's [pex-cli] points at (Pants 2.17 would download it
# from GitHub, which is not reachable here). pex built by itself is reproducible, so its
# sha256 is pinned in pants.toml's [pex-cli].known_versions, which this script reads.
#
# Its entry point (pex-tool/pants_pex_entry.py) keeps the PEX_ROOT Pants passes, so pex caches in
# Pants' named cache instead of the account's ~/.cache/pex.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
. "$here/hermetic-pip.sh"

PEX_VERSION=2.105.2
PEX_WHEEL_SHA256=5a4d73fbeab30ddf70e360971cb19b9fa80b2a29cfe83e786215fcdd5ef1af9d
PEX_PEX_SHA256="$(sed -n "s/^ *\"v$PEX_VERSION|linux_x86_64|\([0-9a-f]\{64\}\)|.*/\1/p" "$here/../pants.toml")"
[[ -n "$PEX_PEX_SHA256" ]] || { echo "ERROR: no v$PEX_VERSION entry in pants.toml's [pex-cli].known_versions." >&2; exit 1; }
DEST="$HOME/.cache/serverless-gis/pex/v$PEX_VERSION/pex"

[[ -f "$DEST" && "$(sha256sum "$DEST" | cut -d' ' -f1)" == "$PEX_PEX_SHA256" ]] && exit 0

python=""
for candidate in "${PANTS_BOOTSTRAP_PYTHON:-}" python3 python3.9 "$HOME"/.pyenv/versions/3.*/bin/python3; do
  [[ -n "$candidate" ]] || continue
  if "$candidate" -c 'import sys, venv; assert (3, 8) <= sys.version_info[:2] <= (3, 12)' >/dev/null 2>&1; then
    python="$candidate"
    break
  fi
done
[[ -n "$python" ]] || { echo "ERROR: need CPython 3.8-3.12 to build the pex tool." >&2; exit 1; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
echo "pex==$PEX_VERSION --hash=sha256:$PEX_WHEEL_SHA256" > "$work/req.txt"
"$python" -m venv "$work/venv"
"$work/venv/bin/pip" download --quiet --disable-pip-version-check --no-deps --require-hashes -r "$work/req.txt" -d "$work/wheels" 2>&1 | { grep -v "^WARNING: Location" || true; } >&2
"$work/venv/bin/pip" install --quiet --disable-pip-version-check --no-deps --no-index --find-links "$work/wheels" "pex==$PEX_VERSION"
"$work/venv/bin/pex" --no-pypi --find-links "$work/wheels" "pex==$PEX_VERSION" \
  -D "$here/pex-tool" -e pants_pex_entry:main --no-strip-pex-env \
  --python-shebang '/usr/bin/env python3' --disable-cache -o "$work/pex" >/dev/null
actual="$(sha256sum "$work/pex" | cut -d' ' -f1)"
if [[ "$actual" != "$PEX_PEX_SHA256" ]]; then
  echo "ERROR: built pex tool has sha256 $actual, expected $PEX_PEX_SHA256." >&2
  exit 1
fi
mkdir -p "$(dirname "$DEST")"
mv "$work/pex" "$DEST.partial" && mv "$DEST.partial" "$DEST"
echo "Built pex tool $PEX_VERSION at $DEST" >&2
