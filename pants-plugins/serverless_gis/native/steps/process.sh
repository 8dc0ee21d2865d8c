#!/usr/bin/env bash
# Host side of every native build step that Pants runs as a process (cached by Pants, so this only
# runs on a cache miss). Makes sure the toolchain image exists (built from its lock, or pulled by
# digest), then runs the given command in it with the network off, as the image's non-root user,
# with the process sandbox mounted at /work.
#   process.sh IMAGE_KIND IMAGE_REF_OR_LOCK TAG -- COMMAND...
#     IMAGE_KIND  lock      IMAGE_REF_OR_LOCK is a toolchain lock in the sandbox; TAG derives from it
#                 registry  IMAGE_REF_OR_LOCK is `repo@sha256:...`, pulled on a miss
# Env: SGIS_TARGET (for messages), SGIS_CCACHE (sandbox-relative named cache, optional),
#      SGIS_WRITABLE (space-separated dirs created writable for the container user),
#      SGIS_MOUNTS (read-only mounts, see below), SGIS_DOCKER_ARGS (more `docker run` options,
#      space-separated: a provider's sandbox user, read-only root), LAMBDA_* (passed through).
# Exit 97: no Docker daemon.
set -euo pipefail
kind="$1" ref="$2" tag="$3"; shift 3
[ "$1" = "--" ] && shift
here="$(cd "$(dirname "$0")" && pwd)"
. "$here/_qemu.sh"
target="${SGIS_TARGET:-a native target}"

if ! docker info >/dev/null 2>&1; then
  cat >&2 <<MSG
ERROR: $target must be built (it is in neither the local nor the remote cache), and that needs a
Docker daemon, but none answers 'docker info'. Fix: start one (as root; this repository's
build-support/host-setup.sh does), or point Pants at a remote cache that already holds this build
(see README, "Remote cache").
MSG
  exit 97
fi

if ! docker image inspect "$tag" >/dev/null 2>&1; then
  # Several builds may miss at once: build or pull the image once.
  exec 9>"/tmp/serverless-gis-image-${tag//[^a-zA-Z0-9]/_}.lock"
  flock 9
  if ! docker image inspect "$tag" >/dev/null 2>&1; then
    case "$kind" in
      lock) bash "$here/build-toolchain-image.sh" "$ref" "$tag" >&2 ;;
      registry) docker pull "$ref" >&2 && docker tag "$ref" "$tag" ;;
      *) echo "ERROR: unknown image kind $kind" >&2; exit 2 ;;
    esac
  fi
  flock -u 9
fi

# The sandbox was written with the umask of whoever runs Pants (077 on hardened hosts): the
# container user must still read it.
chmod -R a+rX -- .
for d in ${SGIS_WRITABLE:-}; do mkdir -p "$d" && chmod 0777 "$d"; done
mounts=(-v "$PWD:/work")
# SGIS_MOUNTS: "sandbox-dir:/container/path ..." mounted read-only (e.g. layers at /opt).
for m in ${SGIS_MOUNTS:-}; do mounts+=(-v "$PWD/${m%%:*}:${m#*:}:ro"); done
envs=()
for v in $(compgen -e | grep '^LAMBDA_' || true); do envs+=(-e "$v=${!v}"); done
if [ -n "${SGIS_CCACHE:-}" ]; then
  ccache_dir="$(readlink -f "$SGIS_CCACHE")"
  chmod 0777 "$ccache_dir"
  mounts+=(-v "$ccache_dir:/ccache")
  envs+=(-e CCACHE_DIR=/ccache)
fi
# The container must not outlive this script when Pants cancels the step, even with SIGKILL: a
# watchdog in its own session kills it once this script is gone.
name="sgis-$$-$RANDOM"
setsid -f sh -c "while kill -0 $$ 2>/dev/null; do sleep 2; done; docker kill $name >/dev/null 2>&1" \
  </dev/null >/dev/null 2>&1
# The step may use the CPUs this process may use (all, unless Pants runs under `taskset`); build
# steps run the number of jobs Pants gives them (`{pants_concurrency}` in their command). The
# hostname is fixed: outputs depend on none of these.
cpus=()
[ -n "${DOCKER_HOST:-}" ] || cpus=(--cpuset-cpus "$(sed -n 's/^Cpus_allowed_list:[[:space:]]*//p' /proc/self/status)")
read -r -a extra <<< "${SGIS_DOCKER_ARGS:-}"
# An image of another architecture (arm64 on an x86_64 host) runs under qemu through binfmt_misc.
arch="$(docker image inspect -f '{{.Architecture}}' "$tag")"
if [ "$arch" != "$(docker version -f '{{.Server.Arch}}')" ] && [ "$arch" = arm64 ] && ! qemu_registered aarch64; then
  cat >&2 <<MSG
ERROR: $target runs in $tag, an arm64 image, and this $(docker version -f '{{.Server.Arch}}') host cannot run
arm64 programs: qemu-aarch64 is not registered with binfmt_misc, or its entry is disabled. Fix: run
build-support/host-setup.sh (as root, once per boot), or point Pants at a remote cache that already
holds this step.
MSG
  exit 96
fi
docker run --rm --name "$name" --hostname sgis-build --network none --user 1000:1000 --platform "linux/$arch" "${cpus[@]}" \
  "${extra[@]}" "${mounts[@]}" "${envs[@]}" -e SOURCE_DATE_EPOCH=1609459200 -w /work "$tag" "$@" </dev/null
