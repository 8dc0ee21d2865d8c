"""The `allowed_licenses` field: a layer's explicit opt-in to licences the repository's allow-list
does not hold."""

from __future__ import annotations

import re
from typing import Iterable, Optional

from pants.engine.addresses import Address
from pants.engine.target import InvalidFieldException, StringSequenceField
from pants.util.strutil import help_text

# An SPDX licence id (`GPL-2.0-or-later`, `LicenseRef-acme`), optionally `WITH` one exception id.
SPDX_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9.+-]*(?: WITH [A-Za-z0-9][A-Za-z0-9.+-]*)?")


class LayerAllowedLicensesField(StringSequenceField):
    alias = "allowed_licenses"
    default = ()
    help = help_text(
        """
        Licences this layer may ship beyond `[serverless-licenses].allowed`, as SPDX ids, e.g.
        `["GPL-2.0-or-later"]`: an explicit opt-in for a component whose licence the repository
        does not allow everywhere. Names of licences the SPDX list does not know fail the build.
        """
    )

    @classmethod
    def compute_value(cls, raw_value: Optional[Iterable[str]], address: Address) -> Optional[tuple[str, ...]]:
        value = super().compute_value(raw_value, address)
        for entry in value or ():
            if not SPDX_ID.fullmatch(entry):
                raise InvalidFieldException(
                    f"{address}: `allowed_licenses` entry `{entry}` is not an SPDX licence id. Fix: "
                    "list one id per entry as https://spdx.org/licenses/ spells it (e.g. "
                    "`GPL-2.0-or-later`, or `GPL-2.0-or-later WITH Classpath-exception-2.0` for one "
                    "exception); `AND`/`OR` expressions belong in a native_library's `license`."
                )
        return value
