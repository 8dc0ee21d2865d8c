from __future__ import annotations

import pytest

from pants.engine.addresses import Address
from pants.engine.internals.parametrize import Parametrize
from pants.engine.internals.scheduler import ExecutionError
from pants.testutil.rule_runner import QueryRule, RuleRunner
from pants.util.frozendict import FrozenDict
from serverless_gis import register
from serverless_gis.artifact import ZipArtifact
from serverless_gis.function.rules import (
    FunctionLayers,
    FunctionLayersRequest,
    ServerlessFunctionError,
    check_layer_conflicts,
    check_layer_overlap,
)
from serverless_gis.layer.rules import BuiltLayer
from serverless_gis.python_lock import LockedProject
from serverless_gis.runtime.rules import RuntimeRequest, ServerlessRuntime


def built_layer(spec: str, resolve: str, shared_files: tuple[str, ...] = (), **dists: str) -> BuiltLayer:
    artifact = ZipArtifact(
        digest=None, path="x.zip", sha256="0", unzipped_bytes=1, zipped_bytes=1,
        contributors=(), distributions=FrozenDict(dists), shared_files=shared_files,
    )
    return BuiltLayer(Address(spec), runtime=None, resolve=resolve, artifact=artifact, environment=FrozenDict())


FN = Address("functions/fn")


def test_layer_provided_distributions_are_excluded() -> None:
    layer = built_layer("layers/geo", "rt", numpy="2.2.6", shapely="2.1.2")
    locked = {"numpy": LockedProject("2.2.6", ()), "shapely": LockedProject("2.1.2", ("numpy",))}
    provided = check_layer_conflicts(FN, [(FN, "shapely>=2")], (layer,), locked, "rt.lock")
    assert set(provided) == {"numpy", "shapely"}


def test_specifier_conflict_names_both_targets_and_versions() -> None:
    layer = built_layer("layers/geo", "rt", shapely="2.1.2")
    with pytest.raises(ServerlessFunctionError) as exc:
        check_layer_conflicts(FN, [(Address("3rdparty", target_name="old"), "shapely<2")], (layer,), {}, "rt.lock")
    message = str(exc.value)
    assert "functions/fn" in message and "layers/geo" in message
    assert "shapely<2" in message and "2.1.2" in message


def test_locked_version_conflict_through_a_dependency() -> None:
    layer = built_layer("layers/geo", "layer-resolve", numpy="2.1.0")
    locked = {"shapely": LockedProject("2.1.2", ("numpy",)), "numpy": LockedProject("2.2.6", ())}
    with pytest.raises(ServerlessFunctionError, match=r"numpy.*pins 2\.2\.6.*layers/geo.*provides 2\.1\.0"):
        check_layer_conflicts(FN, [(FN, "shapely")], (layer,), locked, "rt.lock")


def test_two_layers_shipping_one_native_library_are_refused() -> None:
    geo = built_layer("layers/geo", "rt", shared_files=("libgdal", "libproj", "proj.db"))
    imaging = built_layer("layers/imaging", "rt", shared_files=("libjpeg", "libtiff"))
    check_layer_overlap(FN, (geo, imaging))
    wheels = built_layer("layers/wheels", "rt", shared_files=("libgeos", "libproj"))
    with pytest.raises(ServerlessFunctionError, match=r"functions/fn:fn: its layers layers/geo:geo and layers/wheels:wheels both ship `libproj`"):
        check_layer_overlap(FN, (geo, wheels))


def test_layers_that_disagree() -> None:
    a = built_layer("layers/a", "rt", six="1.16.0")
    b = built_layer("layers/b", "rt", six="1.17.0")
    with pytest.raises(ServerlessFunctionError, match="layers disagree on `six`"):
        check_layer_conflicts(FN, [], (a, b), {}, "rt.lock")


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
