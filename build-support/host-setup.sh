#!/usr/bin/env bash
# One-time host setup for native builds (as root): debootstrap for toolchain images, a running
# Docker daemon, and qemu-aarch64 registered with binfmt_misc (arm64 images: their smoke checks
# and invoke tests). Only builds that miss every cache use them. Idempotent and quick when done.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if ! command -v debootstrap >/dev/null 2>&1; then
  [ "$(id -u)" = 0 ] || { echo "host-setup: run as root to install debootstrap" >&2; exit 2; }
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq && apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
fi
"$here/docker/ensure-dockerd.sh"
"$here/docker/ensure-binfmt-arm64.sh"
