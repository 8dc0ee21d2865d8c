import json

import pytest
from pants.engine.addresses import Address
from pants.engine.internals.scheduler import ExecutionError
from pants.testutil.rule_runner import QueryRule, RuleRunner
from serverless_gis import register
from serverless_gis.bindings.rules import (
    BindingsError,
    RuntimeBindings,
    RuntimeBindingsRequest,
    WheelhouseFile,
    check_versions,
    parse_wheelhouse,
)

ADDRESS = Address("native/bindings", target_name="gis")
FILES = (
    WheelhouseFile("pyproj", "3.7.2", "sdist", "pyproj-3.7.2.tar.gz", "https://x/pyproj-3.7.2.tar.gz", "0" * 64, 1),
    WheelhouseFile("numpy", "2.2.6", "wheel", "numpy-2.2.6-cp313.whl", "https://x/numpy.whl", "1" * 64, 2),
)


def check(wanted: dict[str, str], locked: dict[str, str]) -> dict[str, str]:
    return check_versions(ADDRESS, wanted, FILES, locked, "3rdparty/x86.lock", "native/bindings/wheelhouse.lock")


def test_versions_must_match_the_runtime_lockfile() -> None:
    assert check({"pyproj": "sdist", "numpy": "wheel"}, {"pyproj": "3.7.2", "numpy": "2.2.6"}) == {
        "pyproj": "3.7.2",
        "numpy": "2.2.6",
    }
    with pytest.raises(BindingsError, match=r"native/bindings:gis: version conflict on `pyproj`: the wheelhouse has 3.7.2, the runtime's lockfile 3rdparty/x86.lock pins 3.6.1"):
        check({"pyproj": "sdist"}, {"pyproj": "3.6.1"})


def test_missing_or_wrong_kind_and_unlocked_projects_are_named() -> None:
    with pytest.raises(BindingsError, match=r"exactly one sdist of `numpy`, found none\. Add `numpy==<version>  # sdist`"):
        check({"numpy": "sdist"}, {"numpy": "2.2.6"})
    with pytest.raises(BindingsError, match=r"`pyproj` is not in the runtime's lockfile"):
        check({"pyproj": "sdist"}, {})


def test_a_wheelhouse_lock_that_is_not_json_names_the_fix() -> None:
    with pytest.raises(BindingsError, match=r"is not a wheelhouse lock .*lock-wheelhouse\.py"):
        parse_wheelhouse(ADDRESS, "native/bindings/wheelhouse.lock", b"pyproj==3.7.2 --hash=sha256:00")


LOCK = """// pex lock (test)
{"locked_resolves": [{"locked_requirements": [
  {"project_name": "pyproj", "version": "3.6.1", "requires_dists": []}
]}]}
"""


def wheelhouse(version: str) -> str:
    return json.dumps({"files": [{
        "name": "pyproj", "version": version, "kind": "sdist", "filename": f"pyproj-{version}.tar.gz",
        "url": f"https://example.invalid/pyproj-{version}.tar.gz", "sha256": "0" * 64, "size": 1,
    }]})


@pytest.fixture
def rule_runner() -> RuleRunner:
    runner = RuleRunner(
        rules=[*register.rules(), QueryRule(RuntimeBindings, [RuntimeBindingsRequest])],
        target_types=register.target_types(),
    )
    runner.set_options(['--python-resolves={"x86": "x86.lock"}'])
    runner.write_files({
        "x86.lock": LOCK,
        "runtimes/BUILD": "\n".join(
            f'serverless_runtime(name="{arch}", python_version="3.13", arch="{arch}", '
            f'glibc="2.34", resolve="x86", complete_platform="{arch}.json")'
            for arch in ("x86_64", "arm64")
        ),
        "runtimes/x86_64.json": "{}",
        "runtimes/arm64.json": "{}",
        "bindings/wheelhouse.lock": wheelhouse("3.7.2"),
        "bindings/BUILD": "\n".join([
            'python_bindings(name="conflict", packages=["pyproj"], natives=[], python="//py", '
            'runtime="//runtimes:x86_64")',
            'python_bindings(name="small", packages=["pyproj"], optimize_for_size=["rasterio"], '
            'natives=[], python="//py", runtime="//runtimes:x86_64")',
        ]),
    })
    return runner


LAYER = Address("layers/geo")
X86_64 = Address("runtimes", target_name="x86_64")


def bindings_error(rule_runner: RuleRunner, spec: str) -> str:
    with pytest.raises(ExecutionError) as exc:
        rule_runner.request(RuntimeBindings, [RuntimeBindingsRequest((spec,), LAYER, X86_64)])
    return str(exc.value)


def test_bindings_for_another_runtime_do_not_apply(rule_runner: RuleRunner) -> None:
    arm64 = Address("runtimes", target_name="arm64")
    result = rule_runner.request(RuntimeBindings, [RuntimeBindingsRequest(("//bindings:conflict",), LAYER, arm64)])
    assert result.bindings == ()


def test_wheelhouse_version_must_equal_the_runtime_lockfile(rule_runner: RuleRunner) -> None:
    message = bindings_error(rule_runner, "//bindings:conflict")
    assert "bindings:conflict: version conflict on `pyproj`: the wheelhouse has 3.7.2" in message
    assert "lockfile x86.lock pins 3.6.1" in message


def test_optimize_for_size_must_name_built_packages(rule_runner: RuleRunner) -> None:
    assert "`optimize_for_size` lists ['rasterio'], which `packages` does not build" in bindings_error(
        rule_runner, "//bindings:small"
    )


def test_layers_name_only_python_bindings(rule_runner: RuleRunner) -> None:
    message = bindings_error(rule_runner, "//runtimes:x86_64")
    assert "layers/geo:geo: `bindings` names runtimes:x86_64, a `serverless_runtime`, not a `python_bindings`" in message
