"""Building CPython from a pinned source in a toolchain image (runtime emulation, binding builds)."""

from __future__ import annotations

from dataclasses import dataclass

from pants.core.goals.package import BuiltPackage, BuiltPackageArtifact, PackageFieldSet
from pants.engine.addresses import Address
from pants.engine.fs import AddPrefix, Digest, GlobMatchErrorBehavior, MergeDigests, PathGlobs, RemovePrefix
from pants.engine.rules import Get, MultiGet, collect_rules, rule
from pants.engine.target import FieldSet
from pants.engine.unions import UnionRule
from pants.util.logging import LogLevel
from serverless_gis.native.rules import (
    BUILD_SCRIPTS,
    JOBS,
    NativeSource,
    NativeSourceRequest,
    ToolchainImage,
    ToolchainImageRequest,
    run_in_image,
)
from serverless_gis.native.step_scripts import step_path, step_scripts
from serverless_gis.native.subsystem import NativeBuildSubsystem
from serverless_gis.native.target_types import (
    CPythonBuildTarget,
    CPythonPrefixField,
    NativePolicyField,
    NativeSourceField,
    NativeToolchainField,
)
from serverless_gis.references import FieldReference, target_of_type

# No PGO/LTO, static libpython (relocatable, no LD_LIBRARY_PATH needed), bundled expat and mpdecimal
# (AL2023 Lambda has no libexpat; bullseye has no libmpdec-dev), no test suite. No ccache: configure
# would record `CC=ccache gcc` in sysconfig, and every wheel build would then call ccache.
CONFIGURE_OPTIONS = (
    "--build=x86_64-pc-linux-gnu",
    "--disable-shared",
    "--disable-test-modules",
    "--without-system-expat",
    "--without-system-libmpdec",
    "--with-ensurepip=install",
    "--enable-ipv6",
    "LDFLAGS=-Wl,--as-needed",
)
# Only for embedding (the static libpython; extensions do not link it on Linux), bytecode the
# Lambda runtime never uses (-O/-OO), IDLE, turtle and tkinter.
REMOVE = (
    "lib/libpython*.a",
    "lib/python3.*/config-3.*-*/libpython*.a",
    "lib/python3.*/config-3.*-*/python.o",
    "**/*.opt-[12].pyc",
    "lib/python3.*/idlelib",
    "lib/python3.*/turtledemo",
    "lib/python3.*/tkinter",
    "bin/idle3*",
    "**/*.exe",
)
# What the Lambda runtime has and wheels / pip need (a missing one: add its -dev package to the image).
REQUIRED_MODULES = (
    "ssl", "_ssl", "_hashlib", "sqlite3", "zlib", "bz2", "lzma", "ctypes", "_decimal", "pyexpat",
    "_json", "_socket", "select", "_posixsubprocess",
)


@dataclass(frozen=True)
class CPythonBuildFieldSet(FieldSet):
    required_fields = (NativeSourceField, NativeToolchainField, CPythonPrefixField)

    source: NativeSourceField
    toolchain: NativeToolchainField
    prefix: CPythonPrefixField
    policy: NativePolicyField


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
    policy_path = field_set.policy.value
    image, source, policy = await MultiGet(
        Get(ToolchainImage, ToolchainImageRequest, ToolchainImageRequest.of(field_set.toolchain)),
        Get(NativeSource, NativeSourceRequest(field_set.source)),
        Get(Digest, PathGlobs([policy_path], glob_match_error_behavior=GlobMatchErrorBehavior.error, description_of_origin=f"the `policy` of {address}")),
    )
    # A configure/make build of the native framework; its fixed build root is in sysconfig.
    result = await run_in_image(
        native_build,
        image,
        address,
        (
            "python3", step_path("native_build.py"), "build",
            "--name", address.target_name, "--build-system", "configure_make",
            "--build-root", "/tmp/cpython-build", "--prefix", field_set.prefix.value,
            "--source", source.path, "--out", "out", "--policy", policy_path, "--jobs", JOBS,
            *(f"--option={o}" for o in CONFIGURE_OPTIONS),
            *(f"--remove={p}" for p in REMOVE),
            *(f"--check=bin/python3 -c 'import {m}'" for m in REQUIRED_MODULES),
            "--expect=bin/python3",
            # Its extension modules' libraries come from its own toolchain image: the interpreter
            # stands in for the runtime's and never ships in a layer.
            "--vendor-toolchain-libraries",
        ),
        await Get(Digest, MergeDigests([source.digest, policy, await step_scripts(*BUILD_SCRIPTS)])),
        description=f"Build CPython {address}",
        output_directories=("out",),
        parallel=True,
    )
    tree = await Get(Digest, RemovePrefix(result.output_digest, "out"))
    return BuiltCPython(address, tree, field_set.prefix.value)


@rule(desc="Resolve a cpython_build", level=LogLevel.DEBUG)
async def cpython_named_by(request: CPythonRequest) -> BuiltCPython:
    tgt = await target_of_type(request, CPythonBuildTarget)
    return await Get(BuiltCPython, CPythonBuildFieldSet, CPythonBuildFieldSet.create(tgt))


@dataclass(frozen=True)
class CPythonPackageFieldSet(CPythonBuildFieldSet, PackageFieldSet):
    pass


@rule(desc="Package a CPython build", level=LogLevel.DEBUG)
async def package_cpython(field_set: CPythonPackageFieldSet) -> BuiltPackage:
    built = await Get(
        BuiltCPython,
        CPythonBuildFieldSet,
        CPythonBuildFieldSet(field_set.address, field_set.source, field_set.toolchain, field_set.prefix, field_set.policy),
    )
    prefix = f"{field_set.address.spec_path}/{field_set.address.target_name}".lstrip("/")
    return BuiltPackage(
        digest=await Get(Digest, AddPrefix(built.tree, prefix)),
        artifacts=(BuiltPackageArtifact(f"{prefix}/", extra_log_lines=(f"    Install prefix: {built.prefix}",)),),
    )


def rules():
    return (*collect_rules(), UnionRule(PackageFieldSet, CPythonPackageFieldSet))
