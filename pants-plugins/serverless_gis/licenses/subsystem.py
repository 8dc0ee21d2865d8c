"""`[serverless-licenses]`: the licences every layer may ship."""

from __future__ import annotations

from pants.option.option_types import StrListOption
from pants.option.subsystem import Subsystem
from pants.util.strutil import help_text


class LicensesSubsystem(Subsystem):
    options_scope = "serverless-licenses"
    help = help_text(
        """
        The licence gate: every `native_library` a layer ships (its `natives`, its bindings'
        natives and all they depend on) must declare `license`, an SPDX expression the allow-list
        permits (`A AND B` needs both, `A OR B` one of them, `L WITH exception` needs `L` or the
        whole `L WITH exception`). A layer adds licences for itself with `allowed_licenses`.
        """
    )

    allowed = StrListOption(
        default=[],
        help=help_text(
            """
            SPDX licence ids every layer may ship, e.g. `["Apache-2.0", "MIT",
            "LGPL-2.1-or-later"]` (or `L WITH exception` for one exception only). Empty by default:
            a repository says which licences it accepts.
            """
        ),
    )
