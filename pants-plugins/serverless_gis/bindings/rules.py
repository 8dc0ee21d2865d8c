"""Building `python_bindings`: wheels from sdists against shared native libraries, network off."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

from packaging.utils import canonicalize_name
from pants.engine.addresses import Address
from pants.engine.fs import AddPrefix, Digest, DigestContents, MergeDigests, PathGlobs, RemovePrefix
from pants.engine.rules import Get, MultiGet, collect_rules, rule
from pants.engine.target import FieldSet, HydratedSources, HydrateSourcesRequest, Targets
from pants.util.frozendict import FrozenDict
from pants.util.logging import LogLevel
from serverless_gis.bindings.target_types import (
    BindingsHardeningAllowancesField,
    BindingsNativesField,
    BindingsPackagesField,
    BindingsPatchesField,
    BindingsPythonField,
    BindingsOptimizeForSizeField,
    BindingsRuntimeField,
    BindingsWheelhouseField,
)
from serverless_gis.native.cpython import BuiltCPython, CPythonBuildFieldSet, NativeCPythonRequest
from serverless_gis.native.rules import (
    BUILD_SCRIPTS,
    JOBS,
    NativeClosure,
    NativeClosureRequest,
    PinnedDownload,
    PinnedFile,
    ToolchainImage,
    ToolchainImageRequest,
    dep_dir,
    run_in_image,
)
from serverless_gis.native.step_scripts import step_path, step_scripts
from serverless_gis.native.subsystem import NativeBuildSubsystem
from serverless_gis.native.target_types import NativePolicyField, NativeToolchainField
from serverless_gis.python_lock import LockedResolve, LockedResolveRequest
from serverless_gis.runtime.rules import RuntimeRequest, ServerlessRuntime
from serverless_gis.layer.target_types import LayerBindingsField
from serverless_gis.references import ReferencedTargets, ReferencesRequest


# In the container: where build-wheels.sh leaves the wheels for the framework to copy out.
WHEELS_STAGE = "/tmp/wheels"
# A host tool of this repository, named in messages.
LOCK_WHEELHOUSE = "build-support/python-build/lock-wheelhouse.py"


class BindingsError(Exception):
    pass


@dataclass(frozen=True)
class PythonBindingsFieldSet(FieldSet):
    required_fields = (BindingsPackagesField, BindingsWheelhouseField, BindingsPythonField)

    wheelhouse: BindingsWheelhouseField
    packages: BindingsPackagesField
    optimize_for_size: BindingsOptimizeForSizeField
    natives: BindingsNativesField
    python: BindingsPythonField
    runtime: BindingsRuntimeField
    patches: BindingsPatchesField
    policy: NativePolicyField
    hardening_allowances: BindingsHardeningAllowancesField


@dataclass(frozen=True)
class BuiltBindings:
    address: Address
    wheels: Digest  # one `<name>-<version>-*.whl` per project, at the digest root
    projects: FrozenDict[str, str]  # canonical project name -> version
    natives: NativeClosure
    toolchain: ToolchainImage  # where layers holding these wheels are audited
    policy: str
    python: BuiltCPython  # the runtime's interpreter they are built for, which checks the layer's imports
    hardening_allowances: tuple[str, ...]  # GLOB:PROPERTY over a layer's paths


@dataclass(frozen=True)
class RuntimeBindingsRequest:
    """The `bindings` of `owner` that are built for `runtime` (others do not apply to it)."""

    specs: tuple[str, ...]
    owner: Address
    runtime: Address


@dataclass(frozen=True)
class RuntimeBindings:
    bindings: tuple[BuiltBindings, ...]


@dataclass(frozen=True)
class WheelhouseFile:
    name: str
    version: str
    kind: str
    filename: str
    url: str
    sha256: str
    size: int


def parse_wheelhouse(address: Address, path: str, content: bytes) -> tuple[WheelhouseFile, ...]:
    try:
        files = tuple(
            WheelhouseFile(
                canonicalize_name(f["name"]), f["version"], f["kind"], f["filename"], f["url"],
                f["sha256"], int(f["size"]),
            )
            for f in json.loads(content)["files"]
        )
    except (ValueError, KeyError, TypeError) as e:
        raise BindingsError(
            f"{address}: `{path}` is not a wheelhouse lock ({e}). Regenerate it with "
            f"`{LOCK_WHEELHOUSE} wheelhouse.in wheelhouse.lock`."
        )
    return files


def check_versions(
    address: Address,
    wanted: dict[str, str],
    files: tuple[WheelhouseFile, ...],
    locked: dict[str, str],
    lockfile: str,
    wheelhouse: str,
) -> dict[str, str]:
    """Each project to build: exactly one file of the right kind, at the runtime's version."""
    versions = {}
    for name, kind in wanted.items():
        hits = [f for f in files if f.name == name and f.kind == kind]
        if len(hits) != 1:
            raise BindingsError(
                f"{address}: `{wheelhouse}` must hold exactly one {kind} of `{name}`, found "
                f"{[f.filename for f in hits] or 'none'}. Add `{name}==<version>"
                f"{'  # sdist' if kind == 'sdist' else ''}` to wheelhouse.in and re-lock."
            )
        version = hits[0].version
        if name not in locked:
            raise BindingsError(
                f"{address}: `{name}` is not in the runtime's lockfile {lockfile}, so functions "
                "could not depend on it. Add it to the resolve's requirements and run "
                "`./pants generate-lockfiles`."
            )
        if locked[name] != version:
            raise BindingsError(
                f"{address}: version conflict on `{name}`: the wheelhouse has {version}, the "
                f"runtime's lockfile {lockfile} pins {locked[name]}. Pin the same version in "
                "wheelhouse.in (and re-lock) or in the resolve's requirements."
            )
        versions[name] = version
    return versions


