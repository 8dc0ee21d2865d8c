"""End to end: `pants generate-lockfiles` and `pants package` on a fixture repo."""

from __future__ import annotations

import json
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from tests.e2e.fixture_repo import FixtureRepo, make_fixture_repo, python313

EXPECTED = {
    *(f"layers/{path}.{ext}" for path in ("base/base-x86_64", "base/base-arm64", "pinned/pinned-x86_64") for ext in ("zip", "cdx.json")),
    *(
        f"functions/hello/hello-{arch}.{ext}"
        for arch in ("x86_64", "arm64")
        for ext in ("zip", "pex", "manifest.json", "cdx.json")
    ),
}


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> FixtureRepo:
    tmp = tmp_path_factory.mktemp("e2e")
    return make_fixture_repo(tmp / "repo", tmp / "store")


@pytest.fixture(scope="module")
def packaged(repo: FixtureRepo) -> dict[str, str]:
    repo.pants("package", "::")
    return repo.dist_files()


def wheel_names(lockfile: Path) -> list[str]:
    lock = json.loads("\n".join(l for l in lockfile.read_text().splitlines() if not l.startswith("//")))
    return [
        artifact["url"].rsplit("/", 1)[-1]
        for resolve in lock["locked_resolves"]
        for req in resolve["locked_requirements"]
        for artifact in req["artifacts"]
    ]


def assert_only_arch(wheels: list[str], arch: str, sdists: frozenset[str] = frozenset()) -> None:
    other = "aarch64" if arch == "x86_64" else "x86_64"
    assert wheels
    for wheel in wheels:
        if wheel.endswith(".tar.gz"):
            assert wheel.split("-")[0] in sdists, wheel
            continue
        platform = wheel[: -len(".whl")].split("-")[-1]
        assert platform == "any" or (arch in platform and other not in platform), wheel


# What PyPI has no wheel of for an arch: the lock records the sdist, the layer's bindings build it.
SDIST_ONLY = {"x86_64": frozenset(), "aarch64": frozenset({"fiona"})}


def test_fixture_lockfiles_hold_only_their_arch(repo: FixtureRepo) -> None:
    x86 = wheel_names(repo.root / "3rdparty/fx-x86_64.lock")
    arm = wheel_names(repo.root / "3rdparty/fx-arm64.lock")
    assert any(w.startswith("pyyaml-") and "x86_64" in w for w in x86)
    assert any(w.startswith("pyyaml-") and "aarch64" in w for w in arm)
    assert_only_arch(x86, "x86_64")
    assert_only_arch(arm, "aarch64")


@pytest.mark.parametrize("arch", ["x86_64", "aarch64"])
def test_example_org_lockfiles_hold_only_their_arch(arch: str) -> None:
    name = "arm64" if arch == "aarch64" else "x86_64"
    assert_only_arch(wheel_names(Path(f"3rdparty/python/aws-py313-{name}.lock")), arch, SDIST_ONLY[arch])


def test_package_writes_layers_and_function_artifacts(packaged: dict[str, str]) -> None:
    assert set(packaged) == EXPECTED


def test_packaging_is_byte_identical_without_the_cache(repo: FixtureRepo, packaged: dict[str, str]) -> None:
    shutil.rmtree(repo.root / "dist")
    repo.pants("--no-local-cache", "package", "::")
    assert repo.dist_files() == packaged


def test_function_zip_leaves_out_what_layers_provide(repo: FixtureRepo, packaged: dict[str, str]) -> None:
    for arch in ("x86_64", "arm64"):
        with zipfile.ZipFile(repo.root / f"dist/functions/hello/hello-{arch}.zip") as zf:
            names = zf.namelist()
        tops = {n.split("/")[0] for n in names}
        assert "handler.py" in tops
        assert any(t.startswith("idna-") for t in tops), tops  # only the function needs idna
        assert not any(t.startswith(("six", "yaml", "PyYAML", "pyyaml", "_yaml")) for t in tops), tops
        with zipfile.ZipFile(repo.root / f"dist/layers/base/base-{arch}.zip") as zf:
            layer = zf.namelist()
        assert all(n.startswith("python/") for n in layer)
        assert not any(n.endswith(".py") for n in layer)  # sourceless bytecode
        assert "python/six.pyc" in layer
        machine = "x86_64" if arch == "x86_64" else "aarch64"
        assert any(n.startswith("python/yaml/_yaml.") and machine in n for n in layer), layer


