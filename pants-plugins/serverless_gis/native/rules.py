"""Hermetic native builds: toolchain images, CMake builds in them, smoke checks, packaging."""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass

from pants.core.goals.package import BuiltPackage, BuiltPackageArtifact, PackageFieldSet
from pants.core.target_types import http_source
from pants.engine.addresses import Address
from pants.engine.fs import (
    EMPTY_DIGEST,
    AddPrefix,
    CreateDigest,
    Digest,
    DigestContents,
    DigestEntries,
    DownloadFile,
    FileDigest,
    FileEntry,
    GlobMatchErrorBehavior,
    MergeDigests,
    PathGlobs,
    RemovePrefix,
)
from pants.engine.process import FallibleProcessResult, Process, ProcessCacheScope
from pants.engine.rules import Get, MultiGet, collect_rules, rule
from pants.engine.target import (
    HydratedSources,
    HydrateSourcesRequest,
    Targets,
    WrappedTarget,
    WrappedTargetRequest,
)
from pants.engine.unions import UnionRule
from pants.util.logging import LogLevel
from serverless_gis.artifact import mib
from serverless_gis.native import closure, debian_series
from serverless_gis.identity.target_types import NativeDebianPatchesField
from serverless_gis.native.closure import LinkedLibraries, LinkedLibrariesRequest
from serverless_gis.native.debian_series import DebianSeries, DebianSeriesRequest
from serverless_gis.native.step_scripts import step_path, step_scripts
from serverless_gis.native.subsystem import NativeBuildSubsystem
from serverless_gis.references import FieldReference, target_of_type
from serverless_gis.native.target_types import (
    NativeBuildFilesField,
    NativeBuildSystemField,
    NativeCMakeOptionsField,
    NativeConfigureCommandField,
    NativeConfigureOptionsField,
    NativeDebianSourceField,
    NativeDependenciesField,
    NativeExpectedOutputsField,
    NativeHardeningAllowancesField,
    NativeInstallExcludesField,
    NativeLicenseFilesField,
    NativeMakeOptionsField,
    NativeMakeTargetsField,
    NativeMesonOptionsField,
    NativeLibraryTarget,
    NativeOptionsByArchField,
    NativePatchesField,
    NativePolicyField,
    NativeRuntimeProvidedField,
    NativeSmokeLinkField,
    NativeSmokeSourceField,
    NativeSourceField,
    NativeSourceRootField,
    NativeToolchainField,
    ToolchainArchField,
    ToolchainCrossTripleField,
    ToolchainImageTarget,
    ToolchainLockfileField,
    ToolchainRegistryImageField,
    ToolchainRunImageField,
)

# What every step in an image runs: the host wrapper, and the image build on a miss.
IMAGE_SCRIPTS = ("process.sh", "build-toolchain-image.sh", "_rootfs-lib.sh", "_qemu.sh", "docker_archive.py")
# The framework's driver and the ELF policy it applies.
BUILD_SCRIPTS = ("native_build.py", "elf_policy.py")
# More than any build machine has cores: Pants gives a step what is free of
# `--process-execution-local-parallelism` and puts that number where the command says
# `{pants_concurrency}` (at run time: the cache key has the placeholder, not the number).
MAX_JOBS = 64
JOBS = "{pants_concurrency}"
# Fixed so the process key does not depend on where this machine keeps its binaries.
PROCESS_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
NO_DOCKER_EXIT = 97
NO_EMULATION_EXIT = 96  # an arm64 image, and qemu is not registered on this host
_ERROR = GlobMatchErrorBehavior.error


class NativeBuildError(Exception):
    pass


# ---------------------------------------------------------------------------------------------
# Toolchain images
# ---------------------------------------------------------------------------------------------


class ToolchainImageRequest(FieldReference):
    pass


