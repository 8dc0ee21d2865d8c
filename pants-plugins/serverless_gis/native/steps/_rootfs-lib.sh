# shellcheck shell=bash
# Shared helpers for refresh-toolchain-lock.sh and build-toolchain-image.sh (sourced, not executed).
# Env: DEBIAN_MIRROR (default http://deb.debian.org/debian),
#      DEBIAN_SECURITY_MIRROR (default http://deb.debian.org/debian-security),
#      SOURCE_DATE_EPOCH (default 1609459200 = 2021-01-01, used for file mtimes / shadow dates).
set -euo pipefail

RECIPE_FORMAT=1
DEBIAN_MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
DEBIAN_SECURITY_MIRROR="${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}"
SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-1609459200}"
export SOURCE_DATE_EPOCH

die() { echo "$(basename "$0"): ERROR: $*" >&2; exit "${2:-1}"; }
note() { echo "$(basename "$0"): $*" >&2; }

# parse_recipe FILE: works for .packages and .lock files.
# Sets SUITE ARCH EXTRA_SUITES[] USER_NAME USER_UID WHEELS[] (lines after "@wheel ") PACKAGES[] FORMAT
parse_recipe() {
  local f="$1" line key rest
  SUITE="" ARCH="" USER_NAME="" USER_UID="" FORMAT=""
  EXTRA_SUITES=() WHEELS=() PACKAGES=()
  [ -f "$f" ] || die "no such recipe/lock file: $f"
  while IFS= read -r line || [ -n "$line" ]; do
    line="${line%%#*}"; line="$(echo "$line" | sed -e 's/^[[:space:]]*//' -e 's/[[:space:]]*$//')"
    [ -z "$line" ] && continue
    if [[ "$line" == @* ]]; then
      key="${line%% *}"; rest="${line#* }"
      case "$key" in
        @format) FORMAT="$rest" ;;
        @suite) SUITE="$rest" ;;
        @arch) ARCH="$rest" ;;
        @extra-suite) EXTRA_SUITES+=("$rest") ;;
        @user) USER_NAME="${rest%% *}"; USER_UID="${rest##* }" ;;
        @wheel) WHEELS+=("$rest") ;;
        *) die "$f: unknown directive $key" ;;
      esac
    else
      PACKAGES+=("$line")
    fi
  done <"$f"
  [ -n "$SUITE" ] || die "$f: missing @suite"
  [ -n "$ARCH" ] || die "$f: missing @arch"
}

pip_platform() {  # Debian arch -> manylinux platform tag for `pip download`
  case "$1" in
    amd64) echo manylinux2014_x86_64 ;;
    arm64) echo manylinux2014_aarch64 ;;
    *) die "unsupported arch $1" ;;
  esac
}