def test_manifest_records_handler_layers_and_environment(repo: FixtureRepo, packaged: dict[str, str]) -> None:
    manifest = json.loads((repo.root / "dist/functions/hello/hello-arm64.manifest.json").read_text())
    assert manifest["handler"] == "handler.handler"
    assert manifest["runtime"]["arch"] == "arm64"
    assert manifest["artifact"]["sha256"] == packaged["functions/hello/hello-arm64.zip"]
    [layer] = manifest["layers"]
    assert layer["address"] == "layers/base@runtime=arm64"
    assert layer["sha256"] == packaged["layers/base/base-arm64.zip"]
    assert set(layer["distributions"]) == {"six", "PyYAML"}
    assert manifest["environment"] == {"BASE_LAYER": "1", "GREETING": "hi"}


def test_handler_runs_from_unzipped_layer_and_function(repo: FixtureRepo, packaged: dict[str, str], tmp_path: Path) -> None:
    opt, task = tmp_path / "opt", tmp_path / "var/task"
    with zipfile.ZipFile(repo.root / "dist/layers/base/base-x86_64.zip") as zf:
        zf.extractall(opt)
    with zipfile.ZipFile(repo.root / "dist/functions/hello/hello-x86_64.zip") as zf:
        zf.extractall(task)
    # Lambda's python runtime: the function first, then the layers' python/ folder.
    code = (
        "import json, sys; sys.path[:0] = [sys.argv[1], sys.argv[2]]; import handler; "
        "print(json.dumps(handler.handler({'points': [1, 2], 'host': 'bücher.example'})))"
    )
    out = subprocess.run(
        [python313(), "-I", "-B", "-c", code, str(task), str(opt / "python")],
        check=True, stdout=subprocess.PIPE, text=True, cwd=tmp_path,
    ).stdout
    assert json.loads(out) == {
        "yaml": "{points: [1, 2]}\n",
        "six": "1.17.0",
        "host": "xn--bcher-kva.example",
    }


BAD_CASES = {
    "unknown-layer": (
        'serverless_function(name="f", handler="handler.py:handler", runtime="//runtimes:x86_64", layers=["//layers/nope"])',
        ["functions/bad", "unknown layer `//layers/nope`", "Fix:"],
    ),
    "other-runtime": (
        'serverless_layer(name="arm-only", runtime="//runtimes:arm64", requirements=["six"])\n'
        'serverless_function(name="f", handler="handler.py:handler", runtime="//runtimes:x86_64", layers=[":arm-only"])',
        ["functions/bad", "not built for the function's runtime runtimes:x86_64", "runtimes:arm64", "parametrize"],
    ),
    "too-many-layers": (
        "\n".join(f'serverless_layer(name="l{i}", runtime="//runtimes:x86_64", requirements=["six"])' for i in range(6))
        + '\nserverless_function(name="f", handler="handler.py:handler", runtime="//runtimes:x86_64", '
        + "layers=[" + ", ".join(f'":l{i}"' for i in range(6)) + "])",
        ["functions/bad", "lists 6 layers", "at most 5", "Fix:"],
    ),
    "over-budget": (
        'serverless_layer(name="big", runtime="//runtimes:x86_64", requirements=["pyyaml"], size_budget_mb=1)\n'
        'serverless_function(name="f", handler="handler.py:handler", runtime="//runtimes:x86_64", layers=[":big"])',
        ["functions/bad:big", "over its budget of 1.0 MiB", "Largest contributors", "yaml", "Fix:"],
    ),
    "version-conflict": (
        'serverless_function(name="f", handler="handler.py:handler", runtime="//runtimes:x86_64", layers=["//layers/pinned"])',
        ["functions/bad:f", "layers/pinned", "six", "1.17.0", "1.16.0", "Fix:"],
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_CASES))
def test_bad_input_fails_clearly_and_writes_nothing(repo: FixtureRepo, case: str) -> None:
    build, expected = BAD_CASES[case]
    bad = repo.root / "functions/bad"
    repo.write(
        {
            "functions/bad/BUILD": 'python_sources(name="src")\n' + build + "\n",
            "functions/bad/handler.py": "import six\n\ndef handler(event, context=None):\n    return six.__version__\n",
        }
    )
    shutil.rmtree(repo.root / "dist", ignore_errors=True)
    try:
        result = repo.pants("package", "functions/bad:", "functions/hello:", check=False)
    finally:
        shutil.rmtree(bad)
    assert result.returncode != 0
    for text in expected:
        assert text in result.output, f"{text!r} not in:\n{result.output[-4000:]}"
    assert not (repo.root / "dist").exists() or not any((repo.root / "dist").rglob("*.*"))
