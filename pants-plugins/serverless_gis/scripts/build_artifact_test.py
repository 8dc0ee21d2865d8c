import hashlib
import importlib.util
import json
import marshal
import subprocess
import sys
import zipfile
from pathlib import Path

import pkgutil


def write(root: Path, rel: str, content: str) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content)


def build(tmp_path: Path, src: Path, name: str, *args: str) -> tuple[Path, dict]:
    for name in ("build_artifact.py", "import_closure.py"):
        (tmp_path / name).write_bytes(pkgutil.get_data("serverless_gis.scripts", name))
    script = tmp_path / "build_artifact.py"
    out, report = tmp_path / f"{name}.zip", tmp_path / f"{name}.json"
    subprocess.run(
        [sys.executable, str(script), f"--src={src}", f"--out={out}", f"--report={report}", *args],
        check=True,
    )
    return out, json.loads(report.read_text())


def make_tree(root: Path) -> None:
    write(root, "pkg/__init__.py", "VALUE = 42\n")
    write(root, "pkg/tests/test_pkg.py", "def test(): pass\n")
    write(root, "pkg/__pycache__/stale.cpython-39.pyc", "junk")
    write(root, "pkg-1.0.dist-info/METADATA", "Metadata-Version: 2.1\nName: pkg\nVersion: 1.0\n\nBody\n")
    write(root, "pkg-1.0.dist-info/RECORD", "pkg/__init__.py,,\n")
    write(root, "bin/tool", "#!/build/machine/python\n")


LAYER_ARGS = (
    "--prefix=python/",
    "--mount=/opt",
    "--bytecode=sourceless",
    "--prune=tests/",
    "--prune=__pycache__/",
    "--prune=*.dist-info/RECORD",
    "--prune=/bin/",
)


def test_layer_zip_is_pruned_precompiled_and_reproducible(tmp_path: Path) -> None:
    src = tmp_path / "tree"
    make_tree(src)
    first, report = build(tmp_path, src, "first", *LAYER_ARGS)
    # Same inputs, files touched later: identical bytes.
    for path in src.rglob("*"):
        path.touch()
    second, _ = build(tmp_path, src, "second", *LAYER_ARGS)
    assert hashlib.sha256(first.read_bytes()).digest() == hashlib.sha256(second.read_bytes()).digest()

    with zipfile.ZipFile(first) as zf:
        names = zf.namelist()
        assert names == sorted(names)
        assert names == ["python/pkg-1.0.dist-info/METADATA", "python/pkg/__init__.pyc"]
        assert all(info.date_time == (1980, 1, 1, 0, 0, 0) for info in zf.infolist())
        pyc = zf.read("python/pkg/__init__.pyc")
    assert pyc[:4] == importlib.util.MAGIC_NUMBER
    assert int.from_bytes(pyc[4:8], "little") == 0b01  # unchecked hash
    namespace: dict = {}
    exec(marshal.loads(pyc[16:]), namespace)
    assert namespace["VALUE"] == 42
    assert report["distributions"] == {"pkg": "1.0"}
    assert report["unzipped_bytes"] == sum(len(d) for d in [pyc]) + len(
        "Metadata-Version: 2.1\nName: pkg\nVersion: 1.0\n\nBody\n"
    )


def test_function_zip_keeps_sources_with_pycache(tmp_path: Path) -> None:
    src = tmp_path / "tree"
    write(src, "handler.py", "def handler(event, context):\n    return event\n")
    out, report = build(tmp_path, src, "fn", "--mount=/var/task", "--bytecode=alongside")
    with zipfile.ZipFile(out) as zf:
        tag = sys.implementation.cache_tag
        assert zf.namelist() == [f"__pycache__/handler.{tag}.pyc", "handler.py"]
    assert report["contributors"][0][0] in ("__pycache__", "handler.py")


def make_wheel(path: Path, files: dict[str, bytes]) -> None:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)


