"""Packaging `serverless_function` targets: zip, PEX and manifest, checked against layers and limits."""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from packaging.utils import canonicalize_name

from pants.backend.python.dependency_inference.parse_python_dependencies import (
    ParsedPythonDependencies,
    ParsePythonDependenciesRequest,
)
from pants.backend.python.target_types import PexLayout, PythonResolveField, PythonSourceField
from pants.backend.python.util_rules import faas
from pants.backend.python.util_rules.faas import (
    ResolvedPythonFaaSHandler,
    ResolvePythonFaaSHandlerRequest,
)
from pants.backend.python.util_rules.interpreter_constraints import InterpreterConstraints
from pants.backend.python.util_rules.pex import Pex, PexRequest
from pants.backend.python.util_rules.pex_from_targets import PexFromTargetsRequest
from serverless_gis.lock_slice import from_lock_slice
from pants.backend.python.util_rules.pex_venv import PexVenv, PexVenvLayout, PexVenvRequest
from pants.backend.python.target_types import PythonRequirementsField
from pants.core.goals.package import BuiltPackage, BuiltPackageArtifact, PackageFieldSet
from pants.engine.addresses import Address, Addresses
from pants.engine.fs import CreateDigest, Digest, FileContent, MergeDigests
from pants.engine.internals.selectors import Get, MultiGet
from pants.engine.rules import collect_rules, rule
from pants.engine.target import (
    FieldSet,
    InferDependenciesRequest,
    InferredDependencies,
    Targets,
    TransitiveTargets,
    TransitiveTargetsRequest,
)
from pants.engine.internals.graph import Owners, OwnersRequest
from pants.engine.unions import UnionRule
from pants.util.logging import LogLevel
from serverless_gis.artifact import ZipArtifact, ZipArtifactRequest, format_contributors, mib
from serverless_gis.function.requirements import check_locked, with_function_requirements
from serverless_gis.function.target_types import (
    FunctionDependenciesField,
    FunctionEnvironmentField,
    FunctionHandlerField,
    FunctionLayersField,
    FunctionRequirementsField,
    FunctionRuntimeField,
)
from serverless_gis.layer.rules import BuiltLayer, ServerlessLayerFieldSet, layer_sbom_request
from serverless_gis.layer.stack import (
    check_imports,
    check_requirements,
    check_shared_files,
    mount_order,
    provided_distributions,
)
from serverless_gis.references import ReferencedTargets, ReferencesRequest
from serverless_gis.python_lock import LockedResolve, LockedResolveRequest
from serverless_gis.runtime.rules import RuntimeRequest, ServerlessRuntime
from serverless_gis.sbom.rules import Sbom, SbomRequest
from pants.backend.python.subsystems.setup import PythonSetup

logger = logging.getLogger(__name__)

FUNCTION_PRUNE = (
    "__pycache__/",
    "*.pyc",
    "*.dist-info/RECORD",
    "*.dist-info/INSTALLER",
    "*.dist-info/REQUESTED",
    "*.dist-info/direct_url.json",
)


class ServerlessFunctionError(Exception):
    pass


# ---------------------------------------------------------------------------------------------
# Dependency inference: the handler's module, in the runtime's resolve.
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FunctionHandlerInferenceFieldSet(FieldSet):
    required_fields = (FunctionDependenciesField, FunctionHandlerField, FunctionRuntimeField)

    dependencies: FunctionDependenciesField
    handler: FunctionHandlerField
    runtime: FunctionRuntimeField


class InferFunctionHandlerDependency(InferDependenciesRequest):
    infer_from = FunctionHandlerInferenceFieldSet


@rule(desc="Inferring the dependency of a serverless_function on its handler")
async def infer_function_handler_dependency(
    request: InferFunctionHandlerDependency, python_setup: PythonSetup
) -> InferredDependencies:
    field_set = request.field_set
    runtime = await Get(ServerlessRuntime, RuntimeRequest, RuntimeRequest.of(field_set.runtime))
    files = field_set.handler.filespec["includes"]
    if not files:
        # A module path: rely on explicit `dependencies`.
        return InferredDependencies([])
    owners = await Get(Owners, OwnersRequest(tuple(files)))
    targets = await Get(Targets, Addresses(owners))
    in_resolve = [
        t.address
        for t in targets
        if t.has_field(PythonResolveField)
        and t[PythonResolveField].normalized_value(python_setup) == runtime.resolve
    ]
    if not in_resolve:
        raise ServerlessFunctionError(
            f"{field_set.address}: no `python_source` owns the handler file {files[0]} in the "
            f"resolve `{runtime.resolve}` of its runtime {runtime.address}. Fix: give the "
            f"handler's `python_sources` target `resolve=\"{runtime.resolve}\"` (or "
            "`parametrize` it over the runtimes' resolves)."
        )
    return InferredDependencies(in_resolve)


# ---------------------------------------------------------------------------------------------
# Layers of a function.
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FunctionLayersRequest:
    address: Address
    layer_specs: tuple[str, ...]
    runtime: ServerlessRuntime