# Mounts are tracked so that cleanup_rootfs can always undo them.
ROOTFS_MOUNTS=()
cleanup_mounts() {
  local i
  for ((i=${#ROOTFS_MOUNTS[@]}-1; i>=0; i--)); do umount -l "${ROOTFS_MOUNTS[$i]}" 2>/dev/null || true; done
  ROOTFS_MOUNTS=()
}

# bootstrap_rootfs DIR: debootstrap minbase + apt sources for SUITE/EXTRA_SUITES, apt-get update.
bootstrap_rootfs() {
  local r="$1" s
  command -v debootstrap >/dev/null || die "debootstrap missing (apt-get install debootstrap)"
  local t0=$SECONDS
  debootstrap --variant=minbase --arch="$ARCH" "$SUITE" "$r" "$DEBIAN_MIRROR" >"$r.debootstrap.log" 2>&1 \
    || { tail -n 30 "$r.debootstrap.log" >&2; die "debootstrap $SUITE ($ARCH) failed, log: $r.debootstrap.log"; }
  note "debootstrap $SUITE/$ARCH: $((SECONDS - t0)) s"
  {
    echo "deb $DEBIAN_MIRROR $SUITE main"
    for s in "${EXTRA_SUITES[@]}"; do
      if [[ "$s" == *-security ]]; then echo "deb $DEBIAN_SECURITY_MIRROR $s main"; else echo "deb $DEBIAN_MIRROR $s main"; fi
    done
  } >"$r/etc/apt/sources.list"
  printf '#!/bin/sh\nexit 101\n' >"$r/usr/sbin/policy-rc.d"; chmod 755 "$r/usr/sbin/policy-rc.d"
  cat >"$r/etc/apt/apt.conf.d/90serverless-gis" <<'APT'
APT::Install-Recommends "false";
APT::Install-Suggests "false";
Acquire::Languages "none";
APT
  mount -t proc proc "$r/proc"; ROOTFS_MOUNTS+=("$r/proc")
  in_root "$r" apt-get update -qq || die "apt-get update in the rootfs failed"
}

in_root() {  # in_root DIR cmd...
  local r="$1"; shift
  DEBIAN_FRONTEND=noninteractive LC_ALL=C LANG=C PATH=/usr/sbin:/usr/bin:/sbin:/bin chroot "$r" "$@"
}

# list_installed DIR -> sorted "pkg=version" lines (pkg:arch for foreign-arch packages)
list_installed() {
  in_root "$1" dpkg-query -W -f '${db:Status-Abbrev}|${Package}|${Architecture}|${Version}\n' \
    | awk -F'|' -v a="$ARCH" '$1 ~ /^ii/ { n=$2; if ($3 != a && $3 != "all") n=n":"$3; print n"="$4 }' | LC_ALL=C sort
}

# download_wheels DEST SPEC... ; SPEC = "name==ver" or "name==ver file sha256=HEX" (locked).
# Prints "name==ver file sha256=HEX" per wheel. Locked specs are downloaded with --require-hashes.
download_wheels() {
  local dest="$1"; shift
  local spec name file sha plat req
  plat="$(pip_platform "$ARCH")"
  mkdir -p "$dest"
  for spec in "$@"; do
    read -r name file sha <<<"$spec"
    req="$dest/req.txt"
    if [ -n "${sha:-}" ]; then echo "$name --hash=sha256:${sha#sha256=}" >"$req"; else echo "$name" >"$req"; fi
    local d; d="$(mktemp -d "$dest/w.XXXX")"
    python3 -m pip download -q --disable-pip-version-check --no-deps --only-binary=:all: \
      --platform "$plat" --python-version 3.9 --implementation py --abi none \
      ${sha:+--require-hashes} -r "$req" -d "$d" >&2 \
      || python3 -m pip download -q --disable-pip-version-check --no-deps --only-binary=:all: \
      --platform "$plat" --python-version 3.9 ${sha:+--require-hashes} -r "$req" -d "$d" >&2 \
      || die "pip download of wheel $name failed (expected ${sha:-any hash})"
    local got; got="$(ls "$d")"
    [ "$(echo "$got" | wc -l)" = 1 ] || die "expected one wheel for $name, got: $got"
    if [ -n "${file:-}" ] && [ "$got" != "$file" ]; then die "wheel $name: locked file $file, pip chose $got"; fi
    mv "$d/$got" "$dest/$got"; rmdir "$d"
    echo "$name $got sha256=$(sha256sum "$dest/$got" | cut -d' ' -f1)"
  done
}

# install_wheel_into_root DIR WHEEL: unpack a wheel (no pip needed in the image).
install_wheel_into_root() {
  local r="$1" whl="$2" site
  site="$(cd "$r" && ls -d usr/lib/python3.*/ 2>/dev/null | head -n1)"
  [ -n "$site" ] || die "python3 missing in rootfs; cannot install $whl"
  site="/usr/local/lib/$(basename "$site")/dist-packages"
  python3 - "$r" "$whl" "$site" <<'PY'
import os, sys, zipfile, stat
root, whl, site = sys.argv[1:]
z = zipfile.ZipFile(whl)
for info in sorted(z.infolist(), key=lambda i: i.filename):
    n = info.filename
    if n.endswith('/'):
        continue
    parts = n.split('/')
    if parts[0].endswith('.data') and len(parts) > 2:
        kind, rest = parts[1], '/'.join(parts[2:])
        dest = {'scripts': '/usr/local/bin', 'purelib': site, 'platlib': site}.get(kind)
        if dest is None:
            sys.exit(f'unsupported wheel data dir {kind} in {whl}')
    else:
        dest, rest = site, n
    if rest.endswith('/RECORD') or '/__pycache__/' in '/' + rest:
        continue
    out = os.path.join(root + dest, rest)
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, 'wb') as f:
        f.write(z.read(info))
    mode = (info.external_attr >> 16) & 0o777
    if dest == '/usr/local/bin' or mode & 0o111:
        mode = 0o755
    os.chmod(out, mode or 0o644)
PY
}

# add_user DIR NAME UID
add_user() {
  local r="$1" name="$2" uid="$3"
  in_root "$r" groupadd -g "$uid" "$name"
  in_root "$r" useradd -u "$uid" -g "$uid" -m -s /bin/bash "$name"
  # builds install dependency trees into the real prefix (/opt), as this user
  mkdir -p "$r/opt"; chown "$uid:$uid" "$r/opt"
}

# normalize_rootfs DIR: drop caches/logs/host-specific files, pin dates. Cheap determinism only.
normalize_rootfs() {
  local r="$1" days=$((SOURCE_DATE_EPOCH / 86400))
  cleanup_mounts
  rm -f "$r/usr/sbin/policy-rc.d" "$r/etc/resolv.conf" "$r/etc/hostname" "$r/var/cache/ldconfig/aux-cache"
  rm -rf "$r"/var/cache/apt/* "$r"/var/lib/apt/lists/* "$r"/var/cache/debconf/*-old "$r"/var/lib/dpkg/*-old \
         "$r"/var/log/* "$r"/tmp/* "$r"/var/tmp/* "$r"/root/.cache
  mkdir -p "$r/var/lib/apt/lists/partial"
  : >"$r/etc/machine-id" 2>/dev/null || true
  find "$r/usr" -depth -type d -name __pycache__ -exec rm -rf {} +
  # password-change dates written by pwconv/useradd are "today": pin them.
  local f
  for f in "$r/etc/shadow" "$r/etc/shadow-" "$r/etc/gshadow-" "$r/etc/passwd-" "$r/etc/group-"; do
    [ -f "$f" ] || continue
    case "$f" in */shadow|*/shadow-) sed -i -E "s/^([^:]*:[^:]*:)[0-9]+:/\1${days}:/" "$f" ;; esac
  done
  rm -f "$r/etc/shadow-" "$r/etc/gshadow-" "$r/etc/passwd-" "$r/etc/group-" "$r/etc/subuid-" "$r/etc/subgid-"
}

# deterministic_tar DIR -> stdout
deterministic_tar() {
  tar -C "$1" --sort=name --numeric-owner --mtime="@$SOURCE_DATE_EPOCH" --clamp-mtime \
      --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime \
      --format=posix -cf - .
}
