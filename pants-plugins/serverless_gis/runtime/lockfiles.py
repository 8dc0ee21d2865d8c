"""`generate-lockfiles` for every Python resolve, with runtime resolves locked per platform.

Pants 2.17 always writes universal locks (every OS and arch). A runtime's lockfile must hold
only artifacts its platform can load, so `[python].resolves_generate_lockfiles` is off and this
module generates each resolve under the name `lock:<resolve>`: a strict lock for the runtime's
complete platform when a `serverless_runtime` owns the resolve, Pants' own universal lock
otherwise (e.g. the plugin's test resolve).

Pants 2.17 also re-resolves a lockfile from scratch, so adding one requirement moved unrelated
pins (and the layers holding them). An existing runtime lockfile is updated with `pex3 lock
sync` instead, which keeps every pin its requirements still allow; `[serverless-lockfiles].upgrade`
re-resolves from scratch on request.
"""

from __future__ import annotations

import json
import logging
import re
from collections import defaultdict
from dataclasses import dataclass
from typing import Iterable

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

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
from pants.engine.fs import CreateDigest, Digest, DigestContents, FileContent, MergeDigests, PathGlobs
from pants.engine.process import FallibleProcessResult, Process, ProcessCacheScope
from pants.engine.rules import Get, MultiGet, collect_rules, rule
from pants.engine.target import AllTargets
from pants.engine.unions import UnionRule
from pants.util.frozendict import FrozenDict
from pants.util.logging import LogLevel
from pants.util.ordered_set import FrozenOrderedSet
from pants.engine.addresses import Address
from serverless_gis.function.requirements import FunctionRequirements, FunctionRequirementsRequest
from serverless_gis.layer.target_types import LayerResolveField, LayerRuntimeField, ServerlessLayerTarget
from serverless_gis.python_lock import RESOLVE_PREFIX, closure, lock_body, parse_lockfile, regenerate_command
from serverless_gis.runtime.rules import RuntimeRequest, ServerlessRuntime
from serverless_gis.runtime.subsystem import ServerlessLockfilesSubsystem
from serverless_gis.runtime.target_types import RuntimeResolveField, ServerlessRuntimeTarget

logger = logging.getLogger(__name__)


class RuntimeLockfileError(Exception):
    pass


@dataclass(frozen=True)
class GenerateRuntimeLockfile(GenerateLockfile):
    requirements: FrozenOrderedSet[str]
    runtime: ServerlessRuntime
    # requirement -> the targets asking for it, to name them when the resolve fails
    origins: FrozenDict[str, tuple[str, ...]]


def lock_failure(req: GenerateRuntimeLockfile, stderr: str, synced: bool) -> str:
    """pip names projects, never targets: add the targets whose requirements it names."""
    named = [
        f"  {requirement}: {', '.join(req.origins.get(requirement, ()))}"
        for requirement in req.requirements
        if re.search(rf"(?<![\w.-]){re.escape(Requirement(requirement).name)}(?![\w-])", stderr, re.IGNORECASE)
    ]
    upgrade = (
        "If a new or changed requirement needs newer versions of projects already locked, "
        "re-resolve everything: "
        f"`./pants generate-lockfiles --serverless-lockfiles-upgrade --resolve={RESOLVE_PREFIX}{req.resolve_name}`."
        if synced
        else ""
    )
    return (
        f"Locking the resolve `{req.resolve_name}` for {req.runtime.describe()} failed:\n{stderr.strip()}\n\n"
        + ("Requirements named above, and the targets asking for them:\n" + "\n".join(named) + "\n\n" if named else "")
        + f"Fix: make these requirements agree (a function's own `requirements` must allow the "
        f"versions its layers lock). {upgrade}"
    ).strip()


