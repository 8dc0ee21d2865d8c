"""Rule tests of invoke tests and CPython builds: fields checked when parsed, references checked
when dependencies resolve (the image and CPython must fit the invoked function's runtime)."""

from __future__ import annotations

import pytest

from pants.engine.addresses import Address
from pants.engine.internals.parametrize import Parametrize
from pants.engine.internals.scheduler import ExecutionError
from pants.testutil.rule_runner import QueryRule, RuleRunner
from serverless_gis import compatibility, references
from serverless_gis.testutil import DEPENDENCIES_QUERY, RUNTIMES_BUILD, resolved_dependencies
from serverless_gis.emulation.target_types import InvokeFunctionField, ServerlessInvokeTestTarget
from serverless_gis.function.target_types import ServerlessFunctionTarget
from serverless_gis.native.target_types import CPythonBuildTarget, ToolchainImageTarget
from serverless_gis.references import ReferencedTargets, ReferencesRequest
from serverless_gis.runtime.target_types import ServerlessRuntimeTarget

INVOKE = Address("fn", target_name="invoke")
INVOKE_FIELDS = 'function=":fn@runtime=x86_64", image="//tc:runtime", python="//py:py"'


@pytest.fixture
def rule_runner() -> RuleRunner:
    runner = RuleRunner(
        rules=[
            *references.rules(),
            *compatibility.rules(),
            DEPENDENCIES_QUERY,
            QueryRule(ReferencedTargets, [ReferencesRequest]),
        ],
        target_types=[
            ServerlessRuntimeTarget,
            ServerlessFunctionTarget,
            ToolchainImageTarget,
            CPythonBuildTarget,
            ServerlessInvokeTestTarget,
        ],
        objects={"parametrize": Parametrize},
    )
    runner.write_files(
        {
            "runtimes/BUILD": RUNTIMES_BUILD,
            "tc/BUILD": (
                'toolchain_image(name="build", lockfile="b.lock")\n'
                'toolchain_image(name="runtime", lockfile="r.lock")\n'
                'toolchain_image(name="runtime-arm", arch="arm64", lockfile="r.lock")\n'
            ),
            "py/BUILD": 'cpython_build(name="py", source="py.tar.xz", toolchain="//tc:build", python_version="3.13.5")\n',
            "fn/BUILD": (
                'serverless_function(name="fn", handler="handler.py:handler", '
                'runtime=parametrize(x86_64="//runtimes:x86_64", arm64="//runtimes:arm64"))\n'
            ),
        }
    )
    return runner


def write_invoke(rule_runner: RuleRunner, fields: str) -> None:
    rule_runner.write_files(
        {
            "fn/BUILD": (
                'serverless_function(name="fn", handler="handler.py:handler", '
                'runtime=parametrize(x86_64="//runtimes:x86_64", arm64="//runtimes:arm64"))\n'
                f"serverless_invoke_test(name=\"invoke\", {fields})\n"
            )
        }
    )



def parse_error(rule_runner: RuleRunner, address: Address) -> str:
    with pytest.raises(ExecutionError) as exc:
        rule_runner.get_target(address)
    return str(exc.value)


def test_invoke_test_depends_on_function_variant_image_and_cpython(rule_runner: RuleRunner) -> None:
    write_invoke(rule_runner, f'{INVOKE_FIELDS}, expect="1"')
    assert resolved_dependencies(rule_runner, INVOKE) == {"fn@runtime=x86_64", "tc:runtime", "py:py"}


@pytest.mark.parametrize(
    "fields, error",
    [
        (INVOKE_FIELDS, "sets neither of `expect` and `expect_error`"),
        (f'{INVOKE_FIELDS}, expect="1", expect_error="boom"', "sets both of `expect` and `expect_error`"),
        (f'{INVOKE_FIELDS}, expect="{{not json"', "The `expect` field of fn:invoke is not valid JSON"),
        (f'{INVOKE_FIELDS}, expect="1", event="[1,"', "The `event` field of fn:invoke is not valid JSON"),
    ],
)
def test_invoke_fields_are_checked_when_parsed(rule_runner: RuleRunner, fields: str, error: str) -> None:
    write_invoke(rule_runner, fields)
    message = parse_error(rule_runner, INVOKE)
    assert error in message and "Fix:" in message


