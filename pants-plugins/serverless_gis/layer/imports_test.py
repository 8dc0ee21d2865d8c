"""The import check script on small pure-Python trees: a module that imports from the unpruned
tree but not from the layer fails the check, naming its distribution, module and error."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from serverless_gis.resources import package_resource


def write(root: Path, files: dict[str, str]) -> None:
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)


def run_check(tmp_path: Path, layer: dict[str, str], pruned: dict[str, str]) -> subprocess.CompletedProcess:
    (tmp_path / "layer_imports.py").write_bytes(package_resource("serverless_gis.native", "steps/layer_imports.py"))
    (tmp_path / "import_closure.py").write_bytes(package_resource("serverless_gis.scripts", "import_closure.py"))
    write(tmp_path / "layer", layer)
    write(tmp_path / "unpruned", {**layer, **pruned})
    (tmp_path / "dists.json").write_text(json.dumps({"num": ["num/"], "tool": ["tool.py"]}))
    return subprocess.run(
        [sys.executable, "-E", "-s", str(tmp_path / "layer_imports.py"), "--layer", str(tmp_path / "layer"),
         "--unpruned", str(tmp_path / "unpruned"), "--distributions", str(tmp_path / "dists.json")],
        capture_output=True,
        text=True,
    )


LAYER = {
    "num/__init__.py": "",
    "num/testing.py": "import importlib\nimportlib.import_module('num.' + 'tests.helpers')\n",
    "num/plot.py": "import matplotlib_is_not_here\n",  # fails before pruning too: not a pruning break
    "num/__main__.py": "raise SystemExit('a CLI, not run by the check')\n",
    "tool.py": "print('imported tool')\n",
}


def test_a_module_that_needs_a_pruned_file_fails_the_check(tmp_path: Path) -> None:
    result = run_check(tmp_path, LAYER, {"num/tests/helpers.py": "X = 1\n", "num/tests/test_num.py": ""})
    assert result.returncode == 1, result.stdout + result.stderr
    assert "  num: num.testing: ModuleNotFoundError: No module named 'num.tests'" in result.stderr
    assert "num.plot" not in result.stderr and "tool" not in result.stderr
    assert "Fix: stop pruning what they need" in result.stderr


def test_a_layer_whose_modules_import_as_before_passes(tmp_path: Path) -> None:
    layer = {**LAYER, "num/tests/helpers.py": "X = 1\n"}
    result = run_check(tmp_path, layer, {"num/tests/test_num.py": "import pytest\n"})
    assert result.returncode == 0, result.stderr
    assert "5 modules of 2 distributions import as they did before pruning" in result.stdout