@dataclass(frozen=True)
class ToolchainImage:
    address: Address
    arch: str
    kind: str  # "lock" (built from a recipe lock) or "registry" (pulled by digest)
    ref: str
    tag: str
    digest: Digest  # the lock (if any) and the scripts that build or pull the image
    cross_triple: str | None  # its compilers build for `arch` from another CPU
    run_image: ToolchainImageRequest | None  # where what it builds runs
    sysroot: str | None = None  # where it unpacked the target's own packages (its lock's @sysroot)

    def target_args(self) -> tuple[str, ...]:
        """native_build.py's options for the CPU this image builds for."""
        if not self.cross_triple:
            return ()
        return ("--cross", self.cross_triple, *(("--sysroot", self.sysroot) if self.sysroot else ()))

    def process_argv(self, *command: str) -> tuple[str, ...]:
        return (
            "/bin/bash",
            step_path("process.sh"),
            self.kind,
            self.ref,
            self.tag,
            "--",
            *command,
        )


def lock_sysroot(lock_content: bytes) -> str | None:
    """The directory of the lock's `@sysroot ARCH DIR` line, if any."""
    found = re.search(rb"^@sysroot\s+\S+\s+(\S+)\s*$", lock_content, re.MULTILINE)
    return found.group(1).decode() if found else None


def lock_tag(lock_content: bytes) -> str:
    """The tag build-toolchain-image.sh gives the image of this lock."""
    return f"serverless-gis/toolchain:{hashlib.sha256(lock_content).hexdigest()[:16]}"


@rule(desc="Resolve a toolchain_image", level=LogLevel.DEBUG)
async def resolve_toolchain_image(request: ToolchainImageRequest) -> ToolchainImage:
    tgt = await target_of_type(request, ToolchainImageTarget)
    scripts = await step_scripts(*IMAGE_SCRIPTS)
    arch, triple = tgt[ToolchainArchField].value, tgt[ToolchainCrossTripleField].value
    run_image = ToolchainImageRequest.of(tgt[ToolchainRunImageField]) if tgt[ToolchainRunImageField].value else None
    registry_ref = tgt[ToolchainRegistryImageField].value
    if registry_ref:
        return ToolchainImage(tgt.address, arch, "registry", registry_ref, registry_ref, scripts, triple, run_image)
    lock = await Get(HydratedSources, HydrateSourcesRequest(tgt[ToolchainLockfileField]))
    contents = await Get(DigestContents, Digest, lock.snapshot.digest)
    if not contents:
        raise NativeBuildError(
            f"{tgt.address}: its lockfile `{tgt[ToolchainLockfileField].file_path}` does not exist. "
            "Create it with `refresh-toolchain-lock.sh <recipe>.packages` (this repository: "
            "build-support/docker/)."
        )
    digest = await Get(Digest, MergeDigests([scripts, lock.snapshot.digest]))
    content = contents[0].content
    return ToolchainImage(
        tgt.address, arch, "lock", contents[0].path, lock_tag(content), digest, triple, run_image, lock_sysroot(content)
    )


async def run_in_image(
    native_build: NativeBuildSubsystem,
    image: ToolchainImage,
    address: Address,
    command: tuple[str, ...],
    input_digest: Digest,
    description: str,
    output_directories: tuple[str, ...] = (),
    output_files: tuple[str, ...] = (),
    extra_env: dict[str, str] | None = None,
    ccache: bool = False,
    check: bool = True,
    parallel: bool = False,
) -> FallibleProcessResult:
    """Runs `command` in `image`; with `parallel`, `JOBS` in it becomes the number of cores Pants
    gives the step."""
    merged = await Get(Digest, MergeDigests([image.digest, input_digest]))
    env = {
        "PATH": PROCESS_PATH,
        "SGIS_TARGET": str(address),
        "SGIS_WRITABLE": " ".join(output_directories),
        **(extra_env or {}),
    }
    if ccache:
        env["SGIS_CCACHE"] = ".ccache"
    if native_build.docker_host:
        env["DOCKER_HOST"] = native_build.docker_host
    result = await Get(
        FallibleProcessResult,
        Process(
            argv=image.process_argv(*command),
            input_digest=merged,
            description=description,
            env=env,
            output_directories=output_directories,
            output_files=output_files,
            append_only_caches={"serverless_gis_ccache": ".ccache"} if ccache else {},
            timeout_seconds=3 * 3600,
            concurrency_available=MAX_JOBS if parallel else 0,
            level=LogLevel.INFO,
            # A cache hit must not start a Docker build in parallel with the lookup.
            remote_cache_speculation_delay_millis=60_000,
            cache_scope=ProcessCacheScope.SUCCESSFUL,
        ),
    )
    if result.exit_code in (NO_DOCKER_EXIT, NO_EMULATION_EXIT):
        raise NativeBuildError(result.stderr.decode(errors="replace").strip())
    if check and result.exit_code != 0:
        tail = "\n".join(result.stderr.decode(errors="replace").splitlines()[-40:])
        raise NativeBuildError(f"{address}: {description} failed (exit {result.exit_code}):\n{tail}")
    return result


