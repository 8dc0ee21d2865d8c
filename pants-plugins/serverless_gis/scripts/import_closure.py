"""What pruning must keep so that nothing a shipped module imports goes missing.

Pruning drops `tests/` directories and the like, but a shipped module may import a file from one
(numpy.testing imports numpy._core.tests._natype). Imports are read from the source of every kept
module (import statements anywhere in the file, and `importlib.import_module` / `__import__` with a
literal name); a pruned module they reach is kept, with the packages it sits in, transitively.
Extension modules' own imports cannot be read; the layer import check covers them.
"""

import ast
import os


def module_name(rel_path):
    """`pkg/sub/mod.py`, `pkg/sub/mod.pyc` (sourceless), `pkg/sub/mod.cpython-313-x86_64-linux-gnu.so`
    -> `pkg.sub.mod`; `pkg/__init__.py` -> `pkg`; None for anything that is not a module."""
    parts = rel_path.split("/")
    base = parts[-1]
    if "__pycache__" in parts:
        return None
    if base.endswith((".py", ".pyc")):
        stem = base.rsplit(".", 1)[0]
    elif base.endswith(".so"):
        stem = base.split(".", 1)[0]
    else:
        return None
    names = parts[:-1] + ([] if stem == "__init__" else [stem])
    if not names or not all(n.isidentifier() for n in names):
        return None
    return ".".join(names)


def imported_names(source, module, is_package):
    """Every module name the source may import, absolute, with the packages each sits in."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return set()
    package = module if is_package else module.rpartition(".")[0]
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".") if package else []
                if node.level - 1 > len(base):
                    continue
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module
            if not target:
                continue
            names.add(target)
            # `from pkg import name`: name may be a submodule.
            names.update(f"{target}.{alias.name}" for alias in node.names if alias.name != "*")
        elif isinstance(node, ast.Call) and node.args and _is_import_call(node.func):
            first = node.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str) and not first.value.startswith("."):
                names.add(first.value)
    with_packages = set()
    for name in names:
        parts = name.split(".")
        with_packages.update(".".join(parts[: i + 1]) for i in range(len(parts)))
    return with_packages


def _is_import_call(func):
    if isinstance(func, ast.Name):
        return func.id in ("__import__", "import_module")
    return isinstance(func, ast.Attribute) and func.attr == "import_module"


def kept_for_imports(src, files, pruned_files):
    """The pruned files (paths relative to `src`) that kept modules import, transitively:
    {path: the module that imports it}."""
    by_module = {}
    for rel in sorted(files):
        name = module_name(rel)
        if name is not None:
            by_module.setdefault(name, []).append(rel)
    kept_back = {}
    queue = sorted(rel for rel in files if rel.endswith(".py") and rel not in pruned_files)
    while queue:
        rel = queue.pop()
        module = module_name(rel)
        if module is None:
            continue
        with open(os.path.join(src, rel), "rb") as f:
            source = f.read()
        for name in sorted(imported_names(source, module, rel.endswith("/__init__.py"))):
            for target in by_module.get(name, ()):
                if target in pruned_files and target not in kept_back:
                    kept_back[target] = module
                    if target.endswith(".py"):
                        queue.append(target)
    return dict(sorted(kept_back.items()))
