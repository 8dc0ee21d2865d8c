#!/usr/bin/env bash
# Org-scale edit benchmark: in a temporary clone of this commit, adds N functions (both arches, each
# on //layers/geo) beside the example's, packages everything once, then prints how long
# `./pants package ::` takes (pantsd warm) for a no-op run, for one edited handler, and for one
# function's new dependency (a minimal relock: the lockfiles gain only pytz's entries, which the
# clone first removes, with the upstream-suites check's pytz requirement), and which files under dist/ each change rewrote (exactly that function's
# files is the goal). Uses this machine's Pants store, so the layers and natives come from the cache.
#
#   build-support/bench/org.sh [--functions N] [--keep]
#     --functions N  functions to add (default 12; with both arches, 2N packages)
#     --keep         leave the temporary clone (its path is printed)
# Exit: 0 figures printed; 1 a run failed or the edit rewrote another function's files; 2 usage.
set -euo pipefail
die() { echo "org-bench: ERROR: $1" >&2; exit "${2:-1}"; }
N=12 KEEP=0
while [ $# -gt 0 ]; do
  case "$1" in
    --functions) N="$2"; shift 2 ;;
    --keep) KEEP=1; shift ;;
    -h | --help) sed -n '2,/^set -e/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument $1 (see --help)" 2 ;;
  esac
done
[[ "$N" =~ ^[1-9][0-9]*$ ]] || die "--functions takes a positive number" 2
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

org="$(mktemp -d /tmp/org-bench.XXXXXX)"
cleanup() {
  (cd "$org/repo" 2>/dev/null && ./pants kill-pantsd >/dev/null 2>&1) || true
  if [ "$KEEP" = 1 ]; then echo "org-bench: kept $org/repo" >&2; else rm -rf "$org"; fi
}
trap cleanup EXIT
git clone -q . "$org/repo"
cd "$org/repo"
for i in $(seq -w 1 "$N"); do
  mkdir -p "org/fn$i"
  cat >"org/fn$i/handler.py" <<PY
from shapely.geometry import shape


def handler(event, context):
    """Team $i: the area of a GeoJSON geometry."""
    return {"team": $((10#$i)), "area": shape(event["geometry"]).area}
PY
  cat >"org/fn$i/BUILD" <<BUILD
python_sources(name="src", resolve=parametrize("aws-py313-x86_64", "aws-py313-arm64"))

serverless_function(
    name="fn$i",
    handler="handler.py:handler",
    runtime=parametrize(x86_64="//runtimes:aws-py313-x86_64", arm64="//runtimes:aws-py313-arm64"),
    layers=["//layers/geo"],
)
BUILD
done
# The state before the relock: no pytz in the locks, headers untouched, and none for the upstream
# suites' check either (the one target here that asks for it; it stays so in both states).
sed -i '/"pytz==/d' checks/upstream-suites/BUILD
locks=(3rdparty/python/aws-py313-x86_64.lock 3rdparty/python/aws-py313-arm64.lock)
for lock in "${locks[@]}"; do
  cp "$lock" "$org/$(basename "$lock").relocked"
  python3 - "$lock" <<'PY'
import json, sys
path = sys.argv[1]
lines = open(path).read().splitlines(keepends=True)
header = [l for l in lines if l.lstrip().startswith("//")]
lock = json.loads("".join(l for l in lines if not l.lstrip().startswith("//")))
lock["requirements"] = [r for r in lock["requirements"] if not r.startswith("pytz")]
for resolve in lock["locked_resolves"]:
    resolve["locked_requirements"] = [r for r in resolve["locked_requirements"] if r["project_name"] != "pytz"]
open(path, "w").write("".join(header) + json.dumps(lock, indent=2, sort_keys=True) + "\n")
PY
done
git add -A && git -c user.name=bench -c user.email=bench@localhost commit -qm "org of $N functions"

export PANTS_DYNAMIC_UI=false
package() { ./pants package :: >"$org/last.log" 2>&1 || { tail -n 30 "$org/last.log" >&2; die "./pants package :: failed"; }; }
digests() { (cd dist && find . -type f -print0 | sort -z | xargs -0 sha256sum) >"$1"; }
seconds() { local t0; t0="$(date +%s.%N)"; "$@"; awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { print b - a }'; }

first="$(seconds package)"
digests "$org/before"
noop="$(seconds package)"
echo "# benchmark edit" >>org/fn01/handler.py
edit="$(seconds package)"
digests "$org/after"
rewrote() { { diff "$1" "$2" || true; } | sed -nE 's/^> [0-9a-f]+  \.\/(.*)/\1/p' | sort; }
changed="$(rewrote "$org/before" "$org/after")"
# fn02 asks for pytz; the relock adds exactly pytz's entries back to each lockfile.
for lock in "${locks[@]}"; do cp "$org/$(basename "$lock").relocked" "$lock"; done
sed -i 's|layers=\["//layers/geo"\],|layers=["//layers/geo"],\n    requirements=["pytz"],|' org/fn02/BUILD
relock="$(seconds package)"
digests "$org/relocked"
added="$(rewrote "$org/after" "$org/relocked")"
functions="$(find . -name BUILD -not -path './dist/*' -not -path './.git/*' -print0 | { xargs -0 grep -l 'serverless_function(' || true; } | wc -l)"

printf 'org-bench: %s BUILD files with functions (%s added), both arches, %s\n' "$functions" "$N" "$(git rev-parse --short HEAD~1)"
printf '  first package ::   %6.1f s (layers and natives from the store)\n' "$first"
printf '  no-op package ::   %6.1f s (goal <= 3 s)\n' "$noop"
printf '  one handler edit   %6.1f s (goal <= 10 s)\n' "$edit"
echo "  files the edit rewrote:"
printf '    %s\n' $changed
printf '  one new dependency %6.1f s (fn02 asks for pytz; the lockfiles gain its entries)\n' "$relock"
echo "  files the new dependency rewrote:"
printf '    %s\n' $added
others="$(printf '%s\n' $changed | grep -v '^org/fn01/' || true)"
[ -z "$others" ] || die "the edit of org/fn01/handler.py rewrote other files: $others"
others="$(printf '%s\n' $added | grep -v '^org/fn02/' || true)"
[ -z "$others" ] || die "fn02's new dependency rewrote other files: $others"
[ -n "$added" ] || die "fn02's new dependency rewrote nothing"