@dataclass(frozen=True)
class WheelhouseRequest:
    owner: Address
    path: str
    files: tuple[WheelhouseFile, ...]


@dataclass(frozen=True)
class Wheelhouse:
    digest: Digest  # every file under wheelhouse/


@rule(desc="Download a wheelhouse", level=LogLevel.DEBUG)
async def download_wheelhouse(request: WheelhouseRequest) -> Wheelhouse:
    fix = f"re-lock with `{LOCK_WHEELHOUSE}` if the new file is trusted."
    pinned = await MultiGet(
        Get(
            PinnedFile,
            PinnedDownload(
                request.owner, f"`{request.path}` lists", f.url, f.sha256, f.size, f"wheelhouse/{f.filename}", fix,
                BindingsError,
            ),
        )
        for f in request.files
    )
    return Wheelhouse(await Get(Digest, MergeDigests(p.digest for p in pinned)))


@rule(desc="Build Python bindings", level=LogLevel.DEBUG)
async def build_bindings(
    field_set: PythonBindingsFieldSet, native_build: NativeBuildSubsystem
) -> BuiltBindings:
    address = field_set.address
    wheelhouse_sources = await Get(HydratedSources, HydrateSourcesRequest(field_set.wheelhouse))
    wheelhouse_contents = await Get(DigestContents, Digest, wheelhouse_sources.snapshot.digest)
    wheelhouse_path = field_set.wheelhouse.file_path
    if not wheelhouse_contents:
        raise BindingsError(
            f"{address}: its wheelhouse lock `{wheelhouse_path}` does not exist. Create it with "
            f"`{LOCK_WHEELHOUSE} wheelhouse.in {os.path.basename(wheelhouse_path)}`."
        )
    files = parse_wheelhouse(address, wheelhouse_path, wheelhouse_contents[0].content)

    runtime = await Get(ServerlessRuntime, RuntimeRequest, RuntimeRequest.of(field_set.runtime))
    locked_resolve = await Get(LockedResolve, LockedResolveRequest(runtime.resolve))
    lockfile = locked_resolve.lockfile
    locked = {name: p.version for name, p in locked_resolve.projects.items()}
    packages = [canonicalize_name(p) for p in field_set.packages.value or ()]
    small = [canonicalize_name(p) for p in field_set.optimize_for_size.value or ()]
    versions = check_versions(address, {p: "sdist" for p in packages}, files, locked, lockfile, wheelhouse_path)

    native_targets, cpython_targets = await MultiGet(
        Get(ReferencedTargets, ReferencesRequest.of(field_set.natives, runtime.address)),
        Get(ReferencedTargets, ReferencesRequest.of(field_set.python, runtime.address)),
    )
    cpython = cpython_targets.targets[0]
    # Independent: the natives and CPython build at the same time, the wheelhouse downloads meanwhile.
    # The wheels build in the image their CPython was built in (for arm64: the cross toolchain).
    natives, image, python, patches, wheelhouse, policy = await MultiGet(
        Get(NativeClosure, NativeClosureRequest(Targets(native_targets.targets))),
        Get(ToolchainImage, ToolchainImageRequest, ToolchainImageRequest.of(cpython[NativeToolchainField])),
        Get(BuiltCPython, CPythonBuildFieldSet, CPythonBuildFieldSet.create(cpython)),
        Get(HydratedSources, HydrateSourcesRequest(field_set.patches)),
        Get(Wheelhouse, WheelhouseRequest(address, wheelhouse_path, files)),
        Get(Digest, PathGlobs([field_set.policy.value])),
    )
    cross = image.cross_triple
    # A cross build runs pip and the build backends on the same CPython built for this machine.
    host_python = await Get(BuiltCPython, NativeCPythonRequest(cpython.address)) if cross else None
    deps = await MultiGet(Get(Digest, AddPrefix(tree, dep_dir(a))) for a, tree in natives.libraries)
    input_digest = await Get(
        Digest,
        MergeDigests([
            wheelhouse.digest, policy, patches.snapshot.digest,
            await Get(Digest, AddPrefix(python.tree, "python")), *deps,
            *([await Get(Digest, AddPrefix(host_python.tree, "host-python"))] if host_python else []),
            await step_scripts("build-wheels.sh", *BUILD_SCRIPTS),
        ]),
    )
    patch_dir = os.path.join(address.spec_path, "patches")
    result = await run_in_image(
        native_build,
        image,
        address,
        (
            # The native framework installs the natives into /opt and copies the wheels out.
            "python3", step_path("native_build.py"), "run", "--name", address.target_name,
            *(arg for a, _ in natives.libraries for arg in ("--dep", dep_dir(a))),
            *image.target_args(),
            "--stage", WHEELS_STAGE, "--out", "out", "--",
            "bash", step_path("build-wheels.sh"),
            "--python", "python", "--wheelhouse", "wheelhouse", "--out", WHEELS_STAGE, "--jobs", JOBS,
            "--patches", patch_dir, "--policy", field_set.policy.value,
            *(arg for p in small for arg in ("--optimize-size", p)),
            *(("--cross", cross, "--host-python", "host-python") if cross else ()),
            *packages,
        ),
        input_digest,
        description=f"Build wheels of {', '.join(packages)} for {address}",
        output_directories=("out",),
        parallel=True,
    )
    wheels = await Get(Digest, RemovePrefix(result.output_digest, "out"))
    return BuiltBindings(
        address, wheels, FrozenDict(versions), natives, image, field_set.policy.value, python,
        tuple(sorted(field_set.hardening_allowances.value or {})),
    )


@rule(desc="Resolve python_bindings for a runtime", level=LogLevel.DEBUG)
async def bindings_for_runtime(request: RuntimeBindingsRequest) -> RuntimeBindings:
    for_runtime = await Get(
        ReferencedTargets,
        ReferencesRequest.of(LayerBindingsField(request.specs, request.owner), runtime=request.runtime),
    )
    built = await MultiGet(
        Get(BuiltBindings, PythonBindingsFieldSet, PythonBindingsFieldSet.create(tgt))
        for tgt in for_runtime.targets
    )
    return RuntimeBindings(tuple(built))


def rules():
    return collect_rules()