def test_invoke_image_must_match_the_function_runtime_arch(rule_runner: RuleRunner) -> None:
    write_invoke(rule_runner, 'function=":fn@runtime=x86_64", image="//tc:runtime-arm", python="//py:py", expect="1"')
    with pytest.raises(ExecutionError) as exc:
        resolved_dependencies(rule_runner, INVOKE)
    assert "fn:invoke: `image` names tc:runtime-arm, a toolchain image for arm64, but the runtime runtimes:x86_64 is x86_64" in str(exc.value)


def test_invoke_cpython_must_be_built_for_the_function_runtime_arch(rule_runner: RuleRunner) -> None:
    rule_runner.write_files(
        {
            "tc/BUILD": (
                'toolchain_image(name="build", lockfile="b.lock")\n'
                'toolchain_image(name="build-arm", arch="arm64", lockfile="b.lock")\n'
                'toolchain_image(name="runtime", lockfile="r.lock")\n'
            ),
            "py/BUILD": 'cpython_build(name="py", source="py.tar.xz", toolchain="//tc:build-arm", python_version="3.13.5")\n',
        }
    )
    write_invoke(rule_runner, 'function=":fn@runtime=x86_64", image="//tc:runtime", python="//py:py", expect="1"')
    with pytest.raises(ExecutionError) as exc:
        resolved_dependencies(rule_runner, INVOKE)
    message = str(exc.value)
    assert "fn:invoke: `python` names py:py, a CPython built for arm64, but the runtime runtimes:x86_64 is x86_64" in message
    assert "Fix:" in message


def test_invoke_cpython_built_for_both_arches_fits_either(rule_runner: RuleRunner) -> None:
    rule_runner.write_files(
        {
            "tc/BUILD": (
                'toolchain_image(name="build", lockfile="b.lock")\n'
                'toolchain_image(name="build-arm", arch="arm64", lockfile="b.lock")\n'
                'toolchain_image(name="runtime", lockfile="r.lock")\n'
            ),
            "py/BUILD": 'cpython_build(name="py", source="py.tar.xz", python_version="3.13.5", '
            'toolchain=parametrize(x86_64="//tc:build", arm64="//tc:build-arm"))\n',
        }
    )
    write_invoke(rule_runner, 'function=":fn@runtime=x86_64", image="//tc:runtime", python="//py:py", expect="1"')
    resolved = resolved_dependencies(rule_runner, INVOKE)
    assert "py@toolchain=x86_64" in resolved


def test_invoke_function_must_name_one_variant(rule_runner: RuleRunner) -> None:
    write_invoke(rule_runner, 'function=":fn", image="//tc:runtime", python="//py:py", expect="1"')
    field = rule_runner.get_target(INVOKE)[InvokeFunctionField]
    with pytest.raises(ExecutionError) as exc:
        rule_runner.request(ReferencedTargets, [ReferencesRequest.of(field)])
    message = str(exc.value)
    assert "fn:invoke: `function` entry `:fn` is parametrized and names 2 targets" in message
    assert "fn@runtime=arm64" in message and "Fix: name one of them" in message


@pytest.mark.parametrize(
    "fields, error",
    [
        ('lockfile="b.lock", image="repo@sha256:' + "0" * 64 + '"', "sets both of `lockfile` and `image`"),
        ("", "sets neither of `lockfile` and `image`"),
        ('image="repo:latest"', "The `image` field of tc:t is `repo:latest`, not pinned by digest"),
    ],
)
def test_toolchain_image_fields_are_checked_when_parsed(rule_runner: RuleRunner, fields: str, error: str) -> None:
    rule_runner.write_files({"tc/BUILD": f'toolchain_image(name="t", {fields})\n'})
    message = parse_error(rule_runner, Address("tc", target_name="t"))
    assert error in message and "Fix:" in message


@pytest.mark.parametrize(
    "fields, error",
    [
        ('python_version="3.13", glibc="2"', "The `glibc` field of runtimes:rt is '2', not a version like `2.34`"),
        ('python_version="313", glibc="2.34"', "The `python_version` field of runtimes:rt is '313', not a version like `3.13`"),
    ],
)
def test_runtime_versions_are_checked_when_parsed(rule_runner: RuleRunner, fields: str, error: str) -> None:
    rule_runner.write_files(
        {"runtimes/BUILD": f'serverless_runtime(name="rt", arch="x86_64", resolve="rt", complete_platform="rt.json", {fields})\n'}
    )
    message = parse_error(rule_runner, Address("runtimes", target_name="rt"))
    assert error in message and "Fix:" in message
