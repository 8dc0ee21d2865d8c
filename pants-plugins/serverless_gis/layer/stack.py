"""Layers extracted into one /opt, and a package (layer or function) checked against them:
what they provide, who ships what twice, which versions disagree, which imports nothing provides."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from pants.engine.addresses import Address
from serverless_gis.artifact import ZipArtifact
from serverless_gis.python_lock import LockedProject, accepts, closure

if TYPE_CHECKING:
    from serverless_gis.layer.rules import BuiltLayer


class LayerStackError(Exception):
    pass


def mount_order(layers: Iterable[BuiltLayer]) -> tuple[BuiltLayer, ...]:
    """Each layer preceded by the layers it is stacked on, each layer once."""
    ordered: dict[Address, BuiltLayer] = {}
    for layer in layers:
        for member in (*layer.stack, layer):
            ordered.setdefault(member.address, member)
    return tuple(ordered.values())


def _base_address(address: Address) -> str:
    """How a BUILD file names the target, whatever variant: `//layers/geo`, `//layers:geo`."""
    name = "" if address.target_name == os.path.basename(address.spec_path) else f":{address.target_name}"
    return f"//{address.spec_path}{name}"


def _paths(artifact: ZipArtifact, key: str) -> str:
    return ", ".join(artifact.distribution_paths.get(key, ())) or "?"


@dataclass(frozen=True)
class Provided:
    version: str
    layer: BuiltLayer


def provided_distributions(owner: Address, layers: tuple[BuiltLayer, ...]) -> dict[str, Provided]:
    """Each distribution the layers ship, by canonical name; two layers shipping one fail."""
    provided: dict[str, Provided] = {}
    for layer in layers:
        for name, version in layer.artifact.distributions.items():
            key = canonicalize_name(name)
            other = provided.get(key)
            if other is not None:
                raise LayerStackError(
                    f"{owner}: its layers {other.layer.address} and {layer.address} both ship the "
                    f"distribution `{name}` ({other.version} in {_paths(other.layer.artifact, key)}; "
                    f"{version} in {_paths(layer.artifact, key)}). Fix: stack one layer on the other "
                    f"(`base_layers=[\"{_base_address(other.layer.address)}\"]` on {_base_address(layer.address)}; it "
                    f"then leaves `{name}` out), or move `{name}` to a layer both are stacked on."
                )
            provided[key] = Provided(version, layer)
    return provided


def check_requirements(
    owner: Address,
    requirement_strings: Iterable[tuple[Address, str]],
    provided: dict[str, Provided],
    locked: dict[str, LockedProject],
    lockfile: str,
) -> None:
    """The owner's requirements, and what they pull in through its lockfile, must accept the
    versions its layers provide."""
    requirements = []
    for origin, req_string in requirement_strings:
        try:
            requirements.append((origin, req_string, Requirement(req_string)))
        except InvalidRequirement:
            continue
    for origin, req_string, req in requirements:
        found = provided.get(canonicalize_name(req.name))
        if found and not accepts(req, found.version):
            raise LayerStackError(
                f"{owner}: version conflict on `{req.name}`: it requires `{req_string}` (from "
                f"{origin}), but its layer {found.layer.address} provides {req.name} "
                f"{found.version}. Fix: align the pin with the layer's version, or drop the layer."
            )
    for key in sorted(closure(locked, (str(req) for _, _, req in requirements))):
        found = provided.get(key)
        if found and locked[key].version != found.version:
            raise LayerStackError(
                f"{owner}: version conflict on `{key}`: its lockfile {lockfile} pins "
                f"{locked[key].version}, but its layer {found.layer.address} (resolve "
                f"`{found.layer.resolve}`) provides {found.version}. Fix: lock both resolves to "
                "the same version (`./pants generate-lockfiles`), or drop the layer."
            )


def check_shared_files(owner: Address, layers: tuple[BuiltLayer, ...], own: ZipArtifact | None = None) -> None:
    """Native libraries, PROJ databases and large files must ship once in the function's /opt and
    task root: a second copy wastes space and leaves which one loads to the search order."""
    seen: dict[str, tuple[str, tuple[str, ...]]] = {}
    for layer in layers:
        for name, paths in layer.artifact.shared_files.items():
            if name in seen:
                where, other_paths = seen[name]
                raise LayerStackError(
                    f"{owner}: its layers {where} and {layer.address} both ship `{name}` "
                    f"({', '.join(other_paths)}; {', '.join(paths)}). Fix: keep native libraries "
                    "and data in one layer (build the other layer's bindings against it with "
                    "`bindings=`, or stack it with `base_layers=`), or drop one of the layers."
                )
            seen[name] = (str(layer.address), paths)
    if own is None:
        return
    for name, paths in own.shared_files.items():
        if name in seen:
            where, other_paths = seen[name]
            raise LayerStackError(
                f"{owner}: its zip ships `{name}` ({', '.join(paths)}), which its layer {where} "
                f"ships too ({', '.join(other_paths)}). Fix: take the package that bundles it from "
                "the layer (a layer built with the same native libraries), or drop the requirement "
                "that brings the second copy."
            )


def check_imports(
    owner: Address,
    runtime_description: str,
    imports: Iterable[tuple[str, str]],
    own: ZipArtifact,
    layers: tuple[BuiltLayer, ...],
) -> None:
    """Every module the code imports (not inside `try`) must come from the zip, a layer or the
    runtime's standard library: otherwise the function fails at its first invocation."""
    available = {*own.modules, *own.stdlib, *(m for layer in layers for m in layer.artifact.modules)}
    for source, module in imports:
        top = module.split(".", 1)[0]
        if top and top not in available:
            layer_list = ", ".join(str(layer.address) for layer in layers) or "none"
            raise LayerStackError(
                f"{owner}: {source} imports `{module}`, but neither the function's zip nor its "
                f"layers ({layer_list}) provide `{top}` on {runtime_description}. Fix: add a "
                f"requirement that provides `{top}` for this runtime (check its environment "
                "markers), list a layer that ships it, or drop this runtime from the function's "
                "`runtime=parametrize(...)`."
            )
