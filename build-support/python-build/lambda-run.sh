#!/usr/bin/env bash
# Host side: run one Lambda-style invoke in the runtime-emulation container. No image is built or
# committed: the bare runtime image (bullseye minbase from its lock: glibc 2.31, no -dev packages,
# no compiler) gets everything by read-only bind mounts, where AWS Lambda has them:
#   CPython tree (build-cpython.sh)  -> /var/lang     (Lambda: /var/lang/bin/python3.13)
#   layer dir(s)                     -> /opt          (several: merged in order, later ones win,
#                                                      like Lambda extracts layers)
#   function dir                     -> /var/task
#   lambda-invoke.py                 -> /var/runtime/lambda-invoke.py
# plus Lambda's environment (LD_LIBRARY_PATH, PATH, LANG, TZ, LAMBDA_TASK_ROOT, ...), network off,
# read-only root filesystem with a writable /tmp, a non-root uid. Nothing else: no GDAL_DATA,
# PROJ_DATA or PROJ_LIB unless given with -e.
#
#   lambda-run.sh --image TAG --python PYTREE --task DIR [--layer DIR]... [-e NAME=VALUE]...
#                 [--] HANDLER [EVENT]
#     HANDLER, EVENT  as for lambda-invoke.py (EVENT: JSON text, @FILE inside the container, or -
#                     for stdin). Prints the handler result (JSON) on stdout.
#     --image TAG     runtime image, e.g. $(build-toolchain-image.sh --print-tag \
#                     native/toolchain/bullseye-x86_64-runtime.lock)
#     --shell         instead of invoking, run `python3 -I -c "$CODE"` from env CODE (debugging)
# Exit: the invoke's status; 97 no Docker daemon; 2 usage.
set -euo pipefail
die() { echo "lambda-run: ERROR: $*" >&2; exit "${2:-1}"; }
here="$(cd "$(dirname "$0")" && pwd)"
IMAGE="" PYTREE="" TASK="" LAYERS=() ENVS=() SHELL_MODE=0
while [ $# -gt 0 ]; do
  case "$1" in
    --image) IMAGE="$2"; shift 2 ;;
    --python) PYTREE="$2"; shift 2 ;;
    --task) TASK="$2"; shift 2 ;;
    --layer) LAYERS+=("$2"); shift 2 ;;
    -e) ENVS+=(-e "$2"); shift 2 ;;
    --shell) SHELL_MODE=1; shift ;;
    --) shift; break ;;
    -*) die "unknown option $1" 2 ;;
    *) break ;;
  esac
done
[ -n "$IMAGE" ] && [ -n "$PYTREE" ] && [ -n "$TASK" ] || die "--image, --python and --task are required" 2
[ "$SHELL_MODE" = 1 ] || [ $# -ge 1 ] || die "HANDLER missing" 2
docker info >/dev/null 2>&1 || { echo "lambda-run: no Docker daemon (build-support/docker/ensure-dockerd.sh)" >&2; exit 97; }
docker image inspect "$IMAGE" >/dev/null 2>&1 || die "image $IMAGE not loaded (pants-plugins/serverless_gis/native/steps/build-toolchain-image.sh)"
PYTREE="$(readlink -f "$PYTREE")" TASK="$(readlink -f "$TASK")"
[ -x "$PYTREE/bin/python3" ] || die "no bin/python3 in $PYTREE" 2

cleanup=""
trap '[ -n "$cleanup" ] && rm -rf "$cleanup"' EXIT
if [ ${#LAYERS[@]} = 0 ]; then
  cleanup="$(mktemp -d)"; OPT="$cleanup"; chmod 0755 "$OPT"
elif [ ${#LAYERS[@]} = 1 ]; then
  OPT="$(readlink -f "${LAYERS[0]}")"
else
  cleanup="$(mktemp -d)"; OPT="$cleanup"; chmod 0755 "$OPT"
  for l in "${LAYERS[@]}"; do cp -a --reflink=auto "$(readlink -f "$l")/." "$OPT/"; done
fi

PYV="$("$PYTREE/bin/python3" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null || echo 3.13)"
# The provider's sandbox and environment, from the ruleset's runtime model (as the invoke tests).
mapfile -t lambda_args < <(PYTHONPATH="$here/../../pants-plugins" python3 -m serverless_gis.providers aws "$PYV")
run=(docker run --rm -i --network none "${lambda_args[@]}"
  -v "$PYTREE:/var/lang:ro" -v "$OPT:/opt:ro" -v "$TASK:/var/task:ro"
  -v "$here/../../pants-plugins/serverless_gis/native/steps/lambda-invoke.py:/var/runtime/lambda-invoke.py:ro"
  "${ENVS[@]}" -w /var/task "$IMAGE")
if [ "$SHELL_MODE" = 1 ]; then
  "${run[@]}" /var/lang/bin/python3 -c "${CODE:?set CODE}"
else
  "${run[@]}" /var/lang/bin/python3 -I /var/runtime/lambda-invoke.py "$@"
fi
