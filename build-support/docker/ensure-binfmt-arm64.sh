#!/usr/bin/env bash
# Idempotently let this x86_64 host run aarch64 binaries (arm64 smoke checks and invoke tests run
# in arm64 images under qemu): qemu-user-static installed, binfmt_misc mounted, qemu-aarch64
# registered with Debian's entry (flags OPF: F opens the interpreter now, so it works inside
# containers too). Needs root the first time; quick afterwards.
set -euo pipefail
log() { echo "ensure-binfmt-arm64: $*" >&2; }
. "$(dirname "$0")/../../pants-plugins/serverless_gis/native/steps/_qemu.sh"
entry=/proc/sys/fs/binfmt_misc/qemu-aarch64
qemu_registered aarch64 && exit 0
[ "$(id -u)" = 0 ] || { log "ERROR: qemu-aarch64 is not registered and we are not root (sudo $0)"; exit 2; }
if [ ! -f /usr/lib/binfmt.d/qemu-aarch64.conf ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq --no-install-recommends qemu-user-static >/dev/null \
    || { log "ERROR: apt-get install qemu-user-static failed"; exit 2; }
fi
[ -e /proc/sys/fs/binfmt_misc/register ] || mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc \
  || { log "ERROR: cannot mount binfmt_misc"; exit 2; }
[ -e "$entry" ] && echo -1 >"$entry"  # disabled, or registered without F: replace it
cat /usr/lib/binfmt.d/qemu-aarch64.conf >/proc/sys/fs/binfmt_misc/register
qemu_registered aarch64 || { log "ERROR: qemu-aarch64 registration failed"; exit 1; }
log "registered qemu-aarch64 ($(sed -n 's/^interpreter //p' "$entry"))"
