"""Building `serverless_layer` zips."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pants.backend.python.target_types import PexLayout
from pants.backend.python.util_rules.pex import Pex, PexRequest
from pants.backend.python.util_rules.pex_requirements import PexRequirements, Resolve
from pants.backend.python.util_rules.pex_venv import PexVenv, PexVenvLayout, PexVenvRequest
from pants.core.goals.package import BuiltPackage, BuiltPackageArtifact, PackageFieldSet
from pants.engine.addresses import Address, Addresses
from pants.engine.fs import Digest, MergeDigests
from pants.engine.rules import Get, MultiGet, collect_rules, rule
from pants.engine.target import Targets
from pants.engine.unions import UnionRule
from pants.util.frozendict import FrozenDict
from pants.util.logging import LogLevel
from pants.engine.fs import PathGlobs
from serverless_gis.artifact import ZipArtifact, ZipArtifactRequest, format_contributors, mib, unzip_into
from serverless_gis.bindings.rules import BuiltBindings, RuntimeBindings, RuntimeBindingsRequest
from serverless_gis.bindings.target_types import BindingsNativesField
from serverless_gis.layer.imports import check_layer_imports
from serverless_gis.layer.stack import (
    check_requirements,
    check_shared_files,
    mount_order,
    provided_distributions,
)
from serverless_gis.layer.target_types import (
    LayerAllowedLicensesField,
    LayerBaseLayersField,
    LayerBindingsField,
    LayerBytecodeField,
    LayerEnvironmentField,
    LayerNativesField,
    LayerPruneField,
    LayerRequirementsField,
    LayerResolveField,
    LayerRuntimeField,
    LayerSizeBudgetMbField,
)
from serverless_gis.licenses.rules import LicenseGate, LicenseGateRequest
from serverless_gis.licenses.source_bundle import SourceBundle, SourceBundleRequest
from serverless_gis.lock_slice import from_lock_slice
from serverless_gis.native.closure import NativeClosureTargets, NativeClosureTargetsRequest
from serverless_gis.native.rules import NativeClosure, NativeClosureRequest, run_in_image
from serverless_gis.native.step_scripts import step_path, step_scripts
from serverless_gis.native.subsystem import NativeBuildSubsystem
from serverless_gis.native.target_types import NativeHardeningAllowancesField
from serverless_gis.python_lock import LockedResolve, LockedResolveRequest, closure
from serverless_gis.references import ReferencedTargets, ReferencesRequest
from serverless_gis.runtime.rules import RuntimeRequest, ServerlessRuntime
from serverless_gis.runtime.target_types import MIB
from serverless_gis.sbom.rules import Sbom, SbomRequest


class LayerTooLargeError(Exception):
    pass


class LayerDuplicatesError(Exception):
    pass


@dataclass(frozen=True)
class ServerlessLayerFieldSet(PackageFieldSet):
    required_fields = (LayerRuntimeField, LayerRequirementsField)

    runtime: LayerRuntimeField
    requirements: LayerRequirementsField
    natives: LayerNativesField
    bindings: LayerBindingsField
    base_layers: LayerBaseLayersField
    resolve: LayerResolveField
    size_budget_mb: LayerSizeBudgetMbField
    prune: LayerPruneField
    bytecode: LayerBytecodeField
    environment: LayerEnvironmentField
    allowed_licenses: LayerAllowedLicensesField


@dataclass(frozen=True)
class BuiltLayer:
    address: Address
    runtime: ServerlessRuntime
    resolve: str
    artifact: ZipArtifact
    environment: FrozenDict[str, str]
    # The layers it is stacked on, in mount order (theirs first).
    stack: tuple[BuiltLayer, ...] = ()
    # The native libraries it ships (with all they depend on) and their install trees, by address.
    natives: tuple[tuple[Address, Digest], ...] = ()
    # Wheels built from source that replaced the lockfile's distributions.
    wheels: Digest | None = None
    # The corresponding source of its copyleft natives (`path` None if it ships none).
    source_bundle: SourceBundle | None = None


def layer_sbom_request(layer: BuiltLayer) -> SbomRequest:
    return SbomRequest(
        owner=layer.address,
        kind="layer",
        artifact=layer.artifact,
        runtime=layer.runtime.describe(),
        resolve=layer.resolve,
        python_prefix=f"{layer.runtime.model.layer_python_dir}/",
        natives=layer.natives,
        wheels=layer.wheels,
        source_bundle=layer.source_bundle if layer.source_bundle and layer.source_bundle.path else None,
    )


def layer_output_path(address: Address, runtime: ServerlessRuntime) -> str:
    return f"{address.spec_path}/{address.target_name}-{runtime.name}.zip".lstrip("/")


async def layer_natives(
    shipped: tuple[Address, ...], field: LayerNativesField, bindings: tuple[BuiltBindings, ...], runtime: Address
) -> tuple[tuple[Address, Digest], ...]:
    """The built trees of `shipped` (see `shipped_native_targets`): the layer's natives (`field`),
    those its bindings link, and all they need that the runtime does not provide."""
    natives = dict(lib for b in bindings for lib in b.natives.libraries)
    if field.value:
        targets = await Get(ReferencedTargets, ReferencesRequest.of(field, runtime=runtime))
        natives.update((await Get(NativeClosure, NativeClosureRequest(Targets(targets.targets)))).libraries)
    return tuple((a, natives[a]) for a in shipped)


async def shipped_native_targets(field_set: ServerlessLayerFieldSet, runtime: Address) -> tuple[Address, ...]:
    """The native libraries the layer ships, from the targets alone: its natives, those of its
    bindings for `runtime`, and everything they link that the runtime does not provide, by address."""
    bindings = await Get(ReferencedTargets, ReferencesRequest.of(field_set.bindings, runtime=runtime))
    roots = await MultiGet(
        Get(ReferencedTargets, ReferencesRequest.of(field, runtime=runtime))
        for field in (
            *(t[BindingsNativesField] for t in bindings.targets),
            *((field_set.natives,) if field_set.natives.value else ()),
        )
    )
    closure_ = await Get(
        NativeClosureTargets, NativeClosureTargetsRequest(Targets(t for r in roots for t in r.targets))
    )
    return closure_.shipped


async def hardening_allowances(shipped: tuple[Address, ...], bindings: tuple[BuiltBindings, ...]) -> tuple[str, ...]:
    """The reasoned exceptions to the hardening audit (GLOB:PROPERTY) of the shipped natives and
    the bindings."""
    targets = await Get(Targets, Addresses(shipped))
    natives = {key for t in targets for key in (t.get(NativeHardeningAllowancesField).value or {})}
    return tuple(sorted(natives.union(*(b.hardening_allowances for b in bindings))))


async def lock_requirements(requirements: tuple[str, ...], resolve: str, built: set[str]) -> tuple[str, ...]:
    """The requirements to take from the lockfile when bindings provide some projects: every other
    project of their closure, pinned, so the lock's own wheels of the built projects stay out."""
    if not built:
        return requirements
    projects = (await Get(LockedResolve, LockedResolveRequest(resolve))).projects
    names = closure(projects, (*requirements, *built)) - built
    return tuple(f"{name}=={projects[name].version}" for name in sorted(names))


