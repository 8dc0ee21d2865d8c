#!/usr/bin/env python3
"""Audit an unzipped layer the way Lambda will load it from /opt: every ELF file's DT_NEEDED must
be allowed by the policy or found through its RUNPATH ($ORIGIN) or /opt/lib (the layer's lib/, on
Lambda's LD_LIBRARY_PATH), and no versioned symbol may exceed the policy's ceilings.

Runs in the toolchain image (pyelftools), next to portabilize.py, whose ELF readers it uses.

    audit-layer.py --tree LAYER_DIR --policy POLICY.json
"""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "docker"))
from portabilize import elf_info, is_elf, version_needs, vtuple  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tree", required=True)
    ap.add_argument("--policy", required=True)
    a = ap.parse_args()
    tree = os.path.abspath(a.tree)
    with open(a.policy) as f:
        policy = json.load(f)
    allowed = set(policy["allowed_sonames"])
    for names in policy.get("interpreters", {}).values():
        allowed.update(names)
    ceilings = {k: vtuple(v) for k, v in policy["symbol_ceilings"].items()}
    failures, count, highest = [], 0, {}
    for dirpath, dirnames, filenames in os.walk(tree):
        dirnames.sort()
        for fn in sorted(filenames):
            path = os.path.join(dirpath, fn)
            if not is_elf(path):
                continue
            count += 1
            rel = os.path.relpath(path, tree)
            _, needed, rpath, _, dynamic = elf_info(path)
            if not dynamic:
                continue
            search = [os.path.join(tree, "lib")]
            for entry in (rpath or "").split(":"):
                if entry:
                    search.append(os.path.normpath(entry.replace("$ORIGIN", os.path.dirname(path))))
            for n in needed:
                if n not in allowed and not any(os.path.isfile(os.path.join(d, n)) for d in search):
                    failures.append(f"{rel}: needs {n}: not allowed by the policy, not in lib/ or its RUNPATH")
            for lib, ver, sym in version_needs(path):
                prefix, _, num = ver.partition("_")
                if prefix not in ceilings or not num[:1].isdigit():
                    continue
                v = vtuple(num)
                highest[prefix] = max(highest.get(prefix, ()), v)
                if v > ceilings[prefix]:
                    failures.append(f"{rel}: {sym or '?'} needs {ver} ({lib}), over {prefix}_{'.'.join(map(str, ceilings[prefix]))}")
    if failures:
        print("audit-layer: FAILED\n  " + "\n  ".join(failures), file=sys.stderr)
        sys.exit(1)
    summary = ", ".join(f"{k}_{'.'.join(map(str, v))}" for k, v in sorted(highest.items()))
    print(f"audit-layer: {count} ELF files ok; highest: {summary}")


if __name__ == "__main__":
    main()