def test_built_wheel_replaces_the_locked_distribution(tmp_path: Path) -> None:
    src = tmp_path / "tree"
    write(src, "geo/__init__.py", "SOURCE = 'pypi'\n")
    write(src, "geo/_bundled.py", "x = 1\n")
    write(src, "geo-2.0.dist-info/METADATA", "Metadata-Version: 2.1\nName: geo\nVersion: 2.0\n\n")
    write(src, "geo-2.0.dist-info/RECORD", "geo/__init__.py,,\ngeo/_bundled.py,,\ngeo-2.0.dist-info/METADATA,,\ngeo-2.0.dist-info/RECORD,,\n")
    write(src, "other/__init__.py", "")
    wheel = tmp_path / "geo-2.0-cp313-cp313-linux_x86_64.whl"
    make_wheel(wheel, {
        "geo/__init__.py": b"SOURCE = 'built'\n",
        "geo-2.0.data/purelib/geo/extra.py": b"y = 2\n",
        "geo-2.0.data/scripts/geo-cli": b"#!python\n",
        "geo-2.0.dist-info/METADATA": b"Metadata-Version: 2.1\nName: geo\nVersion: 2.0\n\n",
    })
    out, report = build(tmp_path, src, "layer", "--prefix=python/", "--mount=/opt", "--bytecode=none", f"--wheel={wheel}")
    with zipfile.ZipFile(out) as zf:
        assert sorted(zf.namelist()) == [
            "python/geo-2.0.dist-info/METADATA",
            "python/geo/__init__.py",
            "python/geo/extra.py",
            "python/other/__init__.py",
        ]
        assert zf.read("python/geo/__init__.py") == b"SOURCE = 'built'\n"
    assert report["distributions"] == {"geo": "2.0"}
    assert report["duplicates"] == []


def test_duplicated_native_libraries_and_proj_db_are_reported(tmp_path: Path) -> None:
    src, native = tmp_path / "tree", tmp_path / "native"
    elf = "\x7fELF" + "x" * 100
    write(src, "rasterio.libs/libgdal-1a2b3c4d.so.36.3.10.3", elf + "rasterio")
    write(src, "pyproj/proj_dir/share/proj/proj.db", "db one")
    write(src, "numpy.libs/libgfortran-040039e1-0352e75f.so.5.0.0", elf)
    write(native, "lib/libgdal.so.36", elf + "ours")
    write(native, "share/proj/proj.db", "db two")
    _, report = build(
        tmp_path, src, "dup", "--prefix=python/", "--mount=/opt", "--bytecode=none", f"--native-src={native}"
    )
    assert report["duplicates"] == [
        ["libgdal", ["lib/libgdal.so.36", "python/rasterio.libs/libgdal-1a2b3c4d.so.36.3.10.3"]],
        ["proj.db", ["python/pyproj/proj_dir/share/proj/proj.db", "share/proj/proj.db"]],
    ]
    assert report["shared_files"]["libgfortran"] == ["python/numpy.libs/libgfortran-040039e1-0352e75f.so.5.0.0"]


def test_report_names_what_each_distribution_ships_and_the_importable_modules(tmp_path: Path) -> None:
    src = tmp_path / "tree"
    write(src, "click/__init__.py", "")
    write(src, "click-8.1.7.dist-info/METADATA", "Metadata-Version: 2.1\nName: click\nVersion: 8.1.7\n\n")
    write(src, "click-8.1.7.dist-info/RECORD", "click/__init__.py,,\nclick-8.1.7.dist-info/METADATA,,\n../../bin/click,,\n")
    write(src, "six.py", "")
    write(src, "_cffi_backend.cpython-313-x86_64-linux-gnu.so", "")
    write(src, "google/protobuf/__init__.py", "")  # a namespace package
    write(src, "numpy.libs/libx.so", "")
    _, report = build(tmp_path, src, "mods", "--prefix=python/", "--mount=/opt", "--bytecode=sourceless")
    assert report["distribution_paths"] == {"click": ["python/click-8.1.7.dist-info/", "python/click/"]}
    assert report["modules"] == ["_cffi_backend", "click", "google", "six"]
    assert "json" in report["stdlib"] and "os" in report["stdlib"] and "click" not in report["stdlib"]