# ---------------------------------------------------------------------------------------------
# Sources
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NativeSourceRequest:
    field: NativeSourceField


@dataclass(frozen=True)
class NativeSource:
    digest: Digest
    path: str


async def place_file(digest: Digest, path: str) -> Digest:
    """The one file of `digest`, at `path`."""
    entries = await Get(DigestEntries, Digest, digest)
    entry = next(e for e in entries if isinstance(e, FileEntry))
    return await Get(Digest, CreateDigest([FileEntry(path, entry.file_digest)]))


@dataclass(frozen=True)
class PinnedDownload:
    """`url`, checked against its pinned sha256 and size, at `path`; a mismatch names both hashes."""

    owner: Address
    what: str
    url: str
    sha256: str
    size: int
    path: str
    fix: str
    error: type = NativeBuildError


@dataclass(frozen=True)
class PinnedFile:
    digest: Digest


@rule(desc="Download a pinned file", level=LogLevel.DEBUG)
async def download_pinned(request: PinnedDownload) -> PinnedFile:
    try:
        downloaded = await Get(Digest, DownloadFile(request.url, FileDigest(request.sha256, request.size)))
    except Exception as e:
        actual = re.search(r"[Gg]ot:? ?.*?([0-9a-f]{64})", str(e))
        raise request.error(
            f"{request.owner}: {request.what} {request.url} does not match its pin: expected sha256 "
            f"{request.sha256} ({request.size} bytes)"
            + (f", got sha256 {actual.group(1)}" if actual else "")
            + f".\n{e}\nFix: {request.fix}"
        ) from e
    return PinnedFile(await place_file(downloaded, request.path))


@dataclass(frozen=True)
class NativeDebianSeriesRequest:
    field: NativeDebianSourceField
    declared: tuple[str, ...]


@rule(desc="Fetch a native library's Debian patch series", level=LogLevel.DEBUG)
async def fetch_debian_series(request: NativeDebianSeriesRequest) -> DebianSeries:
    if request.field.value is None:
        return DebianSeries(EMPTY_DIGEST, ())
    archive = await Get(NativeSource, NativeSourceRequest(request.field))
    return await Get(
        DebianSeries, DebianSeriesRequest(request.field.address, archive.digest, os.path.basename(archive.path), tuple(request.declared))
    )


@rule(desc="Fetch a native library's source", level=LogLevel.DEBUG)
async def fetch_native_source(request: NativeSourceRequest) -> NativeSource:
    field = request.field
    value = field.value
    if isinstance(value, http_source):
        path = f"src/{value.filename or os.path.basename(value.url)}"
        fix = "if the new archive is trusted, update `sha256` and `len` in the `http_source`."
        pinned = await Get(
            PinnedFile, PinnedDownload(field.address, "the source", value.url, value.sha256, value.len, path, fix)
        )
        return NativeSource(pinned.digest, path)
    sources = await Get(HydratedSources, HydrateSourcesRequest(field))
    if not sources.snapshot.files:
        raise NativeBuildError(f"{field.address}: the source archive `{value}` does not exist.")
    path = f"src/{os.path.basename(sources.snapshot.files[0])}"
    return NativeSource(await place_file(sources.snapshot.digest, path), path)