@dataclass(frozen=True)
class FunctionLayers:
    layers: tuple[BuiltLayer, ...]  # in mount order, with the layers they are stacked on


@rule(desc="Resolve the layers of a serverless_function", level=LogLevel.DEBUG)
async def resolve_function_layers(request: FunctionLayersRequest) -> FunctionLayers:
    runtime = request.runtime
    owner = request.address
    if len(request.layer_specs) > runtime.max_layers:
        raise ServerlessFunctionError(
            f"{owner}: lists {len(request.layer_specs)} layers, but its runtime "
            f"{runtime.address} allows at most {runtime.max_layers}. Fix: merge layers "
            "(e.g. a combined `serverless_layer`) or move requirements into the function."
        )
    layers = await Get(
        ReferencedTargets,
        ReferencesRequest.of(FunctionLayersField(request.layer_specs, owner), runtime=runtime.address),
    )
    built = await MultiGet(
        Get(BuiltLayer, ServerlessLayerFieldSet, ServerlessLayerFieldSet.create(t))
        for t in layers.targets
    )
    mounted = mount_order(built)
    if len(mounted) > runtime.max_layers:
        raise ServerlessFunctionError(
            f"{owner}: its layers and the layers they are stacked on are {len(mounted)} "
            f"({', '.join(str(layer.address) for layer in mounted)}), but its runtime "
            f"{runtime.address} allows at most {runtime.max_layers}. Fix: merge layers or move "
            "requirements into the function."
        )
    return FunctionLayers(mounted)


# ---------------------------------------------------------------------------------------------
# Packaging.
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ServerlessFunctionFieldSet(PackageFieldSet):
    required_fields = (FunctionHandlerField, FunctionRuntimeField)

    handler: FunctionHandlerField
    runtime: FunctionRuntimeField
    layers: FunctionLayersField
    requirements: FunctionRequirementsField
    environment: FunctionEnvironmentField
    dependencies: FunctionDependenciesField


async def first_party_imports(transitive: TransitiveTargets, runtime: ServerlessRuntime) -> list[tuple[str, str]]:
    """(file, module) of every import in the function's own sources that is not inside a
    `try` (an optional import)."""
    sources = [t for t in transitive.closure if t.has_field(PythonSourceField)]
    parsed = await MultiGet(
        Get(
            ParsedPythonDependencies,
            ParsePythonDependenciesRequest(
                t[PythonSourceField], InterpreterConstraints([runtime.interpreter_constraint])
            ),
        )
        for t in sources
    )
    return sorted(
        (t[PythonSourceField].file_path, module)
        for t, deps in zip(sources, parsed)
        for module, info in deps.imports.items()
        if not info.weak
    )


def function_output_stem(address: Address, runtime: ServerlessRuntime) -> str:
    return f"{address.spec_path}/{address.target_name}-{runtime.name}".lstrip("/")


