"""Checks across the targets a target references, run when Pants resolves its dependencies
(before anything builds): toolchain images for the runtime's CPU, CPython of the runtime's Python."""

from __future__ import annotations

from pants.engine.addresses import Address
from pants.engine.rules import Get, MultiGet, collect_rules, rule
from pants.engine.target import (
    InvalidFieldException,
    Target,
    ValidateDependenciesRequest,
    ValidatedDependencies,
)
from pants.engine.unions import UnionRule
from pants.util.logging import LogLevel
from serverless_gis.native.target_types import CPythonVersionField, ToolchainArchField
from serverless_gis.references import (
    AllReferences,
    AllReferencesRequest,
    ReferencedTargets,
    ReferencesRequest,
    ReferencingFieldSet,
    RuntimeReferenceField,
)
from serverless_gis.runtime.target_types import RuntimeArchField, RuntimePythonVersionField

CHECKED = ("serverless_runtime", "serverless_function", "toolchain_image", "cpython_build")


class ValidateReferencedTargets(ValidateDependenciesRequest):
    field_set_type = ReferencingFieldSet


def _check(owner: Target, runtime: Target | None, alias: str, referenced: Target) -> None:
    if referenced.has_field(ToolchainArchField) and runtime is not None:
        arch, runtime_arch = referenced[ToolchainArchField].value, runtime[RuntimeArchField].value
        if arch != runtime_arch:
            raise InvalidFieldException(
                f"{owner.address}: `{alias}` names {referenced.address}, a toolchain image for "
                f"{arch}, but the runtime {runtime.address} is {runtime_arch}. Fix: use a "
                f"`toolchain_image` with `arch=\"{runtime_arch}\"`."
            )
    if referenced.has_field(CPythonVersionField) and runtime is not None:
        version = referenced[CPythonVersionField].major_minor
        wanted = runtime[RuntimePythonVersionField].major_minor
        if version != wanted:
            raise InvalidFieldException(
                f"{owner.address}: `{alias}` names {referenced.address}, CPython "
                f"{referenced[CPythonVersionField].value}, but the runtime {runtime.address} is "
                f"Python {wanted[0]}.{wanted[1]}. Fix: use a `cpython_build` of Python "
                f"{wanted[0]}.{wanted[1]}."
            )


def _unparametrized(address: Address) -> Address:
    return Address(address.spec_path, target_name=address.target_name)


async def _check_cpython_arch(owner: Target, runtime: Target, cpythons: list[tuple[str, Target]]) -> None:
    """A CPython runs on the CPU of the toolchain image that built it: one variant of each named
    target (parametrized by toolchain) must be built for the runtime's."""
    built_by = await MultiGet(Get(AllReferences, AllReferencesRequest(t.address)) for _, t in cpythons)
    runtime_arch = runtime[RuntimeArchField].value
    fits: dict[Address, list[str]] = {}
    for (alias, cpython), references in zip(cpythons, built_by):
        archs = [image[ToolchainArchField].value for _, image in references.named if image.has_field(ToolchainArchField)]
        fits.setdefault(_unparametrized(cpython.address), []).extend(archs)
    for (alias, cpython) in cpythons:
        archs = fits[_unparametrized(cpython.address)]
        if archs and runtime_arch not in archs:
            raise InvalidFieldException(
                f"{owner.address}: `{alias}` names {cpython.address}, a CPython built for "
                f"{', '.join(sorted(set(archs)))}, but the runtime {runtime.address} is {runtime_arch}. "
                f"Fix: use a `cpython_build` whose `toolchain` is an image with `arch=\"{runtime_arch}\"`."
            )


@rule(desc="Check referenced targets fit together", level=LogLevel.DEBUG)
async def validate_referenced_targets(request: ValidateReferencedTargets) -> ValidatedDependencies:
    references = await Get(AllReferences, AllReferencesRequest(request.field_set.address))
    owner = references.owner
    pairs = [(alias, t) for alias, t in references.named if t.alias in CHECKED]
    runtimes = [t for _, t in pairs if t.alias == "serverless_runtime"]
    # An invoke test runs on the runtime of the function it invokes.
    functions = [t for _, t in pairs if t.alias == "serverless_function" and t.has_field(RuntimeReferenceField)]
    if not runtimes and len(functions) == 1:
        function_runtime = await Get(
            ReferencedTargets,
            ReferencesRequest,
            ReferencesRequest.of(functions[0][RuntimeReferenceField], lenient=True),
        )
        runtimes = list(function_runtime.targets)
    runtime = runtimes[0] if len(runtimes) == 1 and runtimes[0].has_field(RuntimeArchField) else None
    for alias, referenced in pairs:
        _check(owner, runtime, alias, referenced)
    if runtime is not None:
        await _check_cpython_arch(owner, runtime, [(a, t) for a, t in pairs if t.has_field(CPythonVersionField)])
    if runtime is None:
        # Without a runtime (a native library), its build and smoke images must share one CPU.
        images = [(alias, t) for alias, t in pairs if t.has_field(ToolchainArchField)]
        if owner.has_field(ToolchainArchField):  # a toolchain and its run_image
            images.append(("arch", owner))
        archs = {t[ToolchainArchField].value for _, t in images}
        if len(archs) > 1:
            listed = ", ".join(f"`{alias}` {t.address} ({t[ToolchainArchField].value})" for alias, t in images)
            raise InvalidFieldException(
                f"{owner.address}: its toolchain images are for different CPUs: {listed}. Fix: use "
                "images of one `arch`."
            )
    return ValidatedDependencies()


def rules():
    return [*collect_rules(), UnionRule(ValidateDependenciesRequest, ValidateReferencedTargets)]
