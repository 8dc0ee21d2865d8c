"""Pruning must never break an import: every module a layer ships that imports from the unpruned
tree must import from the layer too, checked per distribution.

Run with the runtime's CPython, the layer's native libraries on LD_LIBRARY_PATH:

    python3 -E -s layer_imports.py --layer PY_TREE --unpruned PY_TREE --distributions FILE.json

FILE.json maps each distribution to the top-level names it owns (from its RECORD). For each
distribution, each tree is imported in a fresh interpreter (`__main__` modules are not run). Exits 1
naming every module that imports from the unpruned tree but not from the layer, with the error.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

from import_closure import module_name

IMPORT_EACH = r"""
import importlib, json, sys
root, names, out = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]
sys.path.insert(0, root)
errors = {}
for name in names:
    try:
        importlib.import_module(name)
    except BaseException as e:  # a module that exits while imported fails like one that raises
        errors[name] = f"{type(e).__name__}: {e}"
with open(out, "w") as f:
    json.dump(errors, f)
"""


def shipped_modules(tree, tops):
    names = set()
    for top in tops:
        top = top.rstrip("/")
        path = os.path.join(tree, top)
        files = [top] if os.path.isfile(path) else [
            os.path.relpath(os.path.join(d, f), tree).replace(os.sep, "/")
            for d, _, fs in os.walk(path)
            for f in fs
        ]
        for rel in files:
            name = module_name(rel)
            if name and name.rsplit(".", 1)[-1] != "__main__":
                names.add(name)
    return sorted(names)


def import_errors(tree, names):
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "errors.json")
        subprocess.run(
            [sys.executable, "-I", "-B", "-c", IMPORT_EACH, os.path.abspath(tree), json.dumps(names), out],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=900,
            check=False,
        )
        if not os.path.exists(out):
            return {name: "the interpreter died importing these modules" for name in names}
        with open(out) as f:
            return json.load(f)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--layer", required=True)
    parser.add_argument("--unpruned", required=True)
    parser.add_argument("--distributions", required=True)
    args = parser.parse_args()
    with open(args.distributions) as f:
        distributions = json.load(f)
    broken = []
    checked = 0
    for dist, tops in sorted(distributions.items()):
        names = shipped_modules(args.layer, tops)
        if not names:
            continue
        before = import_errors(args.unpruned, names)
        after = import_errors(args.layer, names)
        checked += len(names)
        broken += [(dist, name, after[name]) for name in names if name in after and name not in before]
    if broken:
        sys.exit(
            "error: pruning broke these imports (they import from the unpruned tree, not from the layer):\n"
            + "\n".join(f"  {dist}: {name}: {error}" for dist, name, error in broken)
            + "\nFix: stop pruning what they need: drop the `prune` pattern you added that matches it, "
            "or `!PATTERN` for a default one (a pruned module that a shipped module imports by name "
            "ships anyway; these need one imported some other way, or a data file)."
        )
    print(f"{checked} modules of {len(distributions)} distributions import as they did before pruning")


if __name__ == "__main__":
    main()
