"""Looking up runtimes, and the `complete-platforms` goal that writes their platform files."""

from __future__ import annotations

from dataclasses import dataclass

from pants.backend.python.util_rules.pex import CompletePlatforms
from pants.engine.addresses import Address
from pants.engine.console import Console
from pants.engine.fs import CreateDigest, Digest, FileContent, Snapshot, Workspace
from pants.engine.goal import Goal, GoalSubsystem
from pants.engine.rules import Get, MultiGet, collect_rules, goal_rule, rule
from pants.engine.target import (
    IntField,
    HydratedSources,
    HydrateSourcesRequest,
    Targets,
    WrappedTarget,
    WrappedTargetRequest,
)
from pants.util.logging import LogLevel
from serverless_gis.providers import runtime_model
from serverless_gis.providers.model import RuntimeModel
from serverless_gis.references import FieldReference, target_of_type
from serverless_gis.runtime.platforms import complete_platform, render
from serverless_gis.runtime.target_types import (
    MIB,
    RuntimeArchField,
    RuntimeCompletePlatformField,
    RuntimeGlibcField,
    RuntimeMaxDirectUploadMbField,
    RuntimeMaxLayersField,
    RuntimeMaxUnzippedMbField,
    RuntimeProviderField,
    RuntimePythonVersionField,
    RuntimeResolveField,
    ServerlessRuntimeTarget,
)


class InvalidRuntimeError(Exception):
    pass


@dataclass(frozen=True)
class RuntimeRequest(FieldReference):
    """Look up the `serverless_runtime` at `spec`, named by `owner`'s field `field_alias`."""

    field_alias: str = "runtime"


@dataclass(frozen=True)
class ServerlessRuntime:
    address: Address
    provider: str
    model: RuntimeModel
    python_version: tuple[int, int]
    python_full_version: str
    arch: str
    machine: str
    glibc: tuple[int, int]
    max_unzipped_bytes: int
    max_layers: int
    max_direct_upload_bytes: int
    resolve: str
    complete_platforms: CompletePlatforms

    @property
    def name(self) -> str:
        return self.address.target_name

    @property
    def interpreter_constraint(self) -> str:
        return f"CPython=={self.python_version[0]}.{self.python_version[1]}.*"

    def describe(self) -> str:
        return (
            f"{self.address} ({self.provider}, python{self.python_version[0]}."
            f"{self.python_version[1]}, {self.arch})"
        )


def runtime_from_target(tgt: ServerlessRuntimeTarget, platform_file: Snapshot) -> ServerlessRuntime:
    model = runtime_model(tgt[RuntimeProviderField].value)

    def limit(field: type[IntField], default: int) -> int:
        value = tgt[field].value
        return default if value is None else value

    return ServerlessRuntime(
        address=tgt.address,
        provider=tgt[RuntimeProviderField].value,
        model=model,
        python_version=tgt[RuntimePythonVersionField].major_minor,
        python_full_version=tgt[RuntimePythonVersionField].full_version,
        arch=tgt[RuntimeArchField].value,
        machine=tgt[RuntimeArchField].machine,
        glibc=tgt[RuntimeGlibcField].major_minor,
        max_unzipped_bytes=limit(RuntimeMaxUnzippedMbField, model.limits.max_unzipped_mb) * MIB,
        max_layers=limit(RuntimeMaxLayersField, model.limits.max_layers),
        max_direct_upload_bytes=limit(RuntimeMaxDirectUploadMbField, model.limits.max_direct_upload_mb) * MIB,
        resolve=tgt[RuntimeResolveField].value,
        complete_platforms=CompletePlatforms.from_snapshot(platform_file),
    )


@rule(desc="Resolve a serverless_runtime", level=LogLevel.DEBUG)
async def resolve_runtime(request: RuntimeRequest) -> ServerlessRuntime:
    tgt = await target_of_type(request, ServerlessRuntimeTarget)
    sources = await Get(HydratedSources, HydrateSourcesRequest(tgt[RuntimeCompletePlatformField]))
    if not sources.snapshot.files:
        raise InvalidRuntimeError(
            f"{tgt.address}: its complete-platform file "
            f"`{tgt[RuntimeCompletePlatformField].file_path}` does not exist. Generate it with "
            f"`./pants complete-platforms {tgt.address}`."
        )
    return runtime_from_target(tgt, sources.snapshot)


@dataclass(frozen=True)
class ExpectedPlatformFile:
    path: str
    content: bytes


@rule
async def expected_platform_file(address: Address) -> ExpectedPlatformFile:
    wrapped = await Get(
        WrappedTarget,
        WrappedTargetRequest(address, description_of_origin="serverless_gis platform files"),
    )
    tgt = wrapped.target
    platform = complete_platform(
        python_version=tgt[RuntimePythonVersionField].major_minor,
        full_version=tgt[RuntimePythonVersionField].full_version,
        machine=tgt[RuntimeArchField].machine,
        glibc=tgt[RuntimeGlibcField].major_minor,
    )
    return ExpectedPlatformFile(tgt[RuntimeCompletePlatformField].file_path, render(platform))


class CompletePlatformsSubsystem(GoalSubsystem):
    name = "complete-platforms"
    help = "Write the complete-platform JSON file of every `serverless_runtime` in the specs."


class CompletePlatformsGoal(Goal):
    subsystem_cls = CompletePlatformsSubsystem
    environment_behavior = Goal.EnvironmentBehavior.LOCAL_ONLY


@goal_rule
async def write_complete_platforms(
    targets: Targets, workspace: Workspace, console: Console
) -> CompletePlatformsGoal:
    runtimes = [t for t in targets if isinstance(t, ServerlessRuntimeTarget)]
    files = await MultiGet(Get(ExpectedPlatformFile, Address, t.address) for t in runtimes)
    digest = await Get(Digest, CreateDigest(FileContent(f.path, f.content) for f in files))
    workspace.write_digest(digest)
    for f in files:
        console.print_stdout(f"Wrote {f.path}")
    return CompletePlatformsGoal(exit_code=0)


def rules():
    return collect_rules()
