"""Turn an installed tree into a deployable zip: install replacement wheels, prune (keeping what
kept modules import), precompile bytecode, place native trees, check for duplicated libraries, zip
deterministically.

Runs inside a Pants process with the runtime's Python (bytecode must match its version).
Writes the zip and a JSON report (sizes, largest contributors, distributions found, duplicates).
"""

import argparse
import fnmatch
import hashlib
import importlib.util
import json
import marshal
import os
import re
import sys
import sysconfig
import zipfile
from collections import defaultdict

from import_closure import kept_for_imports

EPOCH = (1980, 1, 1, 0, 0, 0)
# `libgdal.so.36`, `libscipy_openblas64_-56d6093b.so`, `libgfortran-040039e1-0352e75f.so.5.0.0`
SHARED_LIBRARY = re.compile(r"^(lib[A-Za-z0-9_+]+?)(?:-[0-9a-f]{8})*\.so(?:\.[0-9.]+)?$")
DATA_FILES = ("proj.db",)
LARGE = 64 * 1024
# Licence texts and notices are never pruned: a native tree's `share/licenses/<component>/`, and a
# distribution's `*.dist-info/licenses/` and LICENSE/COPYING/NOTICE/AUTHORS files.
LICENCE_DIR = "share/licenses/"
LICENCE_NAME = re.compile(r"(LICEN[CS]E|COPYING|NOTICE|AUTHORS)", re.IGNORECASE)


