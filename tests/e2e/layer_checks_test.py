"""End to end: a function checked against its layers at package time, with PyPI's real wheels.

pyproj's and fiona's wheels each bundle PROJ (libproj and proj.db): a function that brings fiona
onto a layer holding pyproj would ship a second PROJ beside the layer's. A handler importing a
module nothing provides would fail at its first invocation on Lambda.
"""

from __future__ import annotations

import shutil

import pytest

from tests.e2e.fixture_repo import RUNTIMES, FixtureRepo, write_pants_toml

FUNCTION = """
    python_sources(name="src")
    serverless_function(name="{name}", handler="handler.py:handler", runtime="//runtimes:x86_64",
                        layers=["//layers/proj"])
"""

FILES = {
    "runtimes/BUILD": RUNTIMES.split('serverless_runtime(name="arm64"')[0],
    # The example org's versions (the machine's pex cache usually has their wheels).
    "3rdparty/requirements.txt": "pyproj==3.7.2\nfiona==1.10.1\n",
    "3rdparty/BUILD": 'python_requirements(name="reqs", source="requirements.txt", resolve="fx-x86_64")\n',
    "layers/proj/BUILD": 'serverless_layer(name="proj", runtime="//runtimes:x86_64", requirements=["pyproj"])\n',
    "functions/ok/BUILD": FUNCTION.format(name="ok"),
    "functions/ok/handler.py": """
        import json

        from pyproj import CRS


        def handler(event, context=None):
            return json.dumps(CRS.from_epsg(event["epsg"]).name)
    """,
    "functions/dup/BUILD": FUNCTION.format(name="dup"),
    "functions/dup/handler.py": """
        import fiona
        import pyproj


        def handler(event, context=None):
            return [fiona.__version__, pyproj.__version__]
    """,
    "functions/missing/BUILD": FUNCTION.format(name="missing"),
    "functions/missing/handler.py": """
        import pyproj

        try:
            import ujson as json  # optional: not inside the check
        except ImportError:
            import json

        import yaml


        def handler(event, context=None):
            return yaml.safe_dump(json.loads(event)) + pyproj.__version__
    """,
}


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> FixtureRepo:
    tmp = tmp_path_factory.mktemp("checks")
    repo = FixtureRepo(tmp / "repo", tmp / "store")
    repo.write(FILES)
    write_pants_toml(repo.root, {"fx-x86_64": "3rdparty/fx-x86_64.lock"})
    repo.pants("complete-platforms", "runtimes:")
    repo.pants("generate-lockfiles")
    return repo


def package(repo: FixtureRepo, *specs: str):
    shutil.rmtree(repo.root / "dist", ignore_errors=True)
    return repo.pants("package", *specs, check=False)


def assert_nothing_written(repo: FixtureRepo) -> None:
    assert not (repo.root / "dist").exists() or not any((repo.root / "dist").rglob("*.zip"))


def test_a_function_on_its_layer_packages(repo: FixtureRepo) -> None:
    result = package(repo, "functions/ok:")
    assert result.returncode == 0, result.output[-4000:]
    assert (repo.root / "dist/functions/ok/ok-x86_64.zip").is_file()


def test_a_function_shipping_a_second_proj_beside_its_layers_fails(repo: FixtureRepo) -> None:
    result = package(repo, "functions/dup:")
    assert result.returncode != 0
    output = result.output
    assert "functions/dup:dup: its zip ships `" in output, output[-4000:]
    assert "fiona.libs/" in output or "fiona/proj_data/proj.db" in output
    assert "which its layer layers/proj:proj ships too (python/pyproj" in output
    assert "Fix:" in output
    assert_nothing_written(repo)


def test_an_import_nothing_provides_fails_naming_module_function_and_runtime(repo: FixtureRepo) -> None:
    result = package(repo, "functions/missing:")
    assert result.returncode != 0
    output = result.output
    assert "functions/missing:missing: functions/missing/handler.py imports `yaml`" in output, output[-4000:]
    assert "layers/proj:proj" in output and "provide `yaml` on runtimes:x86_64 (" in output
    # The import inside try/except ImportError is optional, not an error.
    assert "`ujson`" not in output
    assert_nothing_written(repo)
