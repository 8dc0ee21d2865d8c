"""Which native libraries a set of `native_library` targets pulls in, from the targets alone (no
build): what a layer will ship is known, and can be checked, before anything is compiled."""

from __future__ import annotations

from dataclasses import dataclass

from pants.engine.addresses import Address
from pants.engine.rules import Get, MultiGet, collect_rules, rule
from pants.engine.target import DependenciesRequest, ExplicitlyProvidedDependencies, Targets
from pants.util.logging import LogLevel
from serverless_gis.native.target_types import (
    NativeDependenciesField,
    NativeLibraryTarget,
    NativeRuntimeProvidedField,
)


class LinkedLibrariesError(Exception):
    pass


@dataclass(frozen=True)
class LinkedLibrariesRequest:
    library: NativeLibraryTarget


@dataclass(frozen=True)
class LinkedLibraries:
    """The libraries one library links: its explicit `dependencies`, each the variant of the same
    toolchain when they are parametrized by it (Pants fills in the parameters)."""

    targets: tuple[NativeLibraryTarget, ...]


@rule(desc="Find the native libraries a library links", level=LogLevel.DEBUG)
async def linked_libraries(request: LinkedLibrariesRequest) -> LinkedLibraries:
    field = request.library[NativeDependenciesField]
    explicit, resolved = await MultiGet(
        Get(ExplicitlyProvidedDependencies, DependenciesRequest(field)),
        Get(Targets, DependenciesRequest(field)),
    )
    # Inferred dependencies are the images its fields name; anything else listed is a mistake.
    for tgt in resolved:
        if not isinstance(tgt, NativeLibraryTarget) and tgt.address in explicit.includes:
            raise LinkedLibrariesError(
                f"{request.library.address}: `dependencies` lists {tgt.address}, a `{tgt.alias}`; only "
                "`native_library` targets can go there. Fix: remove it, or name the native_library "
                "it stands for."
            )
    return LinkedLibraries(tuple(t for t in resolved if isinstance(t, NativeLibraryTarget)))


@dataclass(frozen=True)
class NativeClosureTargetsRequest:
    libraries: Targets  # native_library targets


@dataclass(frozen=True)
class NativeClosureTargets:
    """The libraries and all they link (their explicit `dependencies`, transitively), by address,
    except those the runtime provides (`runtime_provided`: built against, never shipped)."""

    shipped: tuple[Address, ...]


@rule(desc="Find the native libraries a build links", level=LogLevel.DEBUG)
async def native_closure_targets(request: NativeClosureTargetsRequest) -> NativeClosureTargets:
    seen: dict[Address, NativeLibraryTarget] = {}
    frontier = [t for t in request.libraries if isinstance(t, NativeLibraryTarget)]
    while frontier:
        fresh = [t for t in frontier if t.address not in seen]
        seen.update((t.address, t) for t in fresh)
        linked = await MultiGet(Get(LinkedLibraries, LinkedLibrariesRequest(t)) for t in fresh)
        frontier = [t for libs in linked for t in libs.targets if t.address not in seen]
    return NativeClosureTargets(
        tuple(sorted((a for a, t in seen.items() if not t[NativeRuntimeProvidedField].value), key=lambda a: a.spec))
    )


def rules():
    return collect_rules()
