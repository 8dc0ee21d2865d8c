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


def spdx_expression_error(expression: str) -> str | None:
    """What is wrong with the shape of an SPDX licence expression (ids joined by `AND`, `OR`,
    `WITH` an exception id, parentheses), or None. Whether each id is on the SPDX list is the
    licence gate's check."""
    tokens = re.findall(r"\(|\)|[^\s()]+", expression)
    if not tokens:
        return "it is empty"
    depth, expect_operand = 0, True
    for i, token in enumerate(tokens):
        if token == "(":
            if not expect_operand:
                return "`(` follows a licence id where `AND` or `OR` is needed"
            depth += 1
        elif token == ")":
            if expect_operand or depth == 0:
                return "a `)` closes nothing or follows an operator"
            depth -= 1
        elif token in ("AND", "OR"):
            if expect_operand:
                return f"`{token}` needs a licence id on each side"
            expect_operand = True
        elif token == "WITH":
            if expect_operand or i + 1 == len(tokens) or not SPDX_ID.fullmatch(tokens[i + 1]):
                return "`WITH` needs a licence id before it and an exception id after it"
        elif token.lower() in ("and", "or", "with"):
            return f"operators are upper case: `{token.upper()}`, not `{token}`"
        elif not SPDX_ID.fullmatch(token):
            return f"`{token}` is not an SPDX licence id"
        elif i and tokens[i - 1] == "WITH":
            continue
        elif not expect_operand:
            return f"`{token}` follows a licence id where `AND` or `OR` is needed"
        else:
            expect_operand = False
    if expect_operand or depth:
        return "it ends with an operator or an unclosed `(`"
    return None


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