@rule(desc="Build a serverless layer", level=LogLevel.DEBUG)
async def build_layer(
    field_set: ServerlessLayerFieldSet, native_build: NativeBuildSubsystem
) -> BuiltLayer:
    address = field_set.address
    runtime = await Get(ServerlessRuntime, RuntimeRequest, RuntimeRequest.of(field_set.runtime))
    resolve = field_set.resolve.value or runtime.resolve
    # Licences first: a component the layer may not ship fails before anything is compiled.
    shipped = await shipped_native_targets(field_set, runtime.address)
    if shipped:
        await Get(
            LicenseGate, LicenseGateRequest(address, shipped, tuple(field_set.allowed_licenses.value or ()))
        )
    # Bindings are built for one runtime; the layer's other runtimes use the lockfile's wheels.
    bindings = (
        await Get(
            RuntimeBindings,
            RuntimeBindingsRequest(tuple(field_set.bindings.value or ()), address, runtime.address),
        )
    ).bindings
    base = await Get(
        ReferencedTargets,
        ReferencesRequest,
        ReferencesRequest.of(field_set.base_layers, runtime=runtime.address),
    )
    base_built = await MultiGet(
        Get(BuiltLayer, ServerlessLayerFieldSet, ServerlessLayerFieldSet.create(t)) for t in base.targets
    )
    stack = mount_order(base_built)
    provided = provided_distributions(address, stack)
    check_shared_files(address, stack)
    natives = await layer_natives(shipped, field_set.natives, bindings, runtime.address)
    source_bundle = await Get(SourceBundle, SourceBundleRequest(address, layer_output_path(address, runtime), shipped))
    wheels = await Get(Digest, MergeDigests(b.wheels for b in bindings)) if bindings else None
    built = {name for b in bindings for name in b.projects}
    requirements = await lock_requirements(tuple(field_set.requirements.value or ()), resolve, built)
    if provided:
        locked = await Get(LockedResolve, LockedResolveRequest(resolve))
        check_requirements(
            address, [(address, r) for r in requirements], provided, dict(locked.projects), locked.lockfile
        )
    pex_request = await from_lock_slice(
        PexRequest(
            output_filename="layer.pex",
            internal_only=False,
            requirements=PexRequirements(
                requirements,
                from_superset=Resolve(resolve, use_entire_lockfile=False),
                description_of_origin=f"the `requirements` of {address}",
            ),
            complete_platforms=runtime.complete_platforms,
            layout=PexLayout.PACKED,
            # What the layers below provide stays out, as it does for functions.
            additional_args=tuple(arg for name in sorted(provided) for arg in ("--exclude", name)),
            description=f"Resolve requirements of {address}",
        ),
        resolve,
    )
    pex = await Get(Pex, PexRequest, pex_request)
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
            prefix=f"{runtime.model.layer_python_dir}/",
            mount=runtime.model.layer_root,
            prune=field_set.prune.python_patterns(),
            bytecode=field_set.bytecode.value,
            output_path=layer_output_path(address, runtime),
            interpreter_constraint=runtime.interpreter_constraint,
            description=f"Zip layer {address}",
            native_tree=await Get(Digest, MergeDigests([*(tree for _, tree in natives), source_bundle.notice])) if natives else None,
            native_prune=field_set.prune.native_patterns(),
            wheels=wheels,
            keep_pruned=bool(bindings),
        ),
    )
    if artifact.duplicates:
        raise LayerDuplicatesError(
            f"{address}: the layer ships these native libraries or data files more than once:\n"
            + "\n".join(f"  {name}: {', '.join(paths)}" for name, paths in artifact.duplicates)
            + "\nFix: build the bindings that bundle them against the layer's `natives` "
            "(`bindings=`), or split the packages across layers."
        )
    check_shared_files(address, stack, own=artifact)
    if bindings:
        # Built wheels: check every ELF as Lambda will load it from /opt (its lib/ on the library
        # path): every DT_NEEDED resolves, no symbol over the policy's ceilings; and each one hardened.
        toolchain, policy = bindings[0].toolchain, bindings[0].policy
        unzipped = await unzip_into(artifact.digest, artifact.path, "layer")
        audit_inputs = await Get(Digest, MergeDigests([
            unzipped,
            await Get(Digest, PathGlobs([policy])),
            await step_scripts("elf_policy.py", "layer_hardening.py"),
        ]))
        await run_in_image(
            native_build,
            toolchain,
            address,
            (
                "python3", step_path("elf_policy.py"), "audit", "--tree", "layer", "--policy", policy,
                "--lib-dir", "layer/lib", "--machine", runtime.machine,
            ),
            audit_inputs,
            description=f"Audit the ELF files of {address}",
        )
        allowances = await hardening_allowances(shipped, bindings)
        await run_in_image(
            native_build,
            toolchain,
            address,
            ("python3", step_path("layer_hardening.py"), "--tree", "layer", *(f"--allow={a}" for a in allowances)),
            audit_inputs,
            description=f"Audit the hardening of {address}",
        )
        # Bindings come with the runtime's interpreter, which can import what the layer ships.
        await check_layer_imports(native_build, address, runtime, artifact, unzipped, bindings[0])
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
        stack=stack,
        natives=natives,
        wheels=wheels,
        source_bundle=source_bundle,
    )


