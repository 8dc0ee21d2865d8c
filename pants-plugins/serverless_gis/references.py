"""Fields that name other targets, and the dependencies Pants sees through them.

A reference field (`runtime`, `layers`, `natives`, `toolchain`, ...) holds addresses like a
`dependencies` field, but says which target type it names and, for targets parametrized by
runtime, which variant the owner uses. One rule resolves them, for the build rules (strictly,
with errors naming the owner and the fix) and for dependency inference (leniently, so that
`dependencies`, `dependents`, `peek`, `paths` and `--changed-dependents` see every edge even
while a BUILD file is wrong).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from enum import Enum
from typing import ClassVar

from pants.base.specs import AddressLiteralSpec, RawSpecs
from pants.build_graph.address import ResolveError
from pants.engine.addresses import Address, AddressInput
from pants.engine.rules import Get, MultiGet, collect_rules, rule
from pants.engine.target import (
    AsyncFieldMixin,
    Dependencies,
    FieldSet,
    InferDependenciesRequest,
    InferredDependencies,
    InvalidFieldException,
    StringField,
    StringSequenceField,
    Target,
    Targets,
    WrappedTarget,
    WrappedTargetRequest,
)
from pants.engine.unions import UnionRule
from pants.util.frozendict import FrozenDict
from pants.util.logging import LogLevel


class Variants(Enum):
    """How a reference to a target parametrized by runtime picks among its variants."""

    # The target must not be ambiguous: name one variant (`:fn@runtime=x86_64`).
    EXPLICIT = "explicit"
    # The variant built for the owner's runtime; an error when there is none.
    SAME_RUNTIME = "same_runtime"
    # Only targets built for the owner's runtime apply; the others are skipped.
    ONLY_SAME_RUNTIME = "only_same_runtime"
    # The variant built for the owner's runtime's CPU architecture (native libraries, parametrized
    # by toolchain); an error when there is none.
    SAME_ARCH = "same_arch"


class ArchField(StringField):
    """A target's CPU architecture (`x86_64`, `arm64`): what SAME_ARCH compares. A target without
    one has the architecture of the target its `runtime` or `toolchain` names."""


class ReferenceField(AsyncFieldMixin):
    """Mixin of fields holding addresses of `expected_alias` targets."""

    alias: ClassVar[str]
    expected_alias: ClassVar[str]
    noun: ClassVar[str]
    variants: ClassVar[Variants] = Variants.EXPLICIT
    owner_noun: ClassVar[str] = "target"  # for messages: "the function's runtime"

    @property
    def specs(self) -> tuple[str, ...]:
        raise NotImplementedError


class TargetReferenceField(StringField, ReferenceField):
    @property
    def specs(self) -> tuple[str, ...]:
        return (self.value,) if self.value else ()


class TargetReferencesField(StringSequenceField, ReferenceField):
    default = ()

    @property
    def specs(self) -> tuple[str, ...]:
        return tuple(self.value or ())


class RuntimeReferenceField(TargetReferenceField):
    """The `serverless_runtime` a target is built for; variant choice follows it."""

    alias = "runtime"
    expected_alias = "serverless_runtime"
    noun = "runtime"
    required = True


def reference_fields(tgt: Target) -> tuple[ReferenceField, ...]:
    return tuple(f for f in tgt.field_values.values() if isinstance(f, ReferenceField))


class ReferenceError(InvalidFieldException):
    pass


@dataclass(frozen=True)
class ReferencesRequest:
    """Resolve `specs`, written in the field `field_alias` of `owner`."""

    owner: Address
    field_alias: str
    specs: tuple[str, ...]
    expected_alias: str
    noun: str
    variants: Variants = Variants.EXPLICIT
    owner_noun: str = "target"
    runtime: Address | None = None  # the owner's runtime, for variant choice
    lenient: bool = False  # for inference: skip what cannot be resolved, keep every candidate

    @classmethod
    def of(cls, field: ReferenceField, runtime: Address | None = None, lenient: bool = False) -> ReferencesRequest:
        return cls(
            owner=field.address,
            field_alias=field.alias,
            specs=field.specs,
            expected_alias=field.expected_alias,
            noun=field.noun,
            variants=field.variants,
            owner_noun=field.owner_noun,
            runtime=runtime,
            lenient=lenient,
        )


@dataclass(frozen=True)
class ReferencedTargets:
    """The targets named, in field order (one per spec, or none for a skipped variant)."""

    targets: tuple[Target, ...]

    @property
    def addresses(self) -> tuple[Address, ...]:
        return tuple(t.address for t in self.targets)


@dataclass(frozen=True)
class CandidatesRequest:
    address_input: AddressInput


@dataclass(frozen=True)
class Candidates:
    """The targets an address names: every variant of a parametrized target; none if unknown."""

    targets: tuple[Target, ...]


@rule(desc="Find the targets an address names", level=LogLevel.DEBUG)
async def candidates_for(request: CandidatesRequest) -> Candidates:
    i = request.address_input
    try:
        targets = await Get(
            Targets,
            RawSpecs(
                address_literals=(
                    AddressLiteralSpec(i.path_component, i.target_component, i.generated_component, FrozenDict(i.parameters)),
                ),
                description_of_origin=i.description_of_origin,
            ),
        )
    except ResolveError:
        # Unknown directory or name: the strict caller reports it with the field and the fix.
        return Candidates(())
    return Candidates(tuple(targets))


def _runtime_input(tgt: Target) -> AddressInput | None:
    if not tgt.has_field(RuntimeReferenceField):
        return None
    field = tgt[RuntimeReferenceField]
    return AddressInput.parse(
        field.value,
        relative_to=tgt.address.spec_path,
        description_of_origin=f"the `runtime` field of {tgt.address}",
    )


ARCH_FROM = ("runtime", "toolchain")


async def _arch_of(tgt: Target) -> str | None:
    # A loop, not recursion: Pants' rule visitor follows helper calls.
    for _ in range(len(ARCH_FROM) + 1):
        own = [f.value for f in tgt.field_values.values() if isinstance(f, ArchField)]
        if own:
            return own[0]
        fields = [f for f in reference_fields(tgt) if f.alias in ARCH_FROM and f.specs]
        if not fields:
            return None
        named = await Get(
            Candidates,
            CandidatesRequest(
                AddressInput.parse(
                    fields[0].specs[0], relative_to=tgt.address.spec_path,
                    description_of_origin=f"the `{fields[0].alias}` field of {tgt.address}",
                )
            ),
        )
        if len(named.targets) != 1:
            return None
        tgt = named.targets[0]
    return None


async def _same_arch(request: ReferencesRequest, spec: str, candidates: list[Target]) -> list[Target]:
    assert request.runtime is not None
    runtime = await Get(
        WrappedTarget, WrappedTargetRequest(request.runtime, description_of_origin=f"the runtime of {request.owner}")
    )
    arch = await _arch_of(runtime.target)
    archs = [await _arch_of(t) for t in candidates]
    matching = [t for t, a in zip(candidates, archs) if a == arch]
    if matching or request.lenient:
        return matching[:1] if matching else candidates
    raise ReferenceError(
        f"{request.owner}: {request.noun} `{spec}` is not built for {arch} (the {request.owner_noun}'s "
        f"runtime {request.runtime}); it is built for: {', '.join(sorted(str(a) for a in archs))}. "
        f"Fix: build it with a toolchain for {arch} too (`toolchain=parametrize(...)`)."
    )


async def _variants_for(request: ReferencesRequest, spec: str, candidates: list[Target]) -> list[Target]:
    if request.variants is Variants.SAME_ARCH and request.runtime is not None:
        return await _same_arch(request, spec, candidates)
    if request.variants is Variants.EXPLICIT or request.runtime is None:
        if len(candidates) > 1 and not request.lenient:
            raise ReferenceError(
                f"{request.owner}: `{request.field_alias}` entry `{spec}` is parametrized and names "
                f"{len(candidates)} targets: {', '.join(str(t.address) for t in candidates)}. "
                f"Fix: name one of them."
            )
        return candidates
    runtime_inputs = [_runtime_input(t) for t in candidates]
    runtimes = await MultiGet(Get(Address, AddressInput, i) for i in runtime_inputs if i is not None)
    by_runtime = iter(runtimes)
    candidate_runtimes = [next(by_runtime) if i is not None else None for i in runtime_inputs]
    matching = [t for t, rt in zip(candidates, candidate_runtimes) if rt == request.runtime]
    if matching or request.variants is Variants.ONLY_SAME_RUNTIME:
        return matching[:1]
    if request.lenient:
        return candidates
    built_for = ", ".join(sorted(str(rt) for rt in candidate_runtimes if rt is not None))
    raise ReferenceError(
        f"{request.owner}: {request.noun} `{spec}` is not built for the "
        f"{request.owner_noun}'s runtime {request.runtime}; it is built for: {built_for}. Fix: add "
        f"that runtime to the {request.noun}'s `runtime=parametrize(...)`, or use a "
        f"{request.noun} for this runtime."
    )


@rule(desc="Resolve target references", level=LogLevel.DEBUG)
async def resolve_references(request: ReferencesRequest) -> ReferencedTargets:
    owner = request.owner
    inputs = [
        AddressInput.parse(
            spec,
            relative_to=owner.spec_path,
            description_of_origin=f"the `{request.field_alias}` field of {owner}",
        )
        for spec in request.specs
    ]
    found = await MultiGet(Get(Candidates, CandidatesRequest(i)) for i in inputs)
    chosen: list[Target] = []
    for spec, address_input, candidates_found in zip(request.specs, inputs, found):
        candidates = list(candidates_found.targets)
        if not candidates:
            if request.lenient:
                continue
            raise ReferenceError(
                f"{owner}: unknown {request.noun} `{spec}`: there is no `{request.expected_alias}` "
                f"named `{address_input.target_component or os.path.basename(address_input.path_component)}` "
                f"in `{address_input.path_component or '//'}`. Fix: correct the address in "
                f"`{request.field_alias}`, or declare the target there."
            )
        wrong = [t for t in candidates if t.alias != request.expected_alias]
        if wrong and not request.lenient:
            raise ReferenceError(
                f"{owner}: `{request.field_alias}` names {wrong[0].address}, a `{wrong[0].alias}`, "
                f"not a `{request.expected_alias}`. Fix: point `{request.field_alias}` at a "
                f"`{request.expected_alias}` target."
            )
        chosen.extend(await _variants_for(request, spec, candidates))
    return ReferencedTargets(tuple(chosen))


@dataclass(frozen=True)
class FieldReference:
    """The target named by the field `field_alias` of `owner`; subclasses say what it must build."""

    spec: str
    owner: Address
    field_alias: str

    @classmethod
    def of(cls, field: TargetReferenceField) -> FieldReference:
        # Returns `cls`: callers name their request type in `Get(Output, RequestType, ...)`.
        return cls(field.value, field.address, field.alias)


async def target_of_type(reference: FieldReference, target_type: type[Target]) -> Target:
    """The one target a single-address field names, which must be a `target_type`."""
    referenced = await Get(
        ReferencedTargets,
        ReferencesRequest(
            reference.owner,
            reference.field_alias,
            (reference.spec,),
            target_type.alias,
            target_type.alias.replace("_", " "),
        ),
    )
    return referenced.targets[0]


# ---------------------------------------------------------------------------------------------
# Dependency inference: every reference field is an edge of the build graph.
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReferencingFieldSet(FieldSet):
    required_fields = (Dependencies,)

    @classmethod
    def opt_out(cls, tgt: Target) -> bool:
        return not reference_fields(tgt)


class InferReferencedDependencies(InferDependenciesRequest):
    infer_from = ReferencingFieldSet


@dataclass(frozen=True)
class AllReferencesRequest:
    address: Address


@dataclass(frozen=True)
class AllReferences:
    """What every reference field of `owner` names, resolved leniently (variants for its runtime)."""

    owner: Target
    named: tuple[tuple[str, Target], ...]  # (field alias, target named)


@rule(desc="Resolve all target references of a target", level=LogLevel.DEBUG)
async def resolve_all_references(request: AllReferencesRequest) -> AllReferences:
    wrapped = await Get(
        WrappedTarget, WrappedTargetRequest(request.address, description_of_origin="<infallible>")
    )
    tgt = wrapped.target
    runtime_input = _runtime_input(tgt)
    runtime = await Get(Address, AddressInput, runtime_input) if runtime_input else None
    fields = reference_fields(tgt)
    resolved = await MultiGet(
        Get(ReferencedTargets, ReferencesRequest, ReferencesRequest.of(field, runtime, lenient=True))
        for field in fields
    )
    return AllReferences(tgt, tuple((f.alias, t) for f, r in zip(fields, resolved) for t in r.targets))


@rule(desc="Inferring dependencies from target references", level=LogLevel.DEBUG)
async def infer_referenced_dependencies(request: InferReferencedDependencies) -> InferredDependencies:
    references = await Get(AllReferences, AllReferencesRequest(request.field_set.address))
    return InferredDependencies(sorted({t.address for _, t in references.named}))


def rules():
    return [*collect_rules(), UnionRule(InferDependenciesRequest, InferReferencedDependencies)]
