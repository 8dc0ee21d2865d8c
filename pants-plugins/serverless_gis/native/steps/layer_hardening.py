"""The hardening audit of a layer: every ELF file has each of elf_policy's HARDENING properties,
but for the reasoned allowances (GLOB:PROPERTY over the layer's paths).

`fortify` is judged per build, not per file: a binary shows _FORTIFY_SOURCE only where a call's
buffer size is known when it is compiled (`__memcpy_chk`), so a module whose fortifiable calls all
take run-time sizes (Cython's memmove of a list's items) has none even when built with it; Debian's
hardening-check reports such a file as a possible false positive. A build (one binding's package
under python/, or one file elsewhere: the natives' libraries, audited per file when they were
built) lacks it when it has fortifiable calls and not one __*_chk in any of its files.

    layer_hardening.py --tree LAYER [--allow GLOB:PROPERTY]...
Exit: 0 every file hardened, 1 a gap (each named: file and property).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections import defaultdict

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import elf_policy  # noqa: E402
from elftools.elf.elffile import ELFFile  # noqa: E402


def imports_fortified_calls(path):
    """Whether the file calls a glibc __*_chk function (the evidence of _FORTIFY_SOURCE)."""
    with open(path, "rb") as f:
        dynsym = ELFFile(f).get_section_by_name(".dynsym")
        names = {s.name for s in dynsym.iter_symbols() if s["st_shndx"] == "SHN_UNDEF"} if dynsym else set()
    return any(n.startswith("__") and n.endswith("_chk") and n != "__stack_chk_fail" for n in names)


def build_unit(rel):
    """The build a layer file comes from: python/<package> for a binding's module, else the file."""
    parts = rel.split("/")
    return "/".join(parts[:2]) if parts[0] == "python" and len(parts) > 2 else rel


def hardening_failures(tree, allowances):
    """`{rel}: not hardened: ...` for every unexcused gap under `tree`."""
    gaps, unfortified, fortified_units = {}, defaultdict(list), set()
    for path in elf_policy.elf_files(tree):
        rel = os.path.relpath(path, tree)
        if not elf_policy.elf_info(path)[3]:
            continue  # static: no dynamic symbols to judge
        found = elf_policy.hardening_gaps(path)
        gaps[rel] = [g for g in found if g not in elf_policy.allowed_gaps(rel, allowances)]
        if "fortify" in found:
            unfortified[build_unit(rel)].append(rel)
        elif imports_fortified_calls(path):
            fortified_units.add(build_unit(rel))
    failures = []
    for rel, props in sorted(gaps.items()):
        for prop in props:
            if prop == "fortify" and build_unit(rel) in fortified_units:
                continue  # the build was fortified: this file's calls all take run-time sizes
            failures.append(f"{rel}: not hardened: {elf_policy.HARDENING[prop]}")
    return failures


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tree", required=True)
    ap.add_argument("--allow", action="append", default=[], type=elf_policy.allowance, metavar="GLOB:PROPERTY")
    args = ap.parse_args()
    failures = hardening_failures(args.tree, args.allow)
    for failure in failures:
        print(f"layer-hardening: AUDIT FAIL: {failure}", file=sys.stderr)
    if not failures:
        print(f"layer-hardening: ok ({len(args.allow)} allowances)", file=sys.stderr)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
