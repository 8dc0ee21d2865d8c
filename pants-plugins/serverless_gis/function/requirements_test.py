"""Rule tests of a function's own `requirements`: the field, and the checks against its layers."""

from __future__ import annotations

import json

import pytest

from pants.engine.addresses import Address
from pants.engine.internals.parametrize import Parametrize
from pants.engine.internals.scheduler import ExecutionError
from pants.engine.target import InvalidFieldException
from pants.testutil.rule_runner import QueryRule, RuleRunner
from pants.util.frozendict import FrozenDict
from serverless_gis import python_lock, references
from serverless_gis.function import requirements
from serverless_gis.function.requirements import (
    FunctionRequirements,
    FunctionRequirementsError,
    FunctionRequirementsRequest,
    LockedLayer,
    check_against_layers,
    check_locked,
)
from serverless_gis.function.target_types import FunctionRequirementsField, ServerlessFunctionTarget
from serverless_gis.layer.target_types import ServerlessLayerTarget
from serverless_gis.python_lock import LockedProject, LockedResolve
from serverless_gis.runtime import rules as runtime_rules
from serverless_gis.runtime.target_types import ServerlessRuntimeTarget
from serverless_gis.testutil import RUNTIMES_BUILD

FN = Address("functions/pinned")
TILES = LockedLayer(
    Address("layers/tiles"), "x86_64", "x86_64.lock", FrozenDict({"click": "8.1.8", "mercantile": "1.2.1"})
)
GRID = LockedLayer(Address("layers/grid"), "x86_64", "x86_64.lock", FrozenDict({"affine": "2.4.0"}))


def test_field_rejects_a_requirement_that_is_not_pep_508() -> None:
    with pytest.raises(InvalidFieldException, match=r"(?s)functions/pinned.*`geojson=>3`.*PEP 508.*Fix:"):
        FunctionRequirementsField(["geojson=>3"], FN)
    assert FunctionRequirementsField(["geojson==3.2.0"], FN).value == ("geojson==3.2.0",)


def test_a_pin_against_its_layer_names_function_package_both_versions_and_layer() -> None:
    with pytest.raises(FunctionRequirementsError) as exc:
        check_against_layers(FN, ["geojson==3.2.0", "mercantile<1.2"], [TILES], [TILES, GRID])
    message = str(exc.value)
    for text in ("functions/pinned", "`mercantile<1.2`", "its layer layers/tiles", "mercantile 1.2.1", "Fix:"):
        assert text in message, message


def test_a_dependency_the_layers_lock_compatibly_passes() -> None:
    # click is locked for the layer through mercantile: a compatible specifier is fine.
    check_against_layers(FN, ["geojson==3.2.0", "click>=8", "mercantile"], [TILES], [TILES, GRID])


def test_a_pin_against_another_layer_of_the_resolve_fails_too() -> None:
    # Relocking would move affine for the grid layer and every function on it.
    with pytest.raises(FunctionRequirementsError, match=r"`affine<2`.*the layer layers/grid.*same resolve `x86_64`"):
        check_against_layers(FN, ["affine<2"], [TILES], [TILES, GRID])


def test_requirements_must_be_locked_at_package_time() -> None:
    locked = LockedResolve("x86_64.lock", FrozenDict({"geojson": LockedProject("3.1.0", ())}))
    check_locked(FN, ["geojson>=3"], "x86_64", locked)
    with pytest.raises(FunctionRequirementsError, match=r"`geojson==3.2.0`.*locks geojson 3.1.0.*generate-lockfiles --resolve=lock:x86_64"):
        check_locked(FN, ["geojson==3.2.0"], "x86_64", locked)
    with pytest.raises(FunctionRequirementsError, match=r"has no shapely"):
        check_locked(FN, ["shapely"], "x86_64", locked)


def lockfile(**projects: tuple[str, list[str]]) -> str:
    locked = [
        {"project_name": name, "version": version, "requires_dists": requires, "artifacts": []}
        for name, (version, requires) in projects.items()
    ]
    return "// header\n" + json.dumps({"locked_resolves": [{"locked_requirements": locked}]})


@pytest.fixture
def rule_runner() -> RuleRunner:
    runner = RuleRunner(
        rules=[
            *requirements.rules(),
            *python_lock.rules(),
            *runtime_rules.rules(),
            *references.rules(),
            QueryRule(FunctionRequirements, [FunctionRequirementsRequest]),
        ],
        target_types=[ServerlessRuntimeTarget, ServerlessLayerTarget, ServerlessFunctionTarget],
        objects={"parametrize": Parametrize},
    )
    runner.set_options(["--python-resolves={'x86_64': 'x86_64.lock', 'arm64': 'arm64.lock'}"])
    runner.write_files(
        {
            "runtimes/BUILD": RUNTIMES_BUILD,
            "runtimes/x86_64.json": "{}",
            "runtimes/arm64.json": "{}",
            "x86_64.lock": lockfile(mercantile=("1.2.1", ["click>=3.0"]), click=("8.1.8", [])),
            "layers/BUILD": (
                'serverless_layer(name="tiles", requirements=["mercantile"], '
                'runtime=parametrize(x86_64="//runtimes:x86_64", arm64="//runtimes:arm64"))\n'
            ),
        }
    )
    return runner


def function_build(name: str, requirements: list[str]) -> str:
    return (
        f'serverless_function(name="{name}", handler="handler.py:handler", layers=["//layers:tiles"], '
        f'requirements={requirements!r}, '
        'runtime=parametrize(x86_64="//runtimes:x86_64", arm64="//runtimes:arm64"))\n'
    )


def test_lock_time_requirements_of_the_resolve(rule_runner: RuleRunner) -> None:
    rule_runner.write_files({"functions/extra/BUILD": function_build("extra", ["geojson==3.2.0", "click"])})
    result = rule_runner.request(FunctionRequirements, [FunctionRequirementsRequest("x86_64")])
    extra = Address("functions/extra", target_name="extra", parameters={"runtime": "x86_64"})
    assert result.requirements == ((extra, "geojson==3.2.0"), (extra, "click"))


def test_lock_time_conflict_names_the_function_variant_and_the_layer(rule_runner: RuleRunner) -> None:
    rule_runner.write_files({"functions/pinned/BUILD": function_build("pinned", ["mercantile<1.2"])})
    with pytest.raises(ExecutionError) as exc:
        rule_runner.request(FunctionRequirements, [FunctionRequirementsRequest("x86_64")])
    message = str(exc.value)
    for text in ("functions/pinned@runtime=x86_64", "`mercantile<1.2`", "its layer layers:tiles@runtime=x86_64", "mercantile 1.2.1"):
        assert text in message, message
    # The arm64 lockfile does not exist yet: nothing is locked there, nothing conflicts.
    arm = rule_runner.request(FunctionRequirements, [FunctionRequirementsRequest("arm64")])
    assert [r for _, r in arm.requirements] == ["mercantile<1.2"]