@rule(desc="Package a serverless layer", level=LogLevel.DEBUG)
async def package_layer(field_set: ServerlessLayerFieldSet) -> BuiltPackage:
    layer = await Get(BuiltLayer, ServerlessLayerFieldSet, field_set)
    artifact = layer.artifact
    sbom = await Get(Sbom, SbomRequest, layer_sbom_request(layer))
    bundle = layer.source_bundle
    return BuiltPackage(
        digest=await Get(Digest, MergeDigests([artifact.digest, sbom.digest, *([bundle.digest] if bundle and bundle.path else [])])),
        artifacts=(
            BuiltPackageArtifact(
                artifact.path,
                extra_log_lines=(
                    f"    Runtime: {layer.runtime.describe()}",
                    f"    Size: {mib(artifact.unzipped_bytes)} unzipped, "
                    f"{mib(artifact.zipped_bytes)} zipped",
                    f"    sha256: {artifact.sha256}",
                    *(
                        [f"    Stacked on: {', '.join(str(b.address) for b in layer.stack)}"]
                        if layer.stack
                        else []
                    ),
                    *(
                        [
                            f"    Kept despite `prune`, imported by shipped modules: "
                            + ", ".join(f"{path} ({importer})" for path, importer in artifact.kept_for_imports.items())
                        ]
                        if artifact.kept_for_imports
                        else []
                    ),
                ),
            ),
            BuiltPackageArtifact(sbom.path),
            *(
                [BuiltPackageArtifact(bundle.path, extra_log_lines=(f"    Corresponding source of: {', '.join(str(a) for a in bundle.components)}",))]
                if bundle and bundle.path
                else []
            ),
        ),
    )


def rules():
    return (*collect_rules(), UnionRule(PackageFieldSet, ServerlessLayerFieldSet))
