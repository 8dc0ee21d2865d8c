"""Rule tests of what a layer references (its runtime, natives, bindings of its runtime, base
layers) and of its fields."""

from __future__ import annotations

import pytest

from pants.engine.addresses import Address
from pants.engine.internals.parametrize import Parametrize
from pants.engine.internals.scheduler import ExecutionError
from pants.testutil.rule_runner import QueryRule, RuleRunner
from serverless_gis import compatibility, references
from serverless_gis.testutil import DEPENDENCIES_QUERY, RUNTIMES_BUILD, resolved_dependencies
from serverless_gis.bindings.target_types import PythonBindingsTarget
from serverless_gis.layer.target_types import (
    DEFAULT_LAYER_PRUNE,
    DEFAULT_NATIVE_PRUNE,
    LayerBaseLayersField,
    LayerBindingsField,
    LayerNativesField,
    LayerPruneField,
    ServerlessLayerTarget,
)
from serverless_gis.licenses.target_types import LayerAllowedLicensesField
from serverless_gis.native.target_types import CPythonBuildTarget, NativeLibraryTarget, ToolchainImageTarget
from serverless_gis.references import ReferencedTargets, ReferencesRequest
from serverless_gis.runtime.target_types import ServerlessRuntimeTarget

GEO = Address("layers", target_name="geo", parameters={"runtime": "x86_64"})
GEO_ARM = Address("layers", target_name="geo", parameters={"runtime": "arm64"})
RUNTIME = Address("runtimes", target_name="x86_64")
RUNTIME_ARM = Address("runtimes", target_name="arm64")


@pytest.fixture
def rule_runner() -> RuleRunner:
    runner = RuleRunner(
        rules=[
            *references.rules(),
            *compatibility.rules(),
            QueryRule(ReferencedTargets, [ReferencesRequest]),
            DEPENDENCIES_QUERY,
        ],
        target_types=[
            ServerlessRuntimeTarget,
            ServerlessLayerTarget,
            NativeLibraryTarget,
            ToolchainImageTarget,
            PythonBindingsTarget,
            CPythonBuildTarget,
        ],
        objects={"parametrize": Parametrize},
    )
    runner.write_files(
        {
            "runtimes/BUILD": RUNTIMES_BUILD,
            "toolchain/BUILD": 'toolchain_image(name="tc", lockfile="tc.lock")\n',
            "native/BUILD": (
                'native_library(name="proj", source="proj.tar.gz", toolchain="//toolchain:tc")\n'
                'native_library(name="gdal", source="gdal.tar.gz", toolchain="//toolchain:tc", dependencies=[":proj"])\n'
            ),
            "python/BUILD": 'cpython_build(name="py", source="py.tar.xz", toolchain="//toolchain:tc", python_version="3.13.5")\n',
            "bindings/BUILD": (
                'python_bindings(name="gis", packages=["pyproj"], natives=["//native:gdal"], '
                'python="//python:py", runtime="//runtimes:x86_64")\n'
            ),
            "layers/BUILD": (
                'serverless_layer(name="geo", requirements=["pyproj"], bindings=["//bindings:gis"], '
                'natives=["//native:proj"], '
                'runtime=parametrize(x86_64="//runtimes:x86_64", arm64="//runtimes:arm64"))\n'
                'serverless_layer(name="bad", runtime="//runtimes:x86_64", natives=["//runtimes:x86_64"])\n'
            ),
        }
    )
    return runner



def test_bindings_apply_to_the_variant_of_their_runtime_only(rule_runner: RuleRunner) -> None:
    for address, runtime, expected in ((GEO, RUNTIME, ["bindings:gis"]), (GEO_ARM, RUNTIME_ARM, [])):
        field = rule_runner.get_target(address)[LayerBindingsField]
        found = rule_runner.request(ReferencedTargets, [ReferencesRequest.of(field, runtime=runtime)])
        assert [a.spec for a in found.addresses] == expected


