"""A function's own `requirements`: checked against its layers' locked versions, added to its PEX.

They are locked in the runtime's resolve with everything else (one version of a project per
resolve), but they are not `python_requirement` targets: dependency inference never offers them
to other functions, and a pin on a project the org already requires (`shapely<2.1`) makes no
import of it ambiguous. The lock-time check keeps a relock from moving a layer for one
function's sake.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Iterable

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from pants.backend.python.util_rules.pex import PexRequest, ReqStrings
from pants.backend.python.util_rules.pex_requirements import PexRequirements, Resolve
from pants.engine.addresses import Address
from pants.engine.rules import Get, MultiGet, collect_rules, rule
from pants.engine.target import AllTargets, Target
from pants.util.frozendict import FrozenDict
from pants.util.logging import LogLevel
from serverless_gis.function.target_types import (
    FunctionLayersField,
    FunctionRequirementsField,
    FunctionRuntimeField,
    ServerlessFunctionTarget,
)
from serverless_gis.layer.target_types import (
    LayerRequirementsField,
    LayerResolveField,
    LayerRuntimeField,
    ServerlessLayerTarget,
)
from serverless_gis.python_lock import LockedResolve, LockedResolveRequest, accepts, closure, regenerate_command
from serverless_gis.references import ReferencedTargets, ReferencesRequest
from serverless_gis.runtime.rules import RuntimeRequest, ServerlessRuntime


class FunctionRequirementsError(Exception):
    pass


@dataclass(frozen=True)
class LockedLayer:
    """The versions a layer gets from its lockfile: its requirements and all they need."""

    address: Address
    resolve: str
    lockfile: str
    versions: FrozenDict[str, str]


def locked_layer(address: Address, requirements: Iterable[str], resolve: str, locked: LockedResolve) -> LockedLayer:
    names = closure(dict(locked.projects), requirements)
    return LockedLayer(
        address, resolve, locked.lockfile, FrozenDict({n: locked.projects[n].version for n in sorted(names)})
    )


def check_against_layers(
    address: Address,
    requirements: Iterable[str],
    own_layers: Iterable[LockedLayer],
    resolve_layers: Iterable[LockedLayer],
) -> None:
    """Fail when a requirement excludes the version a layer locks: relocking would then move the
    layer (for every function on it), or the function could not run on its own layer."""
    own = tuple(own_layers)
    own_addresses = {layer.address for layer in own}
    candidates = [(layer, True) for layer in own] + [
        (layer, False) for layer in resolve_layers if layer.address not in own_addresses
    ]
    for requirement_string in requirements:
        requirement = Requirement(requirement_string)
        name = canonicalize_name(requirement.name)
        for layer, is_own in candidates:
            version = layer.versions.get(name)
            if version is None or accepts(requirement, version):
                continue
            which = (
                f"its layer {layer.address}"
                if is_own
                else f"the layer {layer.address} (locked in the same resolve `{layer.resolve}`: "
                "a relock for this function would change it for every function on it)"
            )
            raise FunctionRequirementsError(
                f"{address}: its requirement `{requirement_string}` conflicts with {which}, which "
                f"provides {requirement.name} {version} (from {layer.lockfile}). A function's "
                "requirements are locked with its runtime's layers, one version of each project. "
                f"Fix: allow the layer's version (e.g. `{requirement.name}=={version}`, or just "
                f"`{requirement.name}`), or use a layer that provides the version you need."
            )


def check_locked(address: Address, requirements: Iterable[str], resolve: str, locked: LockedResolve) -> None:
    """Package time: the lockfile must hold a version of each requirement that meets it."""
    for requirement_string in requirements:
        requirement = Requirement(requirement_string)
        project = locked.projects.get(canonicalize_name(requirement.name))
        if project is None or not accepts(requirement, project.version):
            found = f"locks {requirement.name} {project.version}" if project else f"has no {requirement.name}"
            raise FunctionRequirementsError(
                f"{address}: its requirement `{requirement_string}` is not locked: {locked.lockfile} "
                f"{found}. Fix: `{regenerate_command(resolve)}`."
            )


async def with_function_requirements(request: PexRequest, requirements: tuple[str, ...], resolve: str) -> PexRequest:
    """The function's PEX request plus its own requirements, taken from the runtime's lockfile."""
    if not requirements:
        return request
    assert isinstance(request.requirements, PexRequirements)
    # The request names requirement targets by address; strings and addresses do not sort together.
    current = await Get(ReqStrings, PexRequirements, request.requirements)
    return dataclasses.replace(
        request,
        requirements=PexRequirements(
            [*current.req_strings, *requirements],
            constraints_strings=request.requirements.constraints_strings,
            from_superset=Resolve(resolve, use_entire_lockfile=False),
            description_of_origin=request.requirements.description_of_origin,
        ),
    )


# ---------------------------------------------------------------------------------------------
# Lock time: the requirements every function of a resolve adds to it.
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FunctionRequirementsRequest:
    resolve: str


@dataclass(frozen=True)
class FunctionRequirements:
    """(function, requirement) for every function of the resolve, each checked against layers."""

    resolve: str
    requirements: tuple[tuple[Address, str], ...]


async def _locked_layers(layers: list[Target]) -> dict[Address, LockedLayer]:
    runtimes = await MultiGet(
        Get(ServerlessRuntime, RuntimeRequest, RuntimeRequest.of(t[LayerRuntimeField])) for t in layers
    )
    resolves = [t[LayerResolveField].value or rt.resolve for t, rt in zip(layers, runtimes)]
    locks = await MultiGet(Get(LockedResolve, LockedResolveRequest(r)) for r in resolves)
    return {
        t.address: locked_layer(t.address, t[LayerRequirementsField].value or (), resolve, lock)
        for t, resolve, lock in zip(layers, resolves, locks)
    }


@rule(desc="Check the requirements of serverless functions against their layers", level=LogLevel.DEBUG)
async def function_requirements(request: FunctionRequirementsRequest, all_targets: AllTargets) -> FunctionRequirements:
    functions = [
        t for t in all_targets if isinstance(t, ServerlessFunctionTarget) and t[FunctionRequirementsField].value
    ]
    runtimes = await MultiGet(
        Get(ServerlessRuntime, RuntimeRequest, RuntimeRequest.of(t[FunctionRuntimeField])) for t in functions
    )
    in_resolve = [(t, rt) for t, rt in zip(functions, runtimes) if rt.resolve == request.resolve]
    if not in_resolve:
        return FunctionRequirements(request.resolve, ())
    layers = await _locked_layers([t for t in all_targets if isinstance(t, ServerlessLayerTarget)])
    # Lenient: a wrong layer address fails at package time, with its own error.
    own_layers = await MultiGet(
        Get(ReferencedTargets, ReferencesRequest, ReferencesRequest.of(t[FunctionLayersField], rt.address, lenient=True))
        for t, rt in in_resolve
    )
    resolve_layers = [layer for layer in layers.values() if layer.resolve == request.resolve]
    result: list[tuple[Address, str]] = []
    for (tgt, _), own in zip(in_resolve, own_layers):
        requirements = tgt[FunctionRequirementsField].value or ()
        check_against_layers(
            tgt.address, requirements, [layers[a] for a in own.addresses if a in layers], resolve_layers
        )
        result.extend((tgt.address, r) for r in requirements)
    return FunctionRequirements(request.resolve, tuple(result))


def rules():
    return collect_rules()
