"""`[serverless-advisories]`: the advisory services the `advisories` goal asks, the canaries that
decide whether their answers are trusted, and the reviewed VEX file."""

from __future__ import annotations

import re

from pants.option.option_types import BoolOption, DictOption, IntOption, StrListOption, StrOption
from pants.option.subsystem import Subsystem
from pants.util.strutil import help_text


# Versions with published advisories (from the advisories' own texts; not asked of the live services
# from this machine): PyYAML 5.3 (CVE-2020-14343), curl 7.88.1-10 (older than every trixie upload,
# below the fixed version of Debian 13's curl CVEs), the GDAL commit OSV-2021-1651 (OSS-Fuzz) was
# introduced in, GDAL 3.3.0 (CVE-2021-45943, the same PCIDSK overflow).
DEFAULT_CANARIES = {
    "pypi": "pkg:pypi/pyyaml@5.3",
    "debian": "pkg:deb/debian/curl@7.88.1-10?distro=debian-13",
    "commit": "3c7e9db1ab4d28306a8700e38d2f4c0e2fa46b82",
    "cpe": "cpe:2.3:a:osgeo:gdal:3.3.0",
}
CANARY_SHAPES = {
    "debian": (r"pkg:deb/debian/[a-z0-9][a-z0-9+.-]+@[^?\s]+\?(?:.*&)?distro=debian-[0-9]+(?:&.*)?", "pkg:deb/debian/curl@7.88.1-10?distro=debian-13"),
    "commit": (r"[0-9a-f]{40}", "a 40-hex commit"),
    "cpe": (r"cpe:2\.3:a:[^:\s]+:[^:\s]+:[^:\s]+", "cpe:2.3:a:osgeo:gdal:3.3.0"),
}


class AdvisoriesSubsystem(Subsystem):
    options_scope = "serverless-advisories"
    help = help_text(
        """
        The advisory check of `./pants advisories ::`: every component of the layers' and
        functions' SBOMs is looked up, afresh on every run, by what can match it: PyPI
        distributions by package URL and Debian-sourced natives by Debian ecosystem and version in
        an OSV-compatible service (`url`), upstream-sourced natives by commit there and by CPE in
        an NVD-compatible service (`cpe_url`). A source is trusted for a kind of component only
        when it lists an advisory for that kind's canary.
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
    cpe_url = StrOption(
        default=None,
        help=help_text(
            """
            Base URL of an NVD CVE API 2.0 service, e.g. `https://services.nvd.nist.gov` (the goal
            gets `<cpe_url>/rest/json/cves/2.0?virtualMatchString=cpe:2.3:a:VENDOR:PRODUCT:VERSION`):
            what natives built from an upstream release, and the libraries natives bundle, are
            asked by (their `cpe`). Unset: those are NOT checked.
            """
        ),
    )
    canaries = DictOption[str](
        default=dict(DEFAULT_CANARIES),
        help=help_text(
            """
            Per kind of component, a version known to be vulnerable that the source must list an
            advisory for before its answers about that kind are trusted; a kind without a canary,
            or whose canary gets no advisory, is NOT checked. Kinds: a package-URL type of
            `purl_types` (`pypi`: a purl), `debian` (`pkg:deb/debian/<source>@<version>?distro=debian-<N>`:
            trusts OSV's `Debian:<N>`; more releases: more keys starting with `debian`, e.g.
            `debian-12`), `commit` (a 40-hex commit OSV lists as affected), `cpe`
            (`cpe:2.3:a:<vendor>:<product>:<version>`).
            """
        ),
    )
    vex = StrOption(
        default=None,
        help=help_text(
            """
            A reviewed VEX file (path from the build root, e.g. `build-support/advisories/vex.json`)
            whose unexpired `not_affected` statements suppress findings; an expired statement fails
            the goal. Format: README, "Advisory gate".
            """
        ),
    )
    timeout_seconds = IntOption(default=30, advanced=True, help="Timeout of each request to the service (at least 1).")

    def validate(self) -> None:
        """Raises ValueError naming the option and the fix."""
        for name, value in (("url", self.url), ("cpe_url", self.cpe_url)):
            if value and not value.startswith(("http://", "https://")):
                raise ValueError(f"`[serverless-advisories].{name}` must be an http:// or https:// URL, got {value!r}.")
        for kind, canary in self.canaries.items():
            family = "debian" if kind.startswith("debian") else kind
            shape, example = CANARY_SHAPES.get(family, (rf"pkg:{re.escape(kind)}/[^@\s]+@\S+", f"pkg:{kind}/<name>@<vulnerable version>"))
            if family not in CANARY_SHAPES and kind not in self.purl_types:
                raise ValueError(
                    f"`[serverless-advisories].canaries` has kind {kind!r}, which is none of debian, commit, cpe "
                    f"or the `purl_types` ({', '.join(self.purl_types)}). Fix: remove it or add it to `purl_types`."
                )
            if not re.fullmatch(shape, canary):
                raise ValueError(f"`[serverless-advisories].canaries[{kind!r}]` is {canary!r}. Fix: write e.g. `{example}`.")
        if self.timeout_seconds < 1:
            raise ValueError(f"`[serverless-advisories].timeout_seconds` must be at least 1, got {self.timeout_seconds}.")
