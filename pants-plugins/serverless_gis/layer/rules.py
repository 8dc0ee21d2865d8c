"""Building `serverless_layer` zips."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pants.backend.python.target_types import PexLayout
from pants.backend.python.util_rules.pex import Pex, PexRequest
from pants.backend.python.util_rules.pex_requirements import PexRequirements, Resolve
from pants.backend.python.util_rules.pex_venv import PexVenv, PexVenvLayout, PexVenvRequest
from pants.core.goals.package import BuiltPackage, BuiltPackageArtifact, PackageFieldSet
from pants.engine.addresses import Address, UnparsedAddressInputs
from pants.engine.fs import Digest, MergeDigests
from pants.engine.rules import Get, collect_rules, rule
from pants.engine.target import Targets
from pants.engine.unions import UnionRule
from pants.util.frozendict import FrozenDict
from pants.util.logging import LogLevel
from serverless_gis.artifact import ZipArtifact, ZipArtifactRequest, format_contributors, mib
from serverless_gis.layer.target_types import (
    LayerBytecodeField,
    LayerEnvironmentField,
    LayerNativesField,
    LayerPruneField,
    LayerRequirementsField,
    LayerResolveField,
    LayerRuntimeField,
    LayerSizeBudgetMbField,
)
from serverless_gis.native.rules import NativeClosure, NativeClosureRequest
from serverless_gis.runtime.rules import RuntimeRequest, ServerlessRuntime
from serverless_gis.runtime.target_types import MIB


class LayerTooLargeError(Exception):
    pass


@dataclass(frozen=True)
class ServerlessLayerFieldSet(PackageFieldSet):
    required_fields = (LayerRuntimeField, LayerRequirementsField)

    runtime: LayerRuntimeField
    requirements: LayerRequirementsField
    natives: LayerNativesField
    resolve: LayerResolveField
    size_budget_mb: LayerSizeBudgetMbField
    prune: LayerPruneField
    bytecode: LayerBytecodeField
    environment: LayerEnvironmentField


@dataclass(frozen=True)
class BuiltLayer:
    address: Address
    runtime: ServerlessRuntime
    resolve: str
    artifact: ZipArtifact
    environment: FrozenDict[str, str]


def layer_output_path(address: Address, runtime: ServerlessRuntime) -> str:
    return f"{address.spec_path}/{address.target_name}-{runtime.name}.zip".lstrip("/")


async def layer_native_tree(address: Address, specs: tuple[str, ...]) -> Digest | None:
    """One tree holding the layer's native libraries and all they depend on."""
    if not specs:
        return None
    targets = await Get(
        Targets,
        UnparsedAddressInputs(specs, owning_address=address, description_of_origin=f"the `natives` of {address}"),
    )
    closure = await Get(NativeClosure, NativeClosureRequest(targets, address, "natives"))
    return await Get(Digest, MergeDigests(closure.trees))


@rule(desc="Build a serverless layer", level=LogLevel.DEBUG)
async def build_layer(field_set: ServerlessLayerFieldSet) -> BuiltLayer:
    address = field_set.address
    runtime = await Get(ServerlessRuntime, RuntimeRequest(field_set.runtime.value, address))
    resolve = field_set.resolve.value or runtime.resolve
    native_tree = await layer_native_tree(address, field_set.natives.value or ())
    pex = await Get(
        Pex,
        PexRequest(
            output_filename="layer.pex",
            internal_only=False,
            requirements=PexRequirements(
                field_set.requirements.value,
                from_superset=Resolve(resolve, use_entire_lockfile=False),
                description_of_origin=f"the `requirements` of {address}",
            ),
            complete_platforms=runtime.complete_platforms,
            layout=PexLayout.PACKED,
            description=f"Resolve requirements of {address}",
        ),
    )
    venv = await Get(
        PexVenv,
        PexVenvRequest(
            pex=pex,
            layout=PexVenvLayout.FLAT,
            output_path=Path("__layer"),
            complete_platforms=runtime.complete_platforms,
            description=f"Install requirements of {address}",
        ),
    )
    artifact = await Get(
        ZipArtifact,
        ZipArtifactRequest(
            tree=venv.digest,
            src="__layer",
            prefix="python/",
            mount="/opt",
            prune=tuple(field_set.prune.value or ()),
            bytecode=field_set.bytecode.value,
            output_path=layer_output_path(address, runtime),
            interpreter_constraint=runtime.interpreter_constraint,
            description=f"Zip layer {address}",
            native_tree=native_tree,
        ),
    )
    budget_mb = field_set.size_budget_mb.value
    budget = budget_mb * MIB if budget_mb is not None else runtime.max_unzipped_bytes
    if artifact.unzipped_bytes > budget:
        raise LayerTooLargeError(
            f"{address}: the layer is {mib(artifact.unzipped_bytes)} unzipped, over its budget "
            f"of {mib(budget)} (`size_budget_mb`, default: the runtime's `max_unzipped_mb`).\n"
            f"Largest contributors:\n{format_contributors(artifact.contributors)}\n"
            "Fix: move requirements to another layer, add `prune` patterns, or raise "
            "`size_budget_mb`."
        )
    return BuiltLayer(
        address=address,
        runtime=runtime,
        resolve=resolve,
        artifact=artifact,
        environment=FrozenDict(field_set.environment.value or {}),
    )


@rule(desc="Package a serverless layer", level=LogLevel.DEBUG)
async def package_layer(field_set: ServerlessLayerFieldSet) -> BuiltPackage:
    layer = await Get(BuiltLayer, ServerlessLayerFieldSet, field_set)
    artifact = layer.artifact
    return BuiltPackage(
        digest=artifact.digest,
        artifacts=(
            BuiltPackageArtifact(
                artifact.path,
                extra_log_lines=(
                    f"    Runtime: {layer.runtime.describe()}",
                    f"    Size: {mib(artifact.unzipped_bytes)} unzipped, "
                    f"{mib(artifact.zipped_bytes)} zipped",
                    f"    sha256: {artifact.sha256}",
                ),
            ),
        ),
    )


def rules():
    return (*collect_rules(), UnionRule(PackageFieldSet, ServerlessLayerFieldSet))
