"""Which native libraries a set of `native_library` targets pulls in, from the targets alone (no
build): what a layer will ship is known, and can be checked, before anything is compiled."""

from __future__ import annotations

from dataclasses import dataclass

from pants.engine.addresses import Address, Addresses
from pants.engine.rules import Get, MultiGet, collect_rules, rule
from pants.engine.target import DependenciesRequest, ExplicitlyProvidedDependencies, Targets
from pants.util.logging import LogLevel
from serverless_gis.native.target_types import (
    NativeDependenciesField,
    NativeLibraryTarget,
    NativeRuntimeProvidedField,
)


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
        explicit = await MultiGet(
            Get(ExplicitlyProvidedDependencies, DependenciesRequest(t[NativeDependenciesField])) for t in fresh
        )
        linked = await Get(Targets, Addresses(sorted({a for e in explicit for a in e.includes}, key=lambda a: a.spec)))
        # Anything else in `dependencies` fails when the library builds, naming it.
        frontier = [t for t in linked if isinstance(t, NativeLibraryTarget) and t.address not in seen]
    return NativeClosureTargets(
        tuple(sorted((a for a, t in seen.items() if not t[NativeRuntimeProvidedField].value), key=lambda a: a.spec))
    )


def rules():
    return collect_rules()