def test_licences_survive_every_prune_pattern_and_native_helpers_go(tmp_path: Path) -> None:
    from serverless_gis.layer.target_types import DEFAULT_LAYER_PRUNE, DEFAULT_NATIVE_PRUNE

    src, native = tmp_path / "tree", tmp_path / "native"
    write(src, "geo/__init__.py", "")
    write(src, "geo/README.md", "docs")
    write(src, "geo-1.0.dist-info/METADATA", "Metadata-Version: 2.4\nName: geo\nVersion: 1.0\n\n")
    write(src, "geo-1.0.dist-info/licenses/LICENSE.md", "MIT text")
    write(src, "geo-1.0.dist-info/AUTHORS.rst", "authors")
    write(src, "geo-1.0.dist-info/RECORD", "geo/__init__.py,,\n")
    write(native, "lib/libtinya.so.1", "\x7fELF")
    write(native, "bin/gdal-config", "#!/bin/sh\n")
    write(native, "bin/wcurl", "#!/bin/sh\n")
    write(native, "bin/gdalinfo", "\x7fELF")
    write(native, "share/bash-completion/completions/gdalinfo", "complete")
    write(native, "share/doc/tinya/README", "docs")
    write(native, "share/licenses/tinya/LICENSE", "BSD text")
    write(native, "share/licenses/tinya/notes.md", "notice")
    out, _ = build(
        tmp_path, src, "lic", "--prefix=python/", "--mount=/opt", "--bytecode=none", f"--native-src={native}",
        *(f"--prune={p}" for p in (*DEFAULT_LAYER_PRUNE, "licenses/", "LICENSE*")),
        # Even a pattern naming the licence directory leaves it alone.
        *(f"--native-prune={p}" for p in (*DEFAULT_NATIVE_PRUNE, "/share/", "*.md")),
    )
    with zipfile.ZipFile(out) as zf:
        assert sorted(zf.namelist()) == [
            "lib/libtinya.so.1",
            "python/geo-1.0.dist-info/AUTHORS.rst",
            "python/geo-1.0.dist-info/METADATA",
            "python/geo-1.0.dist-info/licenses/LICENSE.md",
            "python/geo/__init__.py",
            "share/licenses/tinya/LICENSE",
            "share/licenses/tinya/notes.md",
        ]


def test_directory_patterns_match_nested_directories_anywhere(tmp_path: Path) -> None:
    src = tmp_path / "tree"
    write(src, "num/testing/_private/helpers.py", "X = 1\n")
    write(src, "num/testing/public.py", "Y = 1\n")
    write(src, "num/_private/other.py", "Z = 1\n")
    write(src, "num/data/sample.csv", "a,b\n")
    write(src, "num/data_extra/keep.csv", "a,b\n")
    out, report = build(
        tmp_path, src, "dirs", "--prefix=python/", "--mount=/opt", "--bytecode=none",
        "--prune=testing/_private/", "--prune=/num/data/", "--prune=*_extra/",
    )
    with zipfile.ZipFile(out) as zf:
        assert sorted(zf.namelist()) == [
            "python/num/_private/other.py",
            "python/num/testing/public.py",
        ]
    assert report["kept_for_imports"] == {}


def test_pruning_keeps_what_a_shipped_module_imports(tmp_path: Path) -> None:
    # Like numpy.testing importing numpy._core.tests._natype: the tests/ prune must not break it.
    src = tmp_path / "tree"
    write(src, "num/__init__.py", "")
    write(src, "num/core/__init__.py", "")
    write(src, "num/core/tests/__init__.py", "")
    write(src, "num/core/tests/_natype.py", "from . import _helper\n")
    write(src, "num/core/tests/_helper.py", "H = 1\n")
    write(src, "num/core/tests/test_core.py", "import pytest\n")
    write(src, "num/testing/__init__.py", "def f():\n    from num.core.tests._natype import NA\n")
    write(src, "num/lazy.py", "import importlib\nm = importlib.import_module('num.extra.tests.plugin')\n")
    write(src, "num/extra/tests/plugin.py", "")
    write(src, "num/extra/tests/unused.py", "")
    write(src, "num/core/_simd.cpython-313-x86_64-linux-gnu.so", "\x7fELF")
    write(src, "num/core/uses_simd.py", "from ._simd import kernels\n")
    write(src, "num/core/py2.py", "print 'not python 3'\n")
    out, report = build(
        tmp_path, src, "imports", "--prefix=python/", "--mount=/opt", "--bytecode=sourceless",
        "--prune=tests/", "--prune=/num/core/_simd.*",
    )
    with zipfile.ZipFile(out) as zf:
        names = set(zf.namelist())
    assert {
        "python/num/core/tests/__init__.pyc",
        "python/num/core/tests/_natype.pyc",
        "python/num/core/tests/_helper.pyc",
        "python/num/extra/tests/plugin.pyc",
        "python/num/core/_simd.cpython-313-x86_64-linux-gnu.so",
    } <= names
    assert "python/num/core/tests/test_core.pyc" not in names
    assert "python/num/extra/tests/unused.pyc" not in names
    assert report["kept_for_imports"] == {
        "python/num/core/_simd.cpython-313-x86_64-linux-gnu.so": "num.core.uses_simd",
        "python/num/core/tests/__init__.py": "num.testing",
        "python/num/core/tests/_helper.py": "num.core.tests._natype",
        "python/num/core/tests/_natype.py": "num.testing",
        "python/num/extra/tests/plugin.py": "num.lazy",
    }
