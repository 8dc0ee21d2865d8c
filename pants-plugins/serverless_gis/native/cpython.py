"""Building CPython from a pinned source in a toolchain image (runtime emulation, binding builds)."""

from __future__ import annotations

from dataclasses import dataclass

from pants.core.goals.package import BuiltPackage, BuiltPackageArtifact, PackageFieldSet
from pants.engine.addresses import Address, AddressInput
from pants.engine.fs import EMPTY_DIGEST, AddPrefix, Digest, GlobMatchErrorBehavior, MergeDigests, PathGlobs, RemovePrefix
from pants.engine.rules import Get, MultiGet, collect_rules, rule
from pants.engine.target import FieldSet
from pants.engine.unions import UnionRule
from pants.util.logging import LogLevel
from serverless_gis.native.rules import (
    BUILD_SCRIPTS,
    JOBS,
    NativeBuildError,
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
from serverless_gis.references import (
    Candidates,
    CandidatesRequest,
    ReferencedTargets,
    ReferencesRequest,
    TargetReferenceField,
)

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
# A cross build (the toolchain's `cross_triple`) runs the same target built natively as its build
# Python (same source, so the same version), takes /dev/ptmx's answer from the target (Linux), and
# finds what its extension modules link in the cross image's sysroot (its lock's @sysroot, where
# pkg-config does not look); the interpreter it builds is checked under qemu.
BUILD_PYTHON = "build-python"


def cross_options(triple: str, sysroot: str) -> tuple[str, ...]:
    return (
        f"--with-build-python=/work/{BUILD_PYTHON}/bin/python3",
        # not found by pkg-config (PKG_CONFIG_LIBDIR is the prefix's) nor in configure's default dirs
        f"--with-openssl={sysroot}/usr",
        "ac_cv_file__dev_ptmx=yes",
        "ac_cv_file__dev_ptc=no",
        f"CPPFLAGS=-I{sysroot}/usr/include -I{sysroot}/usr/include/{triple}",
        f"LDFLAGS=-Wl,--as-needed -L{sysroot}/usr/lib/{triple}",
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


@dataclass(frozen=True)
class CPythonRequest:
    """The `cpython_build` a field names: for a `runtime`, the variant built for its arch."""

    field: TargetReferenceField
    runtime: Address | None = None


@dataclass(frozen=True)
class NativeCPythonRequest:
    """The variant of a parametrized `cpython_build` whose toolchain builds for its own CPU."""

    address: Address


@rule(desc="Build CPython", level=LogLevel.DEBUG)
async def build_cpython(field_set: CPythonBuildFieldSet, native_build: NativeBuildSubsystem) -> BuiltCPython:
    address = field_set.address
    policy_path = field_set.policy.value
    image, source, policy = await MultiGet(
        Get(ToolchainImage, ToolchainImageRequest, ToolchainImageRequest.of(field_set.toolchain)),
        Get(NativeSource, NativeSourceRequest(field_set.source)),
        Get(Digest, PathGlobs([policy_path], glob_match_error_behavior=GlobMatchErrorBehavior.error, description_of_origin=f"the `policy` of {address}")),
    )
    cross, build_python = image.cross_triple, EMPTY_DIGEST
    if cross and not image.sysroot:
        raise NativeBuildError(
            f"{address}: its toolchain {image.address} cross-compiles for {image.arch} but its lock has no "
            "`@sysroot`, where CPython's extension modules find the target's libffi, OpenSSL, SQLite... "
            "Fix: add `@sysroot <arch> /sysroot` and `@sysroot-package` lines to its .packages recipe "
            "(see native/toolchain/bullseye-x86_64-cross-arm64.packages) and refresh its lock."
        )
    checks_env = f"LD_LIBRARY_PATH={image.sysroot}/lib/{cross} " if cross else ""
    if cross:
        native = await Get(BuiltCPython, NativeCPythonRequest(address))
        build_python = await Get(Digest, AddPrefix(native.tree, BUILD_PYTHON))
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
            *(f"--option={o}" for o in (cross_options(cross, image.sysroot) if cross else ())),
            *image.target_args(),
            *(f"--remove={p}" for p in REMOVE),
            # Checked under qemu for a cross build: zlib, which the runtime provides, from the sysroot.
            *(f"--check={checks_env}bin/python3 -c 'import {m}'" for m in REQUIRED_MODULES),
            "--expect=bin/python3",
            # Its extension modules' libraries come from its own toolchain image: the interpreter
            # stands in for the runtime's and never ships in a layer.
            "--vendor-toolchain-libraries",
        ),
        await Get(Digest, MergeDigests([source.digest, policy, build_python, await step_scripts(*BUILD_SCRIPTS)])),
        description=f"Build CPython {address}",
        output_directories=("out",),
        parallel=True,
    )
    tree = await Get(Digest, RemovePrefix(result.output_digest, "out"))
    return BuiltCPython(address, tree, field_set.prefix.value)


@rule(desc="Resolve a cpython_build", level=LogLevel.DEBUG)
async def cpython_named_by(request: CPythonRequest) -> BuiltCPython:
    referenced = await Get(ReferencedTargets, ReferencesRequest.of(request.field, request.runtime))
    return await Get(BuiltCPython, CPythonBuildFieldSet, CPythonBuildFieldSet.create(referenced.targets[0]))


@rule(desc="Find the natively built variant of a cpython_build", level=LogLevel.DEBUG)
async def native_cpython(request: NativeCPythonRequest) -> BuiltCPython:
    address = request.address
    variants = await Get(
        Candidates,
        CandidatesRequest(AddressInput.parse(f"//{address.spec_path}:{address.target_name}", description_of_origin=str(address))),
    )
    images = await MultiGet(
        Get(ToolchainImage, ToolchainImageRequest, ToolchainImageRequest.of(t[NativeToolchainField])) for t in variants.targets
    )
    native = [t for t, image in zip(variants.targets, images) if not image.cross_triple]
    if len(native) != 1:
        raise NativeBuildError(
            f"{address}: a cross build of CPython runs the same target built natively as its build "
            f"Python, and {len(native)} of its variants are native builds. Fix: parametrize its "
            "`toolchain` with one image that is no cross toolchain too."
        )
    return await Get(BuiltCPython, CPythonBuildFieldSet, CPythonBuildFieldSet.create(native[0]))


@dataclass(frozen=True)
class CPythonPackageFieldSet(CPythonBuildFieldSet, PackageFieldSet):
    pass


@rule(desc="Package a CPython build", level=LogLevel.DEBUG)
async def package_cpython(field_set: CPythonPackageFieldSet) -> BuiltPackage:
    built, image = await MultiGet(
        Get(
            BuiltCPython,
            CPythonBuildFieldSet,
            CPythonBuildFieldSet(field_set.address, field_set.source, field_set.toolchain, field_set.prefix, field_set.policy),
        ),
        Get(ToolchainImage, ToolchainImageRequest, ToolchainImageRequest.of(field_set.toolchain)),
    )
    # One directory per arch, as for native libraries.
    prefix = f"{field_set.address.spec_path}/{field_set.address.target_name}-{image.arch}".lstrip("/")
    return BuiltPackage(
        digest=await Get(Digest, AddPrefix(built.tree, prefix)),
        artifacts=(BuiltPackageArtifact(f"{prefix}/", extra_log_lines=(f"    Install prefix: {built.prefix}",)),),
    )


def rules():
    return (*collect_rules(), UnionRule(PackageFieldSet, CPythonPackageFieldSet))