def test_references_are_dependencies(rule_runner: RuleRunner) -> None:
    assert resolved_dependencies(rule_runner, GEO) == {"runtimes:x86_64", "native:proj", "bindings:gis"}
    # The arm64 variant does not use the x86_64 bindings, so a binding change does not touch it.
    assert resolved_dependencies(rule_runner, GEO_ARM) == {"runtimes:arm64", "native:proj"}
    bindings = resolved_dependencies(rule_runner, Address("bindings", target_name="gis"))
    assert bindings == {"native:gdal", "python:py", "runtimes:x86_64"}  # the image: through python


def test_natives_must_name_native_libraries(rule_runner: RuleRunner) -> None:
    field = rule_runner.get_target(Address("layers", target_name="bad"))[LayerNativesField]
    with pytest.raises(ExecutionError) as exc:
        rule_runner.request(ReferencedTargets, [ReferencesRequest.of(field)])
    assert "layers:bad: `natives` names runtimes:x86_64, a `serverless_runtime`, not a `native_library`" in str(exc.value)
    assert "Fix:" in str(exc.value)


def test_unknown_native_library_names_the_field_and_fix(rule_runner: RuleRunner) -> None:
    field = LayerNativesField(["//native:nope"], Address("layers", target_name="geo"))
    with pytest.raises(ExecutionError) as exc:
        rule_runner.request(ReferencedTargets, [ReferencesRequest.of(field)])
    assert "unknown native library `//native:nope`" in str(exc.value)


def test_bindings_python_must_be_built_for_the_runtime_arch(rule_runner: RuleRunner) -> None:
    rule_runner.write_files(
        {
            "toolchain/BUILD": (
                'toolchain_image(name="tc", lockfile="tc.lock")\n'
                'toolchain_image(name="tc-arm", arch="arm64", lockfile="tc.lock")\n'
            ),
            "python/BUILD": 'cpython_build(name="py-arm", source="py.tar.xz", toolchain="//toolchain:tc-arm", python_version="3.13.5")\n',
            "bindings/BUILD": (
                'python_bindings(name="gis", packages=["pyproj"], natives=["//native:gdal"], '
                'python="//python:py-arm", runtime="//runtimes:x86_64")\n'
            ),
        }
    )
    with pytest.raises(ExecutionError) as exc:
        resolved_dependencies(rule_runner, Address("bindings", target_name="gis"))
    message = str(exc.value)
    assert "bindings:gis: `python` names python:py-arm, a CPython built for arm64, but the runtime runtimes:x86_64 is x86_64" in message

def test_bindings_cpython_must_match_the_runtime_python(rule_runner: RuleRunner) -> None:
    rule_runner.write_files(
        {"python/BUILD": 'cpython_build(name="py", source="py.tar.xz", toolchain="//toolchain:tc", python_version="3.12.9")\n'}
    )
    with pytest.raises(ExecutionError) as exc:
        resolved_dependencies(rule_runner, Address("bindings", target_name="gis"))
    assert "`python` names python:py, CPython 3.12.9, but the runtime runtimes:x86_64 is Python 3.13" in str(exc.value)


@pytest.mark.parametrize(
    "fields, error",
    [
        ('optimize_for_size=["shapely"]', "`optimize_for_size` lists ['shapely'], which `packages` does not build"),
    ],
)
def test_bindings_fields_are_checked_when_parsed(rule_runner: RuleRunner, fields: str, error: str) -> None:
    rule_runner.write_files(
        {
            "bindings/BUILD": (
                f'python_bindings(name="gis", packages=["pyproj"], natives=["//native:gdal"], {fields}, '
                'python="//python:py", runtime="//runtimes:x86_64")\n'
            )
        }
    )
    with pytest.raises(ExecutionError) as exc:
        rule_runner.get_target(Address("bindings", target_name="gis"))
    assert "bindings:gis" in str(exc.value) and error in str(exc.value) and "Fix:" in str(exc.value)


def test_base_layers_take_the_variant_of_the_layer_runtime_and_are_dependencies(rule_runner: RuleRunner) -> None:
    rule_runner.write_files(
        {
            "stacked/BUILD": (
                'serverless_layer(name="tiles", requirements=["mercantile"], base_layers=["//layers:geo"], '
                'runtime=parametrize(x86_64="//runtimes:x86_64", arm64="//runtimes:arm64"))\n'
                'serverless_layer(name="x86-only", requirements=["six"], base_layers=["//layers:geo"], '
                'runtime="//runtimes:x86_64")\n'
            )
        }
    )
    tiles_arm = Address("stacked", target_name="tiles", parameters={"runtime": "arm64"})
    assert resolved_dependencies(rule_runner, tiles_arm) == {"runtimes:arm64", "layers:geo@runtime=arm64"}
    field = rule_runner.get_target(Address("stacked", target_name="x86-only"))[LayerBaseLayersField]
    found = rule_runner.request(ReferencedTargets, [ReferencesRequest.of(field, runtime=RUNTIME)])
    assert found.addresses == (GEO,)