# ---------------------------------------------------------------------------------------------
# Builds
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NativeLibraryFieldSet(PackageFieldSet):
    required_fields = (NativeSourceField, NativeToolchainField, NativeCMakeOptionsField)

    source: NativeSourceField
    source_root: NativeSourceRootField
    build_files: NativeBuildFilesField
    toolchain: NativeToolchainField
    cmake_options: NativeCMakeOptionsField
    patches: NativePatchesField
    debian_source: NativeDebianSourceField
    dependencies: NativeDependenciesField
    policy: NativePolicyField
    smoke_source: NativeSmokeSourceField
    smoke_link: NativeSmokeLinkField
    build_system: NativeBuildSystemField
    configure_options: NativeConfigureOptionsField
    configure_command: NativeConfigureCommandField
    make_options: NativeMakeOptionsField
    make_targets: NativeMakeTargetsField
    meson_options: NativeMesonOptionsField
    expected_outputs: NativeExpectedOutputsField
    install_excludes: NativeInstallExcludesField
    options_by_arch: NativeOptionsByArchField
    license_files: NativeLicenseFilesField
    runtime_provided: NativeRuntimeProvidedField
    hardening_allowances: NativeHardeningAllowancesField


@dataclass(frozen=True)
class BuiltNativeLibrary:
    address: Address
    tree: Digest  # lib/, include/, share/ as installed under /opt
    closure: tuple[tuple[Address, Digest], ...]  # transitive native dependencies, sorted


@dataclass(frozen=True)
class NativeSmokeRequest:
    field_set: NativeLibraryFieldSet
    built: BuiltNativeLibrary
    toolchain: ToolchainImage


@dataclass(frozen=True)
class NativeSmokeResult:
    output: str


@dataclass(frozen=True)
class NativeClosureRequest:
    libraries: Targets  # native_library targets (callers check what their fields name)


@dataclass(frozen=True)
class NativeClosure:
    """Built trees of some native libraries and of all they depend on, sorted by address."""

    libraries: tuple[tuple[Address, Digest], ...]


@rule(desc="Build native libraries and their dependencies", level=LogLevel.DEBUG)
async def build_native_closure(request: NativeClosureRequest) -> NativeClosure:
    built = await MultiGet(
        Get(BuiltNativeLibrary, NativeLibraryFieldSet, NativeLibraryFieldSet.create(tgt))
        for tgt in request.libraries
    )
    trees = {}
    for lib in built:
        trees.update(lib.closure)
        trees[lib.address] = lib.tree
    return NativeClosure(tuple(sorted(trees.items(), key=lambda kv: kv[0].spec)))


def build_system_options(field_set: NativeLibraryFieldSet, arch: str) -> tuple[str, ...]:
    """The options of the front end the library uses (parse-time validation rejects the others),
    then those for the toolchain's arch."""
    common = {
        "cmake": field_set.cmake_options,
        "configure_make": field_set.configure_options,
        "make": field_set.make_options,
        "meson": field_set.meson_options,
    }[field_set.build_system.value].value or ()
    return (*common, *(field_set.options_by_arch.value or {}).get(arch, ()))


def dep_dir(address: Address) -> str:
    return "deps/" + re.sub(r"[^A-Za-z0-9_.-]", "_", address.spec.strip("/"))


