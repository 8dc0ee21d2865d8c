# shellcheck shell=bash
# One check of whether this host runs another CPU's programs through qemu, sourced by process.sh,
# build-toolchain-image.sh and build-support/docker/ensure-binfmt-arm64.sh.

# qemu_registered CPU (e.g. aarch64): its binfmt_misc entry exists, is enabled, and has flag F
# (the interpreter is opened at registration, so it also works inside containers).
qemu_registered() {
  local entry="/proc/sys/fs/binfmt_misc/qemu-$1"
  [ -r "$entry" ] && grep -qx enabled "$entry" && grep -q '^flags: .*F' "$entry"
}