def sync_input(lockfile: bytes, requirements: Iterable[str]) -> str:
    """The existing lock as `pex3 lock sync` reads it.

    pex deletes the projects of requirements no longer asked for, but pex 2.105.2 also deletes
    such a project where other locked projects still need it (and then fails to resolve them).
    Those requirements are taken out of the lock first: pex then keeps the project at its pin as
    a dependency, and deletes only what nothing needs any more.
    """
    body = lock_body(lockfile)
    lock = json.loads(body)
    wanted = {canonicalize_name(Requirement(r).name) for r in requirements}
    # Markers ignored, as pex's own walk of the lock does.
    needed = closure(parse_lockfile(lockfile), wanted, all_extras=True)

    def kept(requirement: str) -> bool:
        name = canonicalize_name(Requirement(requirement).name)
        return name in wanted or name not in needed

    if all(kept(r) for r in lock["requirements"]):
        return body
    requirements_kept = [r for r in lock["requirements"] if kept(r)]
    # pex's own format, for when pex finds nothing to update and leaves the file as it is.
    return json.dumps({**lock, "requirements": requirements_kept}, indent=2, sort_keys=True, separators=(",", ": ")) + "\n"


@rule
def wrap_runtime_lockfile_request(request: GenerateRuntimeLockfile) -> WrappedGenerateLockfile:
    return WrappedGenerateLockfile(request)


@rule(desc="Generate a runtime's platform lockfile", level=LogLevel.DEBUG)
async def generate_runtime_lockfile(
    req: GenerateRuntimeLockfile, python_setup: PythonSetup, lockfiles: ServerlessLockfilesSubsystem
) -> GenerateLockfileResult:
    pip_args_setup = await _setup_pip_args_and_constraints_file(req.resolve_name)
    platforms = req.runtime.complete_platforms
    existing = await Get(DigestContents, PathGlobs([req.lockfile_dest]))
    # An existing lock is updated minimally: pex pins every project whose requirements did not
    # change and drops what no requirement needs any more.
    sync = bool(existing) and not lockfiles.upgrade
    inputs = [pip_args_setup.digest, platforms.digest]
    if sync:
        inputs.append(
            await Get(
                Digest,
                CreateDigest([FileContent("lock.json", sync_input(existing[0].content, req.requirements).encode())]),
            )
        )
    input_digest = await Get(Digest, MergeDigests(inputs))
    process = await Get(
        Process,
        PexCliProcess(
            subcommand=("lock", "sync" if sync else "create"),
            extra_args=(
                "--lock=lock.json" if sync else "--output=lock.json",
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
            description=(
                f"{'Update' if sync else 'Generate'} lockfile for {req.resolve_name} "
                f"({req.runtime.describe()})"
            ),
            # Like Pants' own lockfile rule: always re-resolve against the index.
            cache_scope=ProcessCacheScope.PER_SESSION,
            extra_env=FrozenDict(lockfiles.sdist_metadata_env),
        ),
    )
    result = await Get(FallibleProcessResult, Process, process)
    if result.exit_code != 0:
        raise RuntimeLockfileError(lock_failure(req, result.stderr.decode(), sync))
    if sync:
        # pex's summary of what changed ("Updated ...", "Deleted ...", "No updates ...").
        logger.info(f"{req.resolve_name}:\n{result.stderr.decode().strip()}")
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
    # resolve -> requirement -> the targets asking for it
    requirements_by_resolve: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for tgt in all_targets:
        if tgt.has_fields((PythonRequirementResolveField, PythonRequirementsField)):
            resolve = tgt[PythonRequirementResolveField].normalized_value(python_setup)
            for r in tgt[PythonRequirementsField].value:
                requirements_by_resolve[resolve][str(r)].add(tgt.address.spec)

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

    requested_resolves = [name[len(RESOLVE_PREFIX) :] for name in requested]
    # Functions' own requirements, each checked against the versions its layers lock.
    function_requirements = await MultiGet(
        Get(FunctionRequirements, FunctionRequirementsRequest(r))
        for r in requested_resolves
        if r in runtime_by_resolve
    )
    for function_reqs in function_requirements:
        for address, requirement in function_reqs.requirements:
            requirements_by_resolve[function_reqs.resolve][requirement].add(address.spec)

    requests: list[GenerateLockfile] = []
    for resolve in requested_resolves:
        origins = requirements_by_resolve.get(resolve, {})
        requirements = FrozenOrderedSet(sorted(origins))
        lockfile_dest = python_setup.resolves[resolve]
        runtime = runtime_by_resolve.get(resolve)
        if runtime:
            requests.append(
                GenerateRuntimeLockfile(
                    requirements=requirements,
                    runtime=runtime,
                    origins=FrozenDict({r: tuple(sorted(o)) for r, o in origins.items()}),
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
