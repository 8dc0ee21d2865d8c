"""Building CPython from a pinned source in a toolchain image (runtime emulation, binding builds)."""

from __future__ import annotations

from dataclasses import dataclass

from pants.core.goals.package import BuiltPackage, BuiltPackageArtifact, PackageFieldSet
from pants.engine.addresses import Address
from pants.engine.fs import AddPrefix, Digest, MergeDigests, PathGlobs, RemovePrefix
from pants.engine.rules import Get, MultiGet, collect_rules, rule
from pants.engine.target import FieldSet
from pants.engine.unions import UnionRule
from pants.util.logging import LogLevel
from serverless_gis.emulation.target_types import CPythonBuildTarget, CPythonPrefixField
from serverless_gis.native.rules import (
    NativeSource,
    NativeSourceRequest,
    ToolchainImage,
    ToolchainImageRequest,
    run_in_image,
)
from serverless_gis.native.subsystem import NativeBuildSubsystem
from serverless_gis.native.target_types import NativeSourceField, NativeToolchainField
from serverless_gis.references import FieldReference, target_of_type

PYTHON_BUILD = "build-support/python-build"
POLICY = "native/policy/aws-al2023.json"


@dataclass(frozen=True)
class CPythonBuildFieldSet(FieldSet):
    required_fields = (NativeSourceField, NativeToolchainField, CPythonPrefixField)

    source: NativeSourceField
    toolchain: NativeToolchainField
    prefix: CPythonPrefixField


@dataclass(frozen=True)
class BuiltCPython:
    address: Address
    tree: Digest
    prefix: str


class CPythonRequest(FieldReference):
    pass


@rule(desc="Build CPython", level=LogLevel.DEBUG)
async def build_cpython(field_set: CPythonBuildFieldSet, native_build: NativeBuildSubsystem) -> BuiltCPython:
    address = field_set.address
    image, source, recipe = await MultiGet(
        Get(ToolchainImage, ToolchainImageRequest(field_set.toolchain.value, address, "toolchain")),
        Get(NativeSource, NativeSourceRequest(field_set.source)),
        Get(Digest, PathGlobs([f"{PYTHON_BUILD}/build-cpython.sh", POLICY])),
    )
    result = await run_in_image(
        native_build,
        image,
        address,
        (
            "bash", f"{PYTHON_BUILD}/build-cpython.sh", source.path, "out",
            "--prefix", field_set.prefix.value, "--policy", POLICY,
            "--portabilize", "build-support/docker/portabilize.py",
        ),
        await Get(Digest, MergeDigests([source.digest, recipe])),
        description=f"Build CPython {address}",
        output_directories=("out",),
        ccache=True,
    )
    tree = await Get(Digest, RemovePrefix(result.output_digest, "out"))
    return BuiltCPython(address, tree, field_set.prefix.value)


@rule(desc="Resolve a cpython_build", level=LogLevel.DEBUG)
async def cpython_named_by(request: CPythonRequest) -> BuiltCPython:
    tgt = await target_of_type(request.spec, request.owner, request.field_alias, CPythonBuildTarget)
    return await Get(BuiltCPython, CPythonBuildFieldSet, CPythonBuildFieldSet.create(tgt))


@dataclass(frozen=True)
class CPythonPackageFieldSet(CPythonBuildFieldSet, PackageFieldSet):
    pass


@rule(desc="Package a CPython build", level=LogLevel.DEBUG)
async def package_cpython(field_set: CPythonPackageFieldSet) -> BuiltPackage:
    built = await Get(
        BuiltCPython,
        CPythonBuildFieldSet,
        CPythonBuildFieldSet(field_set.address, field_set.source, field_set.toolchain, field_set.prefix),
    )
    prefix = f"{field_set.address.spec_path}/{field_set.address.target_name}".lstrip("/")
    return BuiltPackage(
        digest=await Get(Digest, AddPrefix(built.tree, prefix)),
        artifacts=(BuiltPackageArtifact(f"{prefix}/", extra_log_lines=(f"    Install prefix: {built.prefix}",)),),
    )


def rules():
    return (*collect_rules(), UnionRule(PackageFieldSet, CPythonPackageFieldSet))
