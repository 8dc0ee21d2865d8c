"""Rule tests of what `generate-lockfiles` locks for a runtime resolve, and how a failure reads."""

from __future__ import annotations

import json

import pytest

from pants.backend.python.target_types import PythonRequirementTarget
from pants.core.goals.generate_lockfiles import UserGenerateLockfiles
from pants.engine.internals.parametrize import Parametrize
from pants.engine.internals.scheduler import ExecutionError
from pants.testutil.rule_runner import QueryRule, RuleRunner
from pants.util.frozendict import FrozenDict
from pants.util.ordered_set import FrozenOrderedSet
from serverless_gis import register
from serverless_gis.runtime.lockfiles import (
    GenerateRuntimeLockfile,
    RequestedLockResolveNames,
    lock_failure,
    sync_input,
)


@pytest.fixture
def rule_runner() -> RuleRunner:
    runner = RuleRunner(
        rules=[*register.rules(), QueryRule(UserGenerateLockfiles, [RequestedLockResolveNames])],
        target_types=[*register.target_types(), PythonRequirementTarget],
        objects={"parametrize": Parametrize},
    )
    runner.set_options(
        ["--python-enable-resolves", "--python-resolves={'x86_64': 'x86_64.lock'}"]
    )
    runner.write_files(
        {
            "runtimes/BUILD": (
                'serverless_runtime(name="x86_64", python_version="3.13", arch="x86_64", '
                'glibc="2.34", resolve="x86_64", complete_platform="x86_64.json")\n'
            ),
            "runtimes/x86_64.json": "{}",
            "3rdparty/BUILD": 'python_requirement(name="mercantile", requirements=["mercantile"], resolve="x86_64")\n',
            "layers/BUILD": 'serverless_layer(name="tiles", requirements=["mercantile"], runtime="//runtimes:x86_64")\n',
            "functions/extra/BUILD": (
                'serverless_function(name="extra", handler="handler.py:handler", runtime="//runtimes:x86_64", '
                'layers=["//layers:tiles"], requirements=["geojson==3.2.0"])\n'
            ),
        }
    )
    return runner


def lock_request(rule_runner: RuleRunner) -> GenerateRuntimeLockfile:
    [request] = rule_runner.request(UserGenerateLockfiles, [RequestedLockResolveNames(["lock:x86_64"])])
    assert isinstance(request, GenerateRuntimeLockfile)
    return request


def test_function_requirements_join_their_runtime_resolve(rule_runner: RuleRunner) -> None:
    request = lock_request(rule_runner)
    assert list(request.requirements) == ["geojson==3.2.0", "mercantile"]
    assert request.origins["geojson==3.2.0"] == ("functions/extra:extra",)
    assert request.origins["mercantile"] == ("3rdparty:mercantile",)


def test_a_conflicting_function_pin_fails_before_locking(rule_runner: RuleRunner) -> None:
    rule_runner.write_files(
        {
            "x86_64.lock": (
                '// header\n{"locked_resolves": [{"locked_requirements": ['
                '{"project_name": "mercantile", "version": "1.2.1", "requires_dists": [], "artifacts": []}]}]}'
            ),
            "functions/pinned/BUILD": (
                'serverless_function(name="pinned", handler="handler.py:handler", runtime="//runtimes:x86_64", '
                'layers=["//layers:tiles"], requirements=["mercantile<1.2"])\n'
            ),
        }
    )
    with pytest.raises(ExecutionError, match=r"functions/pinned:pinned.*`mercantile<1\.2`.*layers:tiles.*mercantile 1\.2\.1"):
        lock_request(rule_runner)


class FakeRuntime:
    def describe(self) -> str:
        return "runtimes:x86_64 (aws, python3.13, x86_64)"


def test_a_failed_resolve_names_the_targets_of_the_requirements_pip_names() -> None:
    request = GenerateRuntimeLockfile(
        requirements=FrozenOrderedSet(["geojson==3.1.0", "geojson==3.2.0", "six"]),
        runtime=FakeRuntime(),  # type: ignore[arg-type]
        origins=FrozenDict({"geojson==3.1.0": ("functions/a:a",), "geojson==3.2.0": ("functions/b:b",), "six": ("3rdparty:six",)}),
        resolve_name="x86_64",
        lockfile_dest="x86_64.lock",
        diff=False,
    )
    stderr = "ERROR: Cannot install geojson==3.1.0 and geojson==3.2.0 because these package versions have conflicting dependencies."
    message = lock_failure(request, stderr, synced=True)
    assert "  geojson==3.1.0: functions/a:a" in message
    assert "  geojson==3.2.0: functions/b:b" in message
    assert "3rdparty:six" not in message
    assert "--serverless-lockfiles-upgrade --resolve=lock:x86_64" in message
    assert "--serverless-lockfiles-upgrade" not in lock_failure(request, stderr, synced=False)


def test_sync_input_keeps_removed_requirements_other_projects_need_out_of_pex_deletions() -> None:
    def locked(name: str, *requires: str) -> dict:
        return {"project_name": name, "version": "1", "requires_dists": list(requires), "artifacts": []}

    lock = {
        "locked_resolves": [{"locked_requirements": [locked("click"), locked("geojson"), locked("mercantile", "click>=3.0")]}],
        "requirements": ["click==8.1.7", "geojson", "mercantile"],
        "style": "strict",
    }
    pex_written = json.dumps(lock, indent=2, sort_keys=True, separators=(",", ": ")) + "\n"
    lockfile = ("// header\n//\n\n" + pex_written).encode()
    # click is still needed by mercantile: out of the requirements, so pex keeps it as a dependency;
    # geojson is needed by nothing: left in, so pex deletes it.
    assert json.loads(sync_input(lockfile, ["mercantile", "affine"]))["requirements"] == ["geojson", "mercantile"]
    assert sync_input(lockfile, ["mercantile"]) == pex_written.replace('    "click==8.1.7",\n', "")
    # Nothing removed: pex's bytes, untouched, so a relock without changes rewrites nothing.
    assert sync_input(lockfile, ["Click==8.1.7", "geojson", "mercantile"]) == pex_written