def test_base_layer_not_built_for_the_runtime_names_the_fix(rule_runner: RuleRunner) -> None:
    rule_runner.write_files(
        {"stacked/BUILD": 'serverless_layer(name="on-bad", base_layers=["//layers:bad"], runtime="//runtimes:arm64")\n'}
    )
    field = rule_runner.get_target(Address("stacked", target_name="on-bad"))[LayerBaseLayersField]
    with pytest.raises(ExecutionError) as exc:
        rule_runner.request(ReferencedTargets, [ReferencesRequest.of(field, runtime=RUNTIME_ARM)])
    message = str(exc.value)
    assert "stacked:on-bad: base layer `//layers:bad` is not built for the layer's runtime runtimes:arm64" in message
    assert "parametrize" in message


def test_prune_adds_to_the_defaults_and_removes_one(rule_runner: RuleRunner) -> None:
    rule_runner.write_files(
        {
            "pruned/BUILD": (
                'serverless_layer(name="more", runtime="//runtimes:x86_64", prune=["*.txt", "!*.md"])\n'
                'serverless_layer(name="default", runtime="//runtimes:x86_64")\n'
                'serverless_layer(name="config", runtime="//runtimes:x86_64", prune=["!/bin/*"])\n'
                'serverless_layer(name="typo", runtime="//runtimes:x86_64", prune=["!*.mdx"])\n'
            )
        }
    )

    def prune(name: str) -> LayerPruneField:
        return rule_runner.get_target(Address("pruned", target_name=name))[LayerPruneField]

    assert prune("default").python_patterns() == DEFAULT_LAYER_PRUNE
    assert prune("default").native_patterns() == DEFAULT_NATIVE_PRUNE
    assert "/bin/*" in DEFAULT_NATIVE_PRUNE and "/share/bash-completion/" in DEFAULT_NATIVE_PRUNE
    assert prune("more").python_patterns() == (*(p for p in DEFAULT_LAYER_PRUNE if p != "*.md"), "*.txt")
    assert prune("more").native_patterns() == DEFAULT_NATIVE_PRUNE
    # A layer that ships `gdal-config` and the like keeps them; the Python defaults stay.
    assert prune("config").native_patterns() == tuple(p for p in DEFAULT_NATIVE_PRUNE if p != "/bin/*")
    assert prune("config").python_patterns() == DEFAULT_LAYER_PRUNE
    with pytest.raises(ExecutionError) as exc:
        prune("typo")
    assert "pruned:typo: `prune` removes `*.mdx`, which is not a default pattern" in str(exc.value)


def test_allowed_licenses_are_spdx_ids_checked_when_parsed(rule_runner: RuleRunner) -> None:
    rule_runner.write_files(
        {
            "gpl/BUILD": (
                'serverless_layer(name="ok", runtime="//runtimes:x86_64", '
                'allowed_licenses=["GPL-2.0-or-later", "GPL-2.0-only WITH Classpath-exception-2.0"])\n'
                'serverless_layer(name="expr", runtime="//runtimes:x86_64", allowed_licenses=["MIT OR GPL-2.0-only"])\n'
            )
        }
    )
    ok = rule_runner.get_target(Address("gpl", target_name="ok"))[LayerAllowedLicensesField].value
    assert ok == ("GPL-2.0-or-later", "GPL-2.0-only WITH Classpath-exception-2.0")
    with pytest.raises(ExecutionError) as exc:
        rule_runner.get_target(Address("gpl", target_name="expr"))
    message = str(exc.value)
    assert "gpl:expr: `allowed_licenses` entry `MIT OR GPL-2.0-only` is not an SPDX licence id" in message
    assert "Fix:" in message