@rule(desc="Package a serverless function", level=LogLevel.DEBUG)
async def package_function(field_set: ServerlessFunctionFieldSet) -> BuiltPackage:
    address = field_set.address
    runtime = await Get(ServerlessRuntime, RuntimeRequest, RuntimeRequest.of(field_set.runtime))
    function_layers, handler, transitive = await MultiGet(
        Get(FunctionLayers, FunctionLayersRequest(address, tuple(field_set.layers.value or ()), runtime)),
        Get(ResolvedPythonFaaSHandler, ResolvePythonFaaSHandlerRequest(field_set.handler)),
        Get(TransitiveTargets, TransitiveTargetsRequest([address])),
    )
    layers = function_layers.layers

    own_requirements = tuple(field_set.requirements.value or ())
    requirement_strings = [
        (t.address, str(req))
        for t in transitive.closure
        if t.has_field(PythonRequirementsField)
        for req in t[PythonRequirementsField].value
    ] + [(address, req) for req in own_requirements]
    locked = await Get(LockedResolve, LockedResolveRequest(runtime.resolve))
    # Distributions first: a shared one also shares its large files, and its name is the better error.
    provided = provided_distributions(address, layers)
    check_shared_files(address, layers)
    check_requirements(address, requirement_strings, provided, dict(locked.projects), locked.lockfile)
    check_locked(address, own_requirements, runtime.resolve, locked)
    exclude_args = tuple(arg for name in sorted(provided) for arg in ("--exclude", name))

    stem = function_output_stem(address, runtime)
    python_roots = [t.address for t in transitive.dependencies if t.has_field(PythonResolveField)]
    pex_request = await Get(
        PexRequest,
        PexFromTargetsRequest(
            addresses=python_roots,
            internal_only=False,
            output_filename=f"{stem}.pex",
            complete_platforms=runtime.complete_platforms,
            layout=PexLayout.ZIPAPP,
            additional_args=exclude_args,
            additional_lockfile_args=exclude_args,
            description=f"Build PEX of {address}",
        ),
    )
    pex_request = await with_function_requirements(pex_request, own_requirements, runtime.resolve)
    pex = await Get(Pex, PexRequest, await from_lock_slice(pex_request, runtime.resolve))
    venv = await Get(
        PexVenv,
        PexVenvRequest(
            pex=pex,
            layout=PexVenvLayout.FLAT,
            output_path=Path("__function"),
            complete_platforms=runtime.complete_platforms,
            description=f"Install {address}",
        ),
    )
    artifact = await Get(
        ZipArtifact,
        ZipArtifactRequest(
            tree=venv.digest,
            src="__function",
            prefix="",
            mount=runtime.model.task_root,
            prune=FUNCTION_PRUNE,
            bytecode="alongside",
            output_path=f"{stem}.zip",
            interpreter_constraint=runtime.interpreter_constraint,
            description=f"Zip function {address}",
        ),
    )

    leaked = sorted(
        name for name in artifact.distributions if canonicalize_name(name) in provided
    )
    if leaked:
        raise ServerlessFunctionError(
            f"{address}: the zip still contains {', '.join(leaked)}, which its layers provide."
        )
    check_shared_files(address, layers, own=artifact)
    check_imports(address, runtime.describe(), await first_party_imports(transitive, runtime), artifact, layers)
    total = artifact.unzipped_bytes + sum(layer.artifact.unzipped_bytes for layer in layers)
    if total > runtime.max_unzipped_bytes:
        parts = [(f"function {address}", artifact.unzipped_bytes)] + [
            (f"layer {layer.address}", layer.artifact.unzipped_bytes) for layer in layers
        ]
        raise ServerlessFunctionError(
            f"{address}: function plus layers are {mib(total)} unzipped, over the "
            f"{mib(runtime.max_unzipped_bytes)} limit of {runtime.describe()}.\n"
            f"By part:\n{format_contributors(tuple(sorted(parts, key=lambda p: -p[1])))}\n"
            f"Largest contributors in the function:\n{format_contributors(artifact.contributors)}\n"
            "Fix: move shared requirements into a layer, prune layers, or split the function."
        )
    direct_upload = artifact.zipped_bytes <= runtime.max_direct_upload_bytes
    if not direct_upload:
        logger.warning(
            f"{address}: the zip is {mib(artifact.zipped_bytes)}, over the "
            f"{mib(runtime.max_direct_upload_bytes)} direct-upload limit; deploy it through S3."
        )

    environment = {}
    for layer in layers:
        environment.update(layer.environment)
    environment.update(field_set.environment.value or {})
    manifest = {
        "function": str(address),
        "handler": f"{handler.module}.{handler.func}",
        "runtime": {
            "address": str(runtime.address),
            "provider": runtime.provider,
            "python": f"{runtime.python_version[0]}.{runtime.python_version[1]}",
            "arch": runtime.arch,
            "glibc": f"{runtime.glibc[0]}.{runtime.glibc[1]}",
        },
        "artifact": {
            "zip": os.path.basename(artifact.path),
            "sha256": artifact.sha256,
            "unzipped_bytes": artifact.unzipped_bytes,
            "zipped_bytes": artifact.zipped_bytes,
            "direct_upload": direct_upload,
        },
        "pex": os.path.basename(pex.name),
        "layers": [
            {
                "address": str(layer.address),
                "zip": os.path.basename(layer.artifact.path),
                "sha256": layer.artifact.sha256,
                "unzipped_bytes": layer.artifact.unzipped_bytes,
                "distributions": dict(layer.artifact.distributions),
            }
            for layer in layers
        ],
        "distributions": dict(artifact.distributions),
        "environment": dict(sorted(environment.items())),
        "total_unzipped_bytes": total,
    }
    layer_sboms = await MultiGet(Get(Sbom, SbomRequest, layer_sbom_request(layer)) for layer in layers)
    sbom = await Get(
        Sbom,
        SbomRequest(
            owner=address,
            kind="function",
            artifact=artifact,
            runtime=runtime.describe(),
            resolve=runtime.resolve,
            python_prefix="",
            layers=layer_sboms,
        ),
    )
    manifest_path = f"{stem}.manifest.json"
    manifest_digest = await Get(
        Digest,
        CreateDigest(
            [FileContent(manifest_path, (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode())]
        ),
    )
    digest = await Get(Digest, MergeDigests([artifact.digest, pex.digest, manifest_digest, sbom.digest]))
    return BuiltPackage(
        digest=digest,
        artifacts=(
            BuiltPackageArtifact(
                artifact.path,
                extra_log_lines=(
                    f"    Runtime: {runtime.describe()}",
                    f"    Handler: {handler.module}.{handler.func}",
                    f"    Size: {mib(artifact.unzipped_bytes)} unzipped; with layers {mib(total)}",
                    f"    Layers: {', '.join(str(layer.address) for layer in layers) or 'none'}",
                ),
            ),
            BuiltPackageArtifact(pex.name),
            BuiltPackageArtifact(manifest_path),
            BuiltPackageArtifact(sbom.path),
        ),
    )


def rules():
    return (
        *collect_rules(),
        *faas.rules(),
        UnionRule(PackageFieldSet, ServerlessFunctionFieldSet),
        UnionRule(InferDependenciesRequest, InferFunctionHandlerDependency),
    )