@rule(desc="Build a native library", level=LogLevel.DEBUG)
async def build_native_library(
    field_set: NativeLibraryFieldSet, native_build: NativeBuildSubsystem
) -> BuiltNativeLibrary:
    address = field_set.address
    tgt = await Get(WrappedTarget, WrappedTargetRequest(address, description_of_origin="<infallible>"))
    direct = Targets((await Get(LinkedLibraries, LinkedLibrariesRequest(tgt.target))).targets)
    closure = await Get(NativeClosure, NativeClosureRequest(direct))
    closure_items = closure.libraries

    image, source, series = await MultiGet(
        Get(ToolchainImage, ToolchainImageRequest, ToolchainImageRequest.of(field_set.toolchain)),
        Get(NativeSource, NativeSourceRequest(field_set.source)),
        Get(DebianSeries, NativeDebianSeriesRequest(field_set.debian_source, tgt.target.get(NativeDebianPatchesField).value or ())),
    )
    patch_paths = [os.path.normpath(os.path.join(address.spec_path, p)) for p in field_set.patches.value or ()]
    build_files = {dest: os.path.normpath(os.path.join(address.spec_path, f)) for dest, f in (field_set.build_files.value or {}).items()}
    policy_path = field_set.policy.value
    patches, build_file_digest, policy = await MultiGet(
        Get(Digest, PathGlobs(patch_paths, glob_match_error_behavior=_ERROR, description_of_origin=f"the `patches` of {address}")),
        Get(Digest, PathGlobs(sorted(build_files.values()), glob_match_error_behavior=_ERROR, description_of_origin=f"the `build_files` of {address}")),
        Get(Digest, PathGlobs([policy_path], glob_match_error_behavior=_ERROR, description_of_origin=f"the `policy` of {address}")),
    )
    dep_digests = await MultiGet(Get(Digest, AddPrefix(tree, dep_dir(a))) for a, tree in closure_items)
    input_digest = await Get(Digest, MergeDigests([source.digest, series.digest, patches, build_file_digest, policy, *dep_digests]))

    command = (
        "python3", step_path("native_build.py"), "build",
        "--name", address.target_name,
        "--build-system", field_set.build_system.value,
        # Fixed per build system: build paths end up in objects and ccache keys.
        "--build-root", f"/tmp/{field_set.build_system.value.replace('_', '-')}-build",
        "--source", source.path,
        *(("--source-root", field_set.source_root.value) if field_set.source_root.value else ()),
        "--out", "out",
        "--policy", policy_path,
        "--jobs", JOBS,
        "--ccache",
        *(f"--build-file={dest}={path}" for dest, path in sorted(build_files.items())),
        # Debian's series first: a target's own patches go on top of the package as Debian ships it.
        *(arg for p in (*series.paths, *patch_paths) for arg in ("--patch", p)),
        *(arg for a, _ in closure_items for arg in ("--dep", dep_dir(a))),
        *(f"--option={o}" for o in build_system_options(field_set, image.arch)),
        *(("--configure-command", field_set.configure_command.value) if field_set.configure_command.value else ()),
        *(f"--make-target={t}" for t in field_set.make_targets.value or ()),
        *(f"--expect={p}" for p in field_set.expected_outputs.value or ()),
        *(f"--remove={p}" for p in field_set.install_excludes.value or ()),
        *(f"--license-file={p}" for p in field_set.license_files.value or ()),
        *(("--runtime-provided",) if field_set.runtime_provided.value else ()),
        *(f"--hardening-allow={key}" for key in sorted(field_set.hardening_allowances.value or {})),
        *image.target_args(),
    )
    result = await run_in_image(
        native_build,
        image,
        address,
        command,
        await Get(Digest, MergeDigests([input_digest, await step_scripts(*BUILD_SCRIPTS)])),
        description=f"Build native library {address}",
        output_directories=("out",),
        ccache=True,
        parallel=True,
    )
    tree = await Get(Digest, RemovePrefix(result.output_digest, "out"))
    built = BuiltNativeLibrary(address, tree, closure_items)
    if field_set.smoke_source.value:
        await Get(NativeSmokeResult, NativeSmokeRequest(field_set, built, image))
    return built


# ---------------------------------------------------------------------------------------------
# Smoke checks
# ---------------------------------------------------------------------------------------------


