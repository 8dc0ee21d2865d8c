# shellcheck shell=bash
# Shared helpers for refresh-toolchain-lock.sh and build-toolchain-image.sh (sourced, not executed).
# Env: DEBIAN_MIRROR (default http://deb.debian.org/debian),
#      DEBIAN_SECURITY_MIRROR (default http://deb.debian.org/debian-security),
#      SOURCE_DATE_EPOCH (default 1609459200 = 2021-01-01, used for file mtimes / shadow dates).
set -euo pipefail

# Format 2 adds each package's sha256 (from the signed index, checked again at every image build)
# and @sysroot; format 1 locks (versions only) are still read.
RECIPE_FORMAT=2
READABLE_FORMATS=" 1 2 "
DEBIAN_MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
DEBIAN_SECURITY_MIRROR="${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}"
SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-1609459200}"
export SOURCE_DATE_EPOCH

die() { echo "$(basename "$0"): ERROR: $*" >&2; exit "${2:-1}"; }
note() { echo "$(basename "$0"): $*" >&2; }

# parse_recipe FILE: works for .packages and .lock files.
# Sets SUITE ARCH EXTRA_SUITES[] USER_NAME USER_UID WHEELS[] (lines after "@wheel ") FORMAT,
# PACKAGES[] (name=version in a lock, name in a recipe) and PACKAGE_SHA256[name=version],
# SYSROOT_ARCH SYSROOT_DIR (`@sysroot <debian-arch> <dir>`: packages of another architecture
# unpacked into <dir>, a cross compiler's target libraries) and SYSROOT_PACKAGES[] (same forms).
parse_recipe() {
  local f="$1" line key rest pkg sha
  SUITE="" ARCH="" USER_NAME="" USER_UID="" FORMAT="" SYSROOT_ARCH="" SYSROOT_DIR=""
  EXTRA_SUITES=() WHEELS=() PACKAGES=() SYSROOT_PACKAGES=()
  declare -gA PACKAGE_SHA256=()
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
        @sysroot) SYSROOT_ARCH="${rest%% *}"; SYSROOT_DIR="${rest##* }" ;;
        @sysroot-package)
          read -r pkg sha <<<"$rest"
          [ -n "$SYSROOT_ARCH" ] || die "$f: @sysroot-package before @sysroot"
          SYSROOT_PACKAGES+=("$pkg")
          [ -z "${sha:-}" ] || PACKAGE_SHA256["${pkg%%=*}:$SYSROOT_ARCH=${pkg#*=}"]="${sha#sha256=}" ;;
        *) die "$f: unknown directive $key" ;;
      esac
    else
      read -r pkg sha <<<"$line"
      PACKAGES+=("$pkg"); [ -z "${sha:-}" ] || PACKAGE_SHA256["$pkg"]="${sha#sha256=}"
    fi
  done <"$f"
  [ -n "$SUITE" ] || die "$f: missing @suite"
  [ -n "$ARCH" ] || die "$f: missing @arch"
  if [ ${#SYSROOT_PACKAGES[@]} -gt 0 ] && [ -z "$SYSROOT_DIR" ]; then die "$f: @sysroot-package without @sysroot"; fi
  return 0
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
    # the mirror serves no other architecture's security builds: a sysroot comes from main
    echo "deb [arch=$ARCH${SYSROOT_ARCH:+,$SYSROOT_ARCH}] $DEBIAN_MIRROR $SUITE main"
    for s in "${EXTRA_SUITES[@]}"; do
      if [[ "$s" == *-security ]]; then echo "deb [arch=$ARCH] $DEBIAN_SECURITY_MIRROR $s main"; else echo "deb [arch=$ARCH] $DEBIAN_MIRROR $s main"; fi
    done
  } >"$r/etc/apt/sources.list"
  printf '#!/bin/sh\nexit 101\n' >"$r/usr/sbin/policy-rc.d"; chmod 755 "$r/usr/sbin/policy-rc.d"
  cat >"$r/etc/apt/apt.conf.d/90serverless-gis" <<'APT'
APT::Install-Recommends "false";
APT::Install-Suggests "false";
Acquire::Languages "none";
APT
  mount -t proc proc "$r/proc"; ROOTFS_MOUNTS+=("$r/proc")
  [ -z "$SYSROOT_ARCH" ] || in_root "$r" dpkg --add-architecture "$SYSROOT_ARCH"
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

# index_sha256 DIR SPEC... -> "SPEC sha256=HEX" per SPEC (name[:arch]=version), from the apt index
# (signed by the archive; apt checks every download against it).
index_sha256() {
  local r="$1" p a v h spec; shift
  [ $# -gt 0 ] || return 0
  declare -A found=()
  while IFS='|' read -r p a v h; do
    found["$p=$v"]="$h"; found["$p:$a=$v"]="$h"
  done < <(in_root "$r" apt-cache show "$@" 2>/dev/null | awk '
    /^Package: / { p = $2 } /^Architecture: / { a = $2 } /^Version: / { v = $2 }
    /^SHA256: / { print p "|" a "|" v "|" $2 }')
  for spec in "$@"; do
    [ -z "${found[$spec]:-}" ] || echo "$spec sha256=${found[$spec]}"
  done
}

# check_locked_sha256 DIR SPEC...: the index's sha256 of every SPEC equals the lock's (exit 3 naming
# the differing or unindexed ones). Format 1 locks have no sha256 to check.
check_locked_sha256() {
  local r="$1"; shift
  local spec h bad=() got
  declare -A indexed=()
  while read -r spec h; do indexed["$spec"]="${h#sha256=}"; done < <(index_sha256 "$r" "$@")
  for spec in "$@"; do
    got="${indexed[$spec]:-}"
    [ -n "${PACKAGE_SHA256[$spec]:-}" ] || continue
    [ "$got" = "${PACKAGE_SHA256[$spec]}" ] || bad+=("$spec: locked sha256 ${PACKAGE_SHA256[$spec]}, mirror ${got:-serves no such version}")
  done
  if [ ${#bad[@]} -gt 0 ]; then
    echo "$(basename "$0"): ERROR: the mirror ($DEBIAN_MIRROR) no longer serves these locked files:" >&2
    printf '  %s\n' "${bad[@]}" >&2
    echo "Refresh the lock: build-support/docker/refresh-toolchain-lock.sh <recipe.packages>" >&2
    exit 3
  fi
}

# install_sysroot DIR: download the @sysroot-package files (name:arch=version) through apt, check
# each against the lock's sha256, unpack them into the sysroot and make its absolute symlinks
# relative to it (libbz2.so -> /lib/aarch64-linux-gnu/... must resolve inside the sysroot, not in
# the image; Debian's `symlinks -c` skips them as dangling when run from outside).
install_sysroot() {
  local r="$1" spec f want got
  [ ${#SYSROOT_PACKAGES[@]} -gt 0 ] || return 0
  local specs=() debs="$r/tmp/sysroot-debs"
  for spec in "${SYSROOT_PACKAGES[@]}"; do specs+=("${spec%%=*}:$SYSROOT_ARCH=${spec#*=}"); done
  check_locked_sha256 "$r" "${specs[@]}"
  mkdir -p "$debs" "$r$SYSROOT_DIR"; chmod 777 "$debs"
  (cd "$debs" && in_root "$r" sh -c "cd /tmp/sysroot-debs && apt-get download -qq $(printf '%q ' "${specs[@]}")") \
    || die "apt-get download of the sysroot packages failed (see above)" 3
  for spec in "${specs[@]}"; do
    f="$(ls "$debs/${spec%%:*}_"*"_$SYSROOT_ARCH.deb")" || die "no downloaded file for $spec"
    want="${PACKAGE_SHA256[$spec]}" got="$(sha256sum "$f" | cut -d' ' -f1)"
    [ "$got" = "$want" ] || die "$spec: downloaded sha256 $got, locked $want" 3
    in_root "$r" dpkg-deb -x "/tmp/sysroot-debs/$(basename "$f")" "$SYSROOT_DIR"
  done
  rm -rf "$debs"
  python3 - "$r$SYSROOT_DIR" <<'PY'
import os, sys
root = sys.argv[1]
for d, dirs, files in os.walk(root):
    for name in dirs + files:
        path = os.path.join(d, name)
        target = os.readlink(path) if os.path.islink(path) else ""
        if target.startswith("/"):
            os.remove(path)
            os.symlink(os.path.relpath(root + target, d), path)
PY
}

# download_wheels DEST SPEC... ; SPEC = "name==ver" or "name==ver file sha256=HEX" (locked).
# Prints "name==ver file sha256=HEX" per wheel. Locked specs are downloaded with --require-hashes.
download_wheels() {
  local dest="$1"; shift
  # PyPI's files whatever this machine's pip configuration says
  local pip=(env) v
  for v in $(compgen -e | grep '^PIP_'); do pip+=(-u "$v"); done
  pip+=(PIP_CONFIG_FILE=/dev/null python3 -m pip)
  local spec name file sha plat req
  plat="$(pip_platform "$ARCH")"
  mkdir -p "$dest"
  for spec in "$@"; do
    read -r name file sha <<<"$spec"
    req="$dest/req.txt"
    if [ -n "${sha:-}" ]; then echo "$name --hash=sha256:${sha#sha256=}" >"$req"; else echo "$name" >"$req"; fi
    local d; d="$(mktemp -d "$dest/w.XXXX")"
    "${pip[@]}" download -q --disable-pip-version-check --no-deps --only-binary=:all: \
      --platform "$plat" --python-version 3.9 --implementation py --abi none \
      ${sha:+--require-hashes} -r "$req" -d "$d" >&2 \
      || "${pip[@]}" download -q --disable-pip-version-check --no-deps --only-binary=:all: \
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
