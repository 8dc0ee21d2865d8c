"""Looking up the target a string field of another target names."""

from __future__ import annotations

from dataclasses import dataclass

from pants.engine.addresses import Address, UnparsedAddressInputs
from pants.engine.rules import Get
from pants.engine.target import Target, Targets


class WrongTargetTypeError(Exception):
    pass


@dataclass(frozen=True)
class FieldReference:
    """A target named by the field `field_alias` of `owner`; subclasses say what it must build."""

    spec: str
    owner: Address
    field_alias: str


async def target_named_by(spec: str, owner: Address, field_alias: str) -> Target:
    targets = await Get(
        Targets,
        UnparsedAddressInputs(
            [spec], owning_address=owner, description_of_origin=f"the `{field_alias}` field of {owner}"
        ),
    )
    return targets[0]


async def target_of_type(spec: str, owner: Address, field_alias: str, target_type: type[Target]) -> Target:
    """The target a field names, which must be of `target_type`; otherwise an error naming both."""
    tgt = await target_named_by(spec, owner, field_alias)
    if not isinstance(tgt, target_type):
        raise WrongTargetTypeError(
            f"{owner}: `{field_alias}` names {tgt.address}, a `{tgt.alias}`; it must be a "
            f"`{target_type.alias}`."
        )
    return tgt
