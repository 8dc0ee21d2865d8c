#!/usr/bin/env bash
# Build a Docker image from a toolchain lock, offline except for the Debian mirror and PyPI.
#   build-toolchain-image.sh <file.lock> [tag]        build (no-op if the tag already exists, FORCE=1 rebuilds)
#   build-toolchain-image.sh --print-tag <file.lock>  print the content-derived tag and exit
# Default tag: ${IMAGE_REPO:-serverless-gis/toolchain}:<first 16 hex of sha256(lock file)>.
# Steps: debootstrap --variant=minbase <@suite> (another architecture runs under qemu: binfmt, see
# build-support/docker/ensure-binfmt-arm64.sh); the index's sha256 of every locked package checked
# against the lock; apt-get install pkg=ver for every locked package; verify the installed set
# equals the lock exactly; unpack the @sysroot packages (sha256-checked); unpack locked @wheels
# (sha256-checked); add @user; normalize; deterministic tar, loaded as an image of the lock's
# architecture (`docker load` of an archive whose config names it: `docker import` would label it
# with the host's).
# Exit codes: 2 usage/env, 3 mirror no longer serves a locked version or file, 4 installed set != lock, 1 other.
# Env: IMAGE_REPO, FORCE, WORK_DIR, KEEP_WORK, ROOTFS_TAR_OUT (also write the rootfs tar here),
#      DEBIAN_MIRROR, DEBIAN_SECURITY_MIRROR, SOURCE_DATE_EPOCH (see _rootfs-lib.sh).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
. "$HERE/_rootfs-lib.sh"
. "$HERE/_qemu.sh"

lock_tag() {
  local h; h="$(sha256sum "$1" | cut -c1-16)"
  echo "${IMAGE_REPO:-serverless-gis/toolchain}:$h"
}
if [ "${1:-}" = "--print-tag" ]; then
  [ $# = 2 ] || die "usage: $0 --print-tag <file.lock>" 2
  [ -f "$2" ] || die "no such lock file: $2" 2
  lock_tag "$2"; exit 0
fi
[ $# -ge 1 ] && [ $# -le 2 ] || die "usage: $0 <file.lock> [tag] | --print-tag <file.lock>" 2
lock="$1"; tag="${2:-$(lock_tag "$lock")}"
[ "$(id -u)" = 0 ] || die "must run as root (debootstrap/chroot)" 2
parse_recipe "$lock"
[[ "$READABLE_FORMATS" == *" $FORMAT "* ]] || die "$lock has @format '${FORMAT}', this script reads formats$READABLE_FORMATS: refresh it with refresh-toolchain-lock.sh" 2
docker info >/dev/null 2>&1 || die "no Docker daemon answers 'docker info': start one (as root; this repository: build-support/host-setup.sh)" 2
if [ -z "${FORCE:-}" ] && docker image inspect "$tag" >/dev/null 2>&1; then
  note "image $tag already present"; echo "$tag"; exit 0
fi

work="${WORK_DIR:-$(mktemp -d /tmp/toolchain-image.XXXXXX)}"; mkdir -p "$work"
root="$work/rootfs"; rm -rf "$root"
trap 'cleanup_mounts; [ -n "${KEEP_WORK:-}" ] || rm -rf "$work"' EXIT
t0=$SECONDS
if [ "$ARCH" != "$(dpkg --print-architecture)" ] && ! qemu_registered aarch64; then
  die "$lock is for $ARCH: building it on this $(dpkg --print-architecture) host needs qemu registered with binfmt_misc (as root: build-support/host-setup.sh)" 2
fi
bootstrap_rootfs "$root"
check_locked_sha256 "$root" "${PACKAGES[@]}"

# 1. every locked version must still be served: one dry run reports all missing versions at once.
pins=("${PACKAGES[@]}")
if ! in_root "$root" apt-get install -s -y --allow-downgrades "${pins[@]}" >"$work/dryrun.log" 2>&1; then
  missing="$(sed -n "s/^E: Version '\(.*\)' for '\(.*\)' was not found.*/\2=\1/p" "$work/dryrun.log")"
  if [ -n "$missing" ]; then
    echo "$(basename "$0"): ERROR: the mirror ($DEBIAN_MIRROR) no longer serves these locked versions:" >&2
    echo "$missing" | sed 's/^/  /' >&2
    echo "Refresh the lock: build-support/docker/refresh-toolchain-lock.sh <recipe.packages>" >&2
    exit 3
  fi
  tail -n 30 "$work/dryrun.log" >&2; die "apt-get cannot install the locked set (see above)"
fi
t1=$SECONDS
in_root "$root" apt-get install -y -qq --allow-downgrades "${pins[@]}" >"$work/install.log" 2>&1 \
  || { tail -n 30 "$work/install.log" >&2; die "apt-get install of the locked set failed"; }
note "install locked packages: $((SECONDS - t1)) s"

# 2. installed set must equal the lock exactly (no extra, no missing, no other version).
if ! diff <(printf '%s\n' "${PACKAGES[@]}" | LC_ALL=C sort) <(list_installed "$root") >"$work/diff" ; then
  echo "$(basename "$0"): ERROR: installed packages differ from $lock ('<' lock, '>' installed):" >&2
  grep '^[<>]' "$work/diff" >&2
  exit 4
fi

# 3. another architecture's packages for a cross compiler, then wheels
install_sysroot "$root"
# wheels (sha256 enforced by pip --require-hashes)
if [ ${#WHEELS[@]} -gt 0 ]; then
  download_wheels "$work/wheels" "${WHEELS[@]}" >/dev/null
  for w in "${WHEELS[@]}"; do
    read -r _ file _ <<<"$w"
    install_wheel_into_root "$root" "$work/wheels/$file"
  done
fi

# 4. user, cleanup, import
[ -n "$USER_NAME" ] && add_user "$root" "$USER_NAME" "$USER_UID"
normalize_rootfs "$root"
lock_sha="$(sha256sum "$lock" | cut -d' ' -f1)"
t2=$SECONDS
tar_out="${ROOTFS_TAR_OUT:-$work/rootfs.tar}"
deterministic_tar "$root" >"$tar_out"
python3 "$HERE/docker_archive.py" "$tar_out" "$tag" "$ARCH" "org.serverless-gis.lock-sha256=$lock_sha" "$work/image"
tar -C "$work/image" -cf - . | docker load >/dev/null
note "import: $((SECONDS - t2)) s; total $((SECONDS - t0)) s; $(du -sh "$root" | cut -f1) rootfs"
echo "$tag"
