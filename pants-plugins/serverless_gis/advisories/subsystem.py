"""`[serverless-advisories]`: the OSV-compatible advisory service the `advisories` goal asks."""

from __future__ import annotations

from pants.option.option_types import BoolOption, IntOption, StrListOption, StrOption
from pants.option.subsystem import Subsystem
from pants.util.strutil import help_text


class AdvisoriesSubsystem(Subsystem):
    options_scope = "serverless-advisories"
    help = help_text(
        """
        The advisory check of `./pants advisories ::`: every component of the layers' and
        functions' SBOMs (by package URL) is looked up in an OSV-compatible service
        (`POST <url>/v1/querybatch`), afresh on every run.
        """
    )

    url = StrOption(
        default=None,
        help=help_text(
            """
            Base URL of the org's OSV-compatible advisory service, e.g. `https://osv.internal.example`
            (the goal posts to `<url>/v1/querybatch`). Unset (the default): the check is off.
            """
        ),
    )
    required = BoolOption(
        default=False,
        help=help_text(
            """
            Fail the goal when the service cannot be asked (unreachable, an HTTP error, an answer
            that is not OSV's) or the check is off. Otherwise these warn, saying plainly that
            nothing was checked. Advisories found always fail the goal.
            """
        ),
    )
    purl_types = StrListOption(
        default=["pypi"],
        help=help_text(
            """
            Package-URL types the service has advisories for; components of other types are listed
            as NOT checked. OSV.dev answers a type it does not index (such as the `pkg:generic` of
            `native_library` components) with no advisories, which would read as clean. Add
            `generic` when the org's service indexes native components by their `pkg:generic` purl.
            """
        ),
    )
    timeout_seconds = IntOption(default=30, advanced=True, help="Timeout of each request to the service (at least 1).")

    def validate(self) -> None:
        """Raises ValueError naming the option and the fix."""
        if self.url and not self.url.startswith(("http://", "https://")):
            raise ValueError(
                f"`[serverless-advisories].url` must be an http:// or https:// URL, got {self.url!r}."
            )
        if self.timeout_seconds < 1:
            raise ValueError(f"`[serverless-advisories].timeout_seconds` must be at least 1, got {self.timeout_seconds}.")
