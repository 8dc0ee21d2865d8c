"""`generate-lockfiles` for every Python resolve, with runtime resolves locked per platform.

Pants 2.17 always writes universal locks (every OS and arch). A runtime's lockfile must hold
only artifacts its platform can load, so `[python].resolves_generate_lockfiles` is off and this
module generates each resolve under the name `lock:<resolve>`: a strict lock for the runtime's
complete platform when a `serverless_runtime` owns the resolve, Pants' own universal lock
otherwise (e.g. the plugin's test resolve).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from pants.backend.python.goals.lockfile import (
    GeneratePythonLockfile,
    _setup_pip_args_and_constraints_file,
)
from pants.backend.python.pip_requirement import PipRequirement
from pants.backend.python.subsystems.setup import PythonSetup
from pants.backend.python.target_types import PythonRequirementResolveField, PythonRequirementsField
from pants.backend.python.util_rules.interpreter_constraints import InterpreterConstraints
from pants.backend.python.util_rules.lockfile_metadata import PythonLockfileMetadata
from pants.backend.python.util_rules.pex_cli import PexCliProcess
from pants.core.goals.generate_lockfiles import (
    GenerateLockfile,
    GenerateLockfileResult,
    KnownUserResolveNames,
    KnownUserResolveNamesRequest,
    RequestedUserResolveNames,
    UserGenerateLockfiles,
    WrappedGenerateLockfile,
)
from pants.engine.fs import CreateDigest, Digest, DigestContents, FileContent, MergeDigests
from pants.engine.process import ProcessCacheScope, ProcessResult
from pants.engine.rules import Get, MultiGet, collect_rules, rule
from pants.engine.target import AllTargets
from pants.engine.unions import UnionRule
from pants.util.logging import LogLevel
from pants.util.ordered_set import FrozenOrderedSet
from pants.engine.addresses import Address
from serverless_gis.layer.target_types import LayerResolveField, LayerRuntimeField, ServerlessLayerTarget
from serverless_gis.runtime.rules import RuntimeRequest, ServerlessRuntime
from serverless_gis.runtime.target_types import RuntimeResolveField, ServerlessRuntimeTarget

RESOLVE_PREFIX = "lock:"


def regenerate_command(resolve: str) -> str:
    return f"./pants generate-lockfiles --resolve={RESOLVE_PREFIX}{resolve}"


@dataclass(frozen=True)
class GenerateRuntimeLockfile(GenerateLockfile):
    requirements: FrozenOrderedSet[str]
    runtime: ServerlessRuntime


@rule
def wrap_runtime_lockfile_request(request: GenerateRuntimeLockfile) -> WrappedGenerateLockfile:
    return WrappedGenerateLockfile(request)


@rule(desc="Generate a runtime's platform lockfile", level=LogLevel.DEBUG)
async def generate_runtime_lockfile(
    req: GenerateRuntimeLockfile, python_setup: PythonSetup
) -> GenerateLockfileResult:
    pip_args_setup = await _setup_pip_args_and_constraints_file(req.resolve_name)
    platforms = req.runtime.complete_platforms
    input_digest = await Get(Digest, MergeDigests([pip_args_setup.digest, platforms.digest]))
    result = await Get(
        ProcessResult,
        PexCliProcess(
            subcommand=("lock", "create"),
            extra_args=(
                "--output=lock.json",
                "--no-emit-warnings",
                # Exactly the artifacts the runtime loads, nothing for other arches or OSes.
                "--style=strict",
                *platforms.generate_pex_arg_list(),
                "--pip-version",
                python_setup.pip_version.value,
                "--resolver-version",
                "pip-2020-resolver",
                "--indent=2",
                *pip_args_setup.args,
                *req.requirements,
            ),
            additional_input_digest=input_digest,
            output_files=("lock.json",),
            description=f"Generate lockfile for {req.resolve_name} ({req.runtime.describe()})",
            # Like Pants' own lockfile rule: always re-resolve against the index.
            cache_scope=ProcessCacheScope.PER_SESSION,
        ),
    )
    contents = await Get(DigestContents, Digest, result.output_digest)
    metadata = PythonLockfileMetadata.new(
        valid_for_interpreter_constraints=InterpreterConstraints(
            [req.runtime.interpreter_constraint]
        ),
        requirements={
            PipRequirement.parse(r, description_of_origin=f"the resolve {req.resolve_name}")
            for r in req.requirements
        },
        manylinux=pip_args_setup.resolve_config.manylinux,
        requirement_constraints=(
            set(pip_args_setup.resolve_config.constraints_file.constraints)
            if pip_args_setup.resolve_config.constraints_file
            else set()
        ),
        only_binary=set(pip_args_setup.resolve_config.only_binary),
        no_binary=set(pip_args_setup.resolve_config.no_binary),
    )
    lockfile = metadata.add_header_to_lockfile(
        contents[0].content, regenerate_command=regenerate_command(req.resolve_name), delimeter="//"
    )
    digest = await Get(Digest, CreateDigest([FileContent(req.lockfile_dest, lockfile)]))
    return GenerateLockfileResult(digest, req.resolve_name, req.lockfile_dest, diff=None)


class RequestedLockResolveNames(RequestedUserResolveNames):
    pass


class KnownLockResolveNamesRequest(KnownUserResolveNamesRequest):
    pass


@rule
def known_lock_resolve_names(
    _: KnownLockResolveNamesRequest, python_setup: PythonSetup
) -> KnownUserResolveNames:
    return KnownUserResolveNames(
        names=tuple(f"{RESOLVE_PREFIX}{name}" for name in python_setup.resolves),
        option_name="[python].resolves (locked by serverless_gis)",
        requested_resolve_names_cls=RequestedLockResolveNames,
    )


@rule
async def lockfile_requests(
    requested: RequestedLockResolveNames, all_targets: AllTargets, python_setup: PythonSetup
) -> UserGenerateLockfiles:
    requirements_by_resolve: dict[str, set[str]] = defaultdict(set)
    for tgt in all_targets:
        if tgt.has_fields((PythonRequirementResolveField, PythonRequirementsField)):
            resolve = tgt[PythonRequirementResolveField].normalized_value(python_setup)
            requirements_by_resolve[resolve].update(str(r) for r in tgt[PythonRequirementsField].value)

    # The platform each resolve is locked for: its runtime's, or that of a layer locked on its own.
    runtime_spec_by_resolve: dict[str, tuple[str, Address]] = {}
    for tgt in all_targets:
        if isinstance(tgt, ServerlessRuntimeTarget):
            runtime_spec_by_resolve.setdefault(
                tgt[RuntimeResolveField].value, (tgt.address.spec, tgt.address)
            )
    for tgt in all_targets:
        if isinstance(tgt, ServerlessLayerTarget) and tgt[LayerResolveField].value:
            runtime_spec_by_resolve.setdefault(
                tgt[LayerResolveField].value, (tgt[LayerRuntimeField].value, tgt.address)
            )
    resolves = sorted(runtime_spec_by_resolve)
    runtimes = await MultiGet(
        Get(ServerlessRuntime, RuntimeRequest(*runtime_spec_by_resolve[r])) for r in resolves
    )
    runtime_by_resolve = dict(zip(resolves, runtimes))

    requests: list[GenerateLockfile] = []
    for name in requested:
        resolve = name[len(RESOLVE_PREFIX) :]
        requirements = FrozenOrderedSet(sorted(requirements_by_resolve.get(resolve, ())))
        lockfile_dest = python_setup.resolves[resolve]
        runtime = runtime_by_resolve.get(resolve)
        if runtime:
            requests.append(
                GenerateRuntimeLockfile(
                    requirements=requirements,
                    runtime=runtime,
                    resolve_name=resolve,
                    lockfile_dest=lockfile_dest,
                    diff=False,
                )
            )
        else:
            requests.append(
                GeneratePythonLockfile(
                    requirements=requirements,
                    interpreter_constraints=InterpreterConstraints(
                        python_setup.resolves_to_interpreter_constraints.get(
                            resolve, python_setup.interpreter_constraints
                        )
                    ),
                    resolve_name=resolve,
                    lockfile_dest=lockfile_dest,
                    diff=False,
                )
            )
    return UserGenerateLockfiles(requests)


def rules():
    return (
        *collect_rules(),
        UnionRule(GenerateLockfile, GenerateRuntimeLockfile),
        UnionRule(KnownUserResolveNamesRequest, KnownLockResolveNamesRequest),
        UnionRule(RequestedUserResolveNames, RequestedLockResolveNames),
    )
