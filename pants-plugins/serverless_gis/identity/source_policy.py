"""The source policy every shipped native component meets, checked when its target is parsed.

(a) `debian`: a Debian stable source package at its security revision with Debian's patch series
    applied (`debian` + `debian_source`); Debian's security team fixes it while the release is
    supported. (b) `upstream`: an upstream release in a series upstream still fixes (`series`,
    `fixed_until`). Anything else is an `exception` with a reason, what would meet the policy and an
    expiry, so it is reviewed again rather than forgotten. A source archive kept in the repository is
    first-party code (its owners fix it); a `runtime_provided` library does not ship.
"""

from __future__ import annotations

import datetime
import re

from pants.engine.addresses import Address
from pants.engine.target import DictStringToStringField, InvalidFieldException
from pants.util.strutil import help_text

# Debian's security support per release, then LTS (https://www.debian.org/security/faq,
# https://wiki.debian.org/LTS): the last day the release's packages get security fixes.
DEBIAN_SECURITY_UNTIL = {"12": "2028-06-30", "13": "2030-06-30"}

KEYS = {
    "debian": ("policy",),
    "upstream": ("policy", "series", "fixed_until"),
    "exception": ("policy", "reason", "wanted", "expires"),
}
DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _invalid(address: Address, problem: str, fix: str) -> InvalidFieldException:
    return InvalidFieldException(f"{address}: `source_policy` {problem}. Fix: {fix}.")


class NativeSourcePolicyField(DictStringToStringField):
    alias = "source_policy"
    help = help_text(
        """
        Why this component's source is one a security team accepts: `{"policy": "debian"}` (source
        policy (a): needs `debian` and `debian_source`), `{"policy": "upstream", "series": "3.13",
        "fixed_until": "2027-05-31"}` (policy (b): `version` is in `series`, which upstream fixes
        until that day), or `{"policy": "exception", "reason": ..., "wanted": ..., "expires":
        "YYYY-MM-DD"}` for a component that meets neither yet (what blocks it, what would meet the
        policy). A past `fixed_until` or `expires` fails every command that parses the target.
        Not needed for a source archive kept in the repository or a `runtime_provided` library.
        """
    )

    @classmethod
    def compute_value(cls, raw_value, address: Address):
        value = super().compute_value(raw_value, address)
        if value is None:
            return None
        policy = value.get("policy")
        if policy not in KEYS:
            raise _invalid(address, f"`policy` {policy!r} is not one of {', '.join(KEYS)}", 'write `{"policy": "debian"}`, `{"policy": "upstream", ...}` or `{"policy": "exception", ...}`')
        missing = [k for k in KEYS[policy] if not value.get(k, "").strip()]
        unknown = sorted(set(value) - set(KEYS[policy]))
        if missing or unknown:
            raise _invalid(address, f"with policy {policy!r} must have exactly the keys {', '.join(KEYS[policy])} (missing: {', '.join(missing) or 'none'}; unknown: {', '.join(unknown) or 'none'})", "see `./pants help native_library`")
        for key in ("fixed_until", "expires"):
            if key in value and not DATE.fullmatch(value[key]):
                raise _invalid(address, f"`{key}` {value[key]!r} is not a date", "write YYYY-MM-DD")
        return value


def source_policy_error(
    address: Address,
    policy: dict | None,
    *,
    version: str | None,
    downloaded: bool,
    runtime_provided: bool,
    debian: dict | None,
    debian_source_name: str | None,
    upstream: dict | None,
    today: datetime.date,
) -> str | None:
    """Why the component fails the source policy on `today`, or None."""
    if policy is None:
        if not downloaded or runtime_provided:
            return None
        return (
            f"{address} has no `source_policy`: a shipped native built from a downloaded source must be "
            "(a) a Debian stable source package at its security revision with Debian's patches applied, or "
            "(b) an upstream release in a series upstream still fixes. Fix: set `source_policy` (see `./pants "
            'help native_library`), e.g. `source_policy={"policy": "debian"}` with `debian` and `debian_source`.'
        )
    kind = policy["policy"]
    if kind == "debian":
        if not debian or not debian_source_name:
            return (
                f"{address} claims source policy (a) (Debian) without {'`debian`' if not debian else '`debian_source`'}. "
                "Fix: name the source package in `debian` and its `.debian.tar.*` in `debian_source`, whose patch series the build applies."
            )
        upstream_version = debian["version"].split(":", 1)[-1]
        if not re.fullmatch(rf"{re.escape(debian['source'])}_{re.escape(upstream_version)}\.debian\.tar\.(xz|gz|bz2)", debian_source_name):
            return (
                f"{address}: `debian_source` {debian_source_name!r} is not the `.debian.tar.*` of {debian['source']} "
                f"{debian['version']} (`debian`). Fix: point both at the same Debian revision."
            )
        until = DEBIAN_SECURITY_UNTIL.get(debian["release"])
        if until is None or today.isoformat() > until:
            return (
                f"{address}: Debian {debian['release']} "
                + (f"lost security support on {until}" if until else "is not a release this policy knows to have security support")
                + f" (known: {', '.join(f'{r} until {d}' for r, d in sorted(DEBIAN_SECURITY_UNTIL.items()))}). "
                "Fix: move the component to a supported release's package."
            )
        return None
    if kind == "upstream":
        if not upstream:
            return f"{address} claims source policy (b) (upstream) without `upstream`. Fix: record the upstream repository and release tag in `upstream`."
        if not version or not (version == policy["series"] or version.startswith(policy["series"] + ".")):
            return f"{address}: `version` {version!r} is not in the series {policy['series']!r} its `source_policy` names. Fix: name the series the version belongs to."
        if today.isoformat() > policy["fixed_until"]:
            return (
                f"{address}: upstream's fixes for the {policy['series']} series ended on {policy['fixed_until']} (`source_policy`). "
                "Fix: move to a release of a series upstream still fixes, or to a Debian security-supported package."
            )
        return None
    if today.isoformat() > policy["expires"]:
        return (
            f"{address}: its source-policy exception expired on {policy['expires']} ({policy['reason']}). "
            f"Fix: meet the policy ({policy['wanted']}), or review the exception and set a new `expires`."
        )
    return None