@rule(desc="Smoke-check a native library", level=LogLevel.DEBUG)
async def smoke_check_native_library(
    request: NativeSmokeRequest, native_build: NativeBuildSubsystem
) -> NativeSmokeResult:
    field_set = request.field_set
    address = field_set.address
    if request.toolchain.run_image is None:
        raise NativeBuildError(
            f"{address}: `smoke_source` needs a place to run: its toolchain {request.toolchain.address} "
            "has no `run_image`. Fix: give that toolchain_image a `run_image` (a bare image of its arch)."
        )
    runtime_image = await Get(ToolchainImage, ToolchainImageRequest, request.toolchain.run_image)
    source_path = os.path.normpath(os.path.join(address.spec_path, field_set.smoke_source.value))
    trees = [*(tree for _, tree in request.built.closure), request.built.tree]
    policy_path = field_set.policy.value
    opt, smoke_src, policy = await MultiGet(
        Get(Digest, AddPrefix(await Get(Digest, MergeDigests(trees)), "opt")),
        Get(Digest, PathGlobs([source_path], glob_match_error_behavior=_ERROR, description_of_origin=f"the `smoke_source` of {address}")),
        Get(Digest, PathGlobs([policy_path], glob_match_error_behavior=_ERROR, description_of_origin=f"the `policy` of {address}")),
    )
    scripts = await step_scripts(*BUILD_SCRIPTS)
    # The resolve check (every library resolves from the trees or the policy) and the compile run in
    # the toolchain; the program then runs where only the runtime's libraries are.
    compiled = await run_in_image(
        native_build,
        request.toolchain,
        address,
        (
            "python3", step_path("native_build.py"), "smoke", "--tree", "opt", "--policy", policy_path,
            "--source", source_path, "--out", "out/smoke",
            *(f"--link={lib}" for lib in field_set.smoke_link.value or ()),
            *request.toolchain.target_args(),
        ),
        await Get(Digest, MergeDigests([opt, smoke_src, policy, scripts])),
        description=f"Compile smoke program of {address}",
        output_directories=("out",),
    )
    ran = await run_in_image(
        native_build,
        runtime_image,
        address,
        ("env", "LD_LIBRARY_PATH=/opt/lib", "/work/out/smoke"),
        await Get(Digest, MergeDigests([opt, compiled.output_digest])),
        description=f"Smoke-check {address} in {runtime_image.address}",
        extra_env={"SGIS_MOUNTS": "opt:/opt"},
    )
    return NativeSmokeResult(ran.stdout.decode(errors="replace"))


# ---------------------------------------------------------------------------------------------
# Packaging
# ---------------------------------------------------------------------------------------------


@rule(desc="Package a native library", level=LogLevel.DEBUG)
async def package_native_library(field_set: NativeLibraryFieldSet) -> BuiltPackage:
    built, image = await MultiGet(
        Get(BuiltNativeLibrary, NativeLibraryFieldSet, field_set),
        Get(ToolchainImage, ToolchainImageRequest, ToolchainImageRequest.of(field_set.toolchain)),
    )
    address = field_set.address
    # One directory per arch: a target builds for every toolchain it is parametrized with.
    prefix = os.path.join(address.spec_path, f"{address.target_name}-{image.arch}")
    digest = await Get(Digest, AddPrefix(built.tree, prefix))
    entries = await Get(DigestEntries, Digest, built.tree)
    files = [e for e in entries if isinstance(e, FileEntry)]
    libs = sum(e.file_digest.serialized_bytes_length for e in files if e.path.startswith("lib/"))
    share = sum(e.file_digest.serialized_bytes_length for e in files if e.path.startswith("share/"))
    return BuiltPackage(
        digest=digest,
        artifacts=(
            BuiltPackageArtifact(
                f"{prefix}/",
                extra_log_lines=(f"    lib/: {mib(libs)}, share/: {mib(share)}, {len(files)} files",),
            ),
        ),
    )


def rules():
    return (*collect_rules(), *closure.rules(), *debian_series.rules(), UnionRule(PackageFieldSet, NativeLibraryFieldSet))
