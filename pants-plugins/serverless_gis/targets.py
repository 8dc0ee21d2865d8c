"""Looking up the target a string field of another target names."""

from __future__ import annotations

from pants.engine.addresses import Address, UnparsedAddressInputs
from pants.engine.rules import Get
from pants.engine.target import Target, Targets


async def target_named_by(spec: str, owner: Address, field_alias: str) -> Target:
    targets = await Get(
        Targets,
        UnparsedAddressInputs(
            [spec], owning_address=owner, description_of_origin=f"the `{field_alias}` field of {owner}"
        ),
    )
    return targets[0]
