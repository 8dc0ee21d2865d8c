from __future__ import annotations

import pytest

from pants.engine.addresses import Address
from pants.engine.internals.parametrize import Parametrize
from pants.engine.internals.scheduler import ExecutionError
from pants.testutil.rule_runner import QueryRule, RuleRunner
from serverless_gis import register
from serverless_gis.function.rules import FunctionLayers, FunctionLayersRequest
from serverless_gis.runtime.rules import RuntimeRequest, ServerlessRuntime

FN = Address("functions/fn")


@pytest.fixture
def rule_runner() -> RuleRunner:
    runner = RuleRunner(
        rules=[
            *register.rules(),
            QueryRule(ServerlessRuntime, [RuntimeRequest]),
            QueryRule(FunctionLayers, [FunctionLayersRequest]),
        ],
        target_types=register.target_types(),
        objects={"parametrize": Parametrize},
    )
    runner.write_files(
        {
            "runtimes/BUILD": "\n".join(
                f'serverless_runtime(name="{arch}", python_version="3.13", arch="{arch}", '
                f'glibc="2.34", resolve="{arch}", complete_platform="{arch}.json", max_layers=2)'
                for arch in ("x86_64", "arm64")
            ),
            "runtimes/x86_64.json": "{}",
            "runtimes/arm64.json": "{}",
            "layers/BUILD": "\n".join(
                [
                    'serverless_layer(name="arm-only", runtime="//runtimes:arm64", requirements=["six"])',
                    'serverless_layer(name="both", runtime=parametrize(x86_64="//runtimes:x86_64", arm64="//runtimes:arm64"), requirements=["six"])',
                ]
            ),
        }
    )
    return runner


def layers_error(rule_runner: RuleRunner, *specs: str) -> str:
    runtime = rule_runner.request(ServerlessRuntime, [RuntimeRequest("//runtimes:x86_64", FN)])
    with pytest.raises(ExecutionError) as exc:
        rule_runner.request(FunctionLayers, [FunctionLayersRequest(FN, specs, runtime)])
    return str(exc.value)


def test_unknown_layer(rule_runner: RuleRunner) -> None:
    message = layers_error(rule_runner, "//layers:nope")
    assert "functions/fn" in message and "unknown layer `//layers:nope`" in message
    assert "Fix:" in message


def test_layer_for_another_runtime(rule_runner: RuleRunner) -> None:
    message = layers_error(rule_runner, "//layers:arm-only")
    assert "not built for the function's runtime runtimes:x86_64" in message
    assert "arm64" in message and "parametrize" in message


def test_too_many_layers(rule_runner: RuleRunner) -> None:
    message = layers_error(rule_runner, "//layers:both", "//layers:both", "//layers:both")
    assert "lists 3 layers" in message and "at most 2" in message


def test_runtime_field_must_name_a_runtime(rule_runner: RuleRunner) -> None:
    with pytest.raises(ExecutionError, match="not a `serverless_runtime`"):
        rule_runner.request(ServerlessRuntime, [RuntimeRequest("//layers:arm-only", FN)])