def canonical(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def installed_dists(src):
    return {
        canonical(d[: -len(".dist-info")].rsplit("-", 1)[0]): d
        for d in os.listdir(src)
        if d.endswith(".dist-info")
    }


def remove_dist(src, dist_info):
    record = os.path.join(src, dist_info, "RECORD")
    if not os.path.exists(record):
        sys.exit(f"error: {dist_info} has no RECORD, so it cannot be replaced by a built wheel")
    dirs = set()
    with open(record) as f:
        for line in f:
            rel = line.rsplit(",", 2)[0]
            path = os.path.normpath(os.path.join(src, rel))
            if rel and path.startswith(os.path.abspath(src) + os.sep) and os.path.isfile(path):
                os.remove(path)
                dirs.add(os.path.dirname(path))
    for d in sorted(dirs, key=len, reverse=True):
        while d != os.path.abspath(src) and os.path.isdir(d) and not os.listdir(d):
            os.rmdir(d)
            d = os.path.dirname(d)
    if os.path.isdir(os.path.join(src, dist_info)):
        sys.exit(f"error: removing {dist_info} left files behind")


def install_wheel(src, wheel):
    """Unpack a wheel into the tree (purelib/platlib at its root; scripts, headers, data dropped)."""
    with zipfile.ZipFile(wheel) as zf:
        for info in sorted(zf.infolist(), key=lambda i: i.filename):
            if info.is_dir():
                continue
            rel = info.filename
            data_dir = re.match(r"[^/]+\.data/([^/]+)/(.*)", rel)
            if data_dir:
                if data_dir.group(1) not in ("purelib", "platlib"):
                    continue
                rel = data_dir.group(2)
            dest = os.path.join(src, rel)
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            with open(dest, "wb") as f:
                f.write(zf.read(info))
            os.chmod(dest, 0o755 if (info.external_attr >> 16) & 0o111 else 0o644)


def install_wheels(src, wheels):
    os.makedirs(src, exist_ok=True)
    for wheel in wheels:
        dists = installed_dists(src)
        old = dists.get(canonical(os.path.basename(wheel).split("-")[0]))
        if old:
            remove_dist(src, old)
        install_wheel(src, wheel)


def shared_files(entries):
    """Native libraries (by name, whatever their hash suffix or version), PROJ databases, and
    large files (by content): what must not ship twice in one /opt."""
    groups = defaultdict(list)
    for path, (data, _) in entries.items():
        base = path.rsplit("/", 1)[-1]
        lib = SHARED_LIBRARY.match(base)
        if lib and data[:4] == b"\x7fELF":
            groups[lib.group(1)].append(path)
        elif base in DATA_FILES:
            groups[base].append(path)
        elif len(data) >= LARGE:
            groups["sha256:" + hashlib.sha256(data).hexdigest()[:16]].append(path)
    return groups


def duplicates(groups):
    return sorted((name, sorted(paths)) for name, paths in groups.items() if len(paths) > 1)


def licence_file(rel_path):
    if rel_path.startswith(LICENCE_DIR):
        return True
    parts = rel_path.split("/")
    for i, part in enumerate(parts[:-1]):
        if part.endswith(".dist-info"):
            return parts[i + 1] == "licenses" or bool(LICENCE_NAME.match(parts[-1]))
    return False


def contains_segments(dirs, segments):
    n = len(segments)
    return any(
        all(fnmatch.fnmatchcase(d, s) for d, s in zip(dirs[i : i + n], segments))
        for i in range(len(dirs) - n + 1)
    )


def pruned(rel_path, patterns):
    if licence_file(rel_path):
        return False
    parts = rel_path.split("/")
    for pattern in patterns:
        if pattern.startswith("/"):
            # Anchored at the tree's root.
            if fnmatch.fnmatchcase(rel_path, pattern[1:] + ("*" if pattern.endswith("/") else "")):
                return True
        elif pattern.endswith("/"):
            # A directory (`tests/`) or nested directories (`testing/_private/`) anywhere in the path.
            if contains_segments(parts[:-1], pattern[:-1].split("/")):
                return True
        elif fnmatch.fnmatchcase(parts[-1], pattern) or fnmatch.fnmatchcase(rel_path, pattern):
            return True
    return False


def unchecked_hash_pyc(source, display_path):
    """Bytecode with an unchecked source hash: valid without mtimes, identical on every build."""
    code = compile(source, display_path, "exec", dont_inherit=True, optimize=0)
    flags = 0b01  # hash-based, not checked against the source
    return (
        importlib.util.MAGIC_NUMBER
        + flags.to_bytes(4, "little")
        + importlib.util.source_hash(source)
        + marshal.dumps(code)
    )


def pyc_path(rel_path, sourceless):
    if sourceless:
        return rel_path[:-3] + ".pyc"
    head, tail = os.path.split(rel_path)
    name = f"{tail[:-3]}.{sys.implementation.cache_tag}.pyc"
    return os.path.join(head, "__pycache__", name) if head else f"__pycache__/{name}"


def tree_files(src):
    return sorted(
        os.path.relpath(os.path.join(dirpath, name), src).replace(os.sep, "/")
        for dirpath, _, filenames in os.walk(src)
        for name in filenames
    )


def collect(src, shipped, prefix, mount, bytecode):
    entries = {}  # zip path -> (bytes, mode)
    for rel in shipped:
        full = os.path.join(src, rel)
        with open(full, "rb") as f:
            data = f.read()
        mode = 0o755 if os.stat(full).st_mode & 0o111 else 0o644
        if rel.endswith(".py") and bytecode != "none":
            try:
                pyc = unchecked_hash_pyc(data, f"{mount}/{prefix}{rel}")
            except (SyntaxError, ValueError):
                pyc = None
            if pyc is not None:
                sourceless = bytecode == "sourceless"
                entries[prefix + pyc_path(rel, sourceless)] = (pyc, 0o644)
                if sourceless:
                    continue
        entries[prefix + rel] = (data, mode)
    return entries


def copy_pruned(src, pruned_files, out):
    """What the layer leaves out, so that the unpruned tree can be rebuilt beside it."""
    os.makedirs(out, exist_ok=True)
    for rel in pruned_files:
        if rel.endswith(".pyc") or "__pycache__" in rel.split("/"):
            continue
        dest = os.path.join(out, rel)
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        with open(os.path.join(src, rel), "rb") as f, open(dest, "wb") as g:
            g.write(f.read())


def runtime_name(names):
    """The name a shared library is loaded by: its `libx.so.N` alias if it has one."""
    sonames = [n for n in names if re.search(r"\.so\.\d+$", n)]
    return min(sonames or [n for n in names if ".so." in n] or names, key=len)


def collect_native(src, patterns):
    """Native install trees go to the zip root: Lambda mounts a layer at /opt, so lib/ becomes
    /opt/lib (on LD_LIBRARY_PATH) and share/ the /opt/share compiled into the libraries.
    Zips cannot be trusted to keep symlinks, so each library ships once, under the name the
    loader asks for; link-time aliases (`libx.so`) are dropped."""
    aliases = defaultdict(list)  # real path -> names in its directory
    for dirpath, dirnames, filenames in os.walk(src):
        for name in filenames:
            full = os.path.join(dirpath, name)
            real = os.path.realpath(full)
            if os.path.isfile(real) and real.startswith(os.path.realpath(src) + os.sep):
                aliases[real].append(os.path.relpath(full, src).replace(os.sep, "/"))
    entries = {}
    for real, names in sorted(aliases.items()):
        libs = [n for n in names if ".so" in n.rsplit("/", 1)[-1]]
        chosen = [runtime_name(libs)] if libs else [n for n in names if not os.path.islink(os.path.join(src, n))]
        for rel in chosen:
            if pruned(rel, patterns):
                continue
            with open(real, "rb") as f:
                data = f.read()
            mode = 0o755 if os.stat(real).st_mode & 0o111 else 0o644
            entries[rel] = (data, mode)
    return entries


def distributions(entries, prefix):
    found = {}
    for path, (data, _) in entries.items():
        rel = path[len(prefix):]
        parts = rel.split("/")
        if len(parts) == 2 and parts[0].endswith(".dist-info") and parts[1] == "METADATA":
            headers = {}
            for line in data.decode("utf-8", "replace").splitlines():
                if not line.strip():
                    break
                key, _, value = line.partition(":")
                headers.setdefault(key.strip().lower(), value.strip())
            found[headers["name"]] = headers["version"]
    return dict(sorted(found.items()))


def distribution_paths(src, prefix):
    """The top-level files and directories each installed distribution owns (from its RECORD),
    as zip paths: what an error names when two packages ship one distribution."""
    owned = {}
    for dist_info in sorted(os.listdir(src)):
        record = os.path.join(src, dist_info, "RECORD")
        if not dist_info.endswith(".dist-info") or not os.path.isfile(record):
            continue
        tops = set()
        with open(record) as f:
            for line in f:
                rel = line.rsplit(",", 2)[0]
                if rel and not rel.startswith(".."):
                    head, sep, _ = rel.partition("/")
                    tops.add(prefix + head + ("/" if sep else ""))
        owned[canonical(dist_info[: -len(".dist-info")].rsplit("-", 1)[0])] = sorted(tops)
    return owned


# Top-level entries that are not importable modules.
NOT_MODULES = re.compile(r"(\.dist-info|\.data|\.libs|__pycache__|\.pth)$|^bin$")


def top_level_modules(entries, prefix):
    """Names `import NAME` finds at the zip's import root: packages (also namespace ones),
    modules, bytecode-only modules and extension modules."""
    names = set()
    for path in entries:
        if not path.startswith(prefix):
            continue
        head, sep, _ = path[len(prefix):].partition("/")
        if sep:
            if not NOT_MODULES.search(head):
                names.add(head)
        elif head.endswith((".py", ".pyc", ".so")):
            names.add(head.split(".", 1)[0])
    return sorted(n for n in names if n.isidentifier())


def stdlib_modules():
    """What this Python (the runtime's version) imports without any package."""
    if hasattr(sys, "stdlib_module_names"):  # 3.10+
        return sorted(sys.stdlib_module_names)
    stdlib = sysconfig.get_paths()["stdlib"]
    names = {n.split(".", 1)[0] for d in (stdlib, os.path.join(stdlib, "lib-dynload")) if os.path.isdir(d) for n in os.listdir(d)}
    return sorted(n for n in names | set(sys.builtin_module_names) if n.isidentifier())


def contributors(entries, prefix):
    sizes = defaultdict(int)
    for path, (data, _) in entries.items():
        sizes[path[len(prefix):].split("/")[0]] += len(data)
    return sorted(sizes.items(), key=lambda kv: (-kv[1], kv[0]))


def write_zip(out, entries):
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for path in sorted(entries):
            data, mode = entries[path]
            info = zipfile.ZipInfo(path, date_time=EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3
            info.external_attr = (0o100000 | mode) << 16
            zf.writestr(info, data, compresslevel=9)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--src", required=True)
    parser.add_argument("--prefix", default="")
    parser.add_argument("--mount", required=True, help="where the platform mounts the zip")
    parser.add_argument("--prune", action="append", default=[])
    parser.add_argument("--native-src", help="native install tree placed at the zip root")
    parser.add_argument("--native-prune", action="append", default=[])
    parser.add_argument("--wheel", action="append", default=[], help="wheel replacing its project")
    parser.add_argument("--bytecode", choices=("sourceless", "alongside", "none"), required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--pruned-out", help="directory to copy the pruned Python files to (no bytecode)")
    parser.add_argument("--report", required=True)
    args = parser.parse_args()

    if args.wheel:
        install_wheels(args.src, args.wheel)
    owned = distribution_paths(args.src, args.prefix)
    files = tree_files(args.src)
    pruned_files = {rel for rel in files if pruned(rel, args.prune)}
    kept_back = kept_for_imports(args.src, files, pruned_files)
    shipped = [rel for rel in files if rel not in pruned_files or rel in kept_back]
    entries = collect(args.src, shipped, args.prefix, args.mount.rstrip("/"), args.bytecode)
    if args.pruned_out:
        copy_pruned(args.src, sorted(pruned_files - set(kept_back)), args.pruned_out)
    if args.native_src:
        for path, entry in collect_native(args.native_src, args.native_prune).items():
            if path in entries:
                sys.exit(f"error: {path} is both a native file and a Python file")
            entries[path] = entry
    shared = shared_files(entries)
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    write_zip(args.out, entries)
    report = {
        "unzipped_bytes": sum(len(data) for data, _ in entries.values()),
        "zipped_bytes": os.path.getsize(args.out),
        "files": len(entries),
        "contributors": contributors(entries, args.prefix)[:15],
        "distributions": distributions(entries, args.prefix),
        "distribution_paths": owned,
        "duplicates": duplicates(shared),
        "shared_files": {name: sorted(paths) for name, paths in sorted(shared.items())},
        "modules": top_level_modules(entries, args.prefix),
        "stdlib": stdlib_modules(),
        # Pruned files shipped anyway because a shipped module imports them: {path: importer}.
        "kept_for_imports": {args.prefix + rel: module for rel, module in kept_back.items()},
    }
    with open(args.report, "w") as f:
        json.dump(report, f, indent=2, sort_keys=True)


if __name__ == "__main__":
    main()
