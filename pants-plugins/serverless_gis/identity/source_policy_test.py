"""The source policy, checked when a `native_library` is parsed: a component that meets (a) or (b), or
carries a live exception, parses; one that meets neither, or whose date has passed, fails naming the
target, the policy and the fix."""

from __future__ import annotations

import datetime

import pytest

from pants.core.target_types import http_source
from pants.engine.addresses import Address
from pants.engine.internals.scheduler import ExecutionError
from pants.testutil.rule_runner import RuleRunner
from serverless_gis.identity import rules as identity_rules
from serverless_gis.native.target_types import NativeLibraryTarget, ToolchainImageTarget

TODAY = datetime.date.today()
PAST = (TODAY - datetime.timedelta(days=1)).isoformat()
FUTURE = (TODAY + datetime.timedelta(days=90)).isoformat()
DOWNLOADED = 'source=http_source("http://deb.debian.org/debian/pool/main/t/tiff/tiff_4.7.0.orig.tar.bz2", len=1, sha256="' + "0" * 64 + '")'
DEBIAN = 'debian={"source": "tiff", "version": "4.7.0-3+deb13u3", "release": "13"}'
DEBIAN_SOURCE = (
    'debian_source=http_source("http://deb.debian.org/debian-security/pool/updates/main/t/tiff/tiff_4.7.0-3+deb13u3.debian.tar.xz", '
    'len=1, sha256="' + "0" * 64 + '")'
)
UPSTREAM = 'upstream={"repo": "https://gitlab.com/libtiff/libtiff", "tag": "v4.7.0"}'


@pytest.fixture
def rule_runner() -> RuleRunner:
    runner = RuleRunner(
        rules=identity_rules.rules(),
        target_types=[NativeLibraryTarget, ToolchainImageTarget],
        objects={"http_source": http_source},
    )
    runner.write_files({"tc/BUILD": 'toolchain_image(name="tc", lockfile="tc.lock")\n'})
    return runner


def parse(rule_runner: RuleRunner, *fields: str):
    rule_runner.write_files(
        {"native/BUILD": 'native_library(name="lib", toolchain="//tc:tc", version="4.7.0", ' + ", ".join(fields) + ")\n"}
    )
    return rule_runner.get_target(Address("native", target_name="lib"))


@pytest.mark.parametrize(
    "fields",
    [
        # (a): the Debian package, its .debian.tar.* and a supported release
        (DOWNLOADED, DEBIAN, DEBIAN_SOURCE, 'source_policy={"policy": "debian"}'),
        # (b): a series upstream still fixes
        (DOWNLOADED, UPSTREAM, f'source_policy={{"policy": "upstream", "series": "4.7", "fixed_until": "{FUTURE}"}}'),
        # a live exception
        (DOWNLOADED, f'source_policy={{"policy": "exception", "reason": "404 here", "wanted": "4.7.0-3+deb13u3", "expires": "{FUTURE}"}}'),
        # first-party source kept in the repository; a library the runtime provides
        ('source="lib.tar.gz"',),
        (DOWNLOADED, "runtime_provided=True"),
    ],
)
def test_components_that_meet_the_policy_parse(rule_runner: RuleRunner, fields: tuple[str, ...]) -> None:
    parse(rule_runner, *fields)


@pytest.mark.parametrize(
    "fields, message",
    [
        ((DOWNLOADED,), "native:lib has no `source_policy`: a shipped native built from a downloaded source must be (a)"),
        ((DOWNLOADED, DEBIAN, 'source_policy={"policy": "debian"}'), "native:lib claims source policy (a) (Debian) without `debian_source`"),
        (
            (DOWNLOADED, 'debian={"source": "tiff", "version": "4.7.0-3+deb13u2", "release": "13"}', DEBIAN_SOURCE, 'source_policy={"policy": "debian"}'),
            "`debian_source` 'tiff_4.7.0-3+deb13u3.debian.tar.xz' is not the `.debian.tar.*` of tiff 4.7.0-3+deb13u2",
        ),
        (
            (DOWNLOADED, 'debian={"source": "tiff", "version": "4.7.0-3+deb13u3", "release": "11"}', DEBIAN_SOURCE, 'source_policy={"policy": "debian"}'),
            "Debian 11 is not a release this policy knows to have security support",
        ),
        (
            (DOWNLOADED, UPSTREAM, f'source_policy={{"policy": "upstream", "series": "4.6", "fixed_until": "{FUTURE}"}}'),
            "native:lib: `version` '4.7.0' is not in the series '4.6'",
        ),
        (
            (DOWNLOADED, UPSTREAM, f'source_policy={{"policy": "upstream", "series": "4.7", "fixed_until": "{PAST}"}}'),
            f"native:lib: upstream's fixes for the 4.7 series ended on {PAST}",
        ),
        (
            (DOWNLOADED, f'source_policy={{"policy": "exception", "reason": "404 here", "wanted": "deb13u3", "expires": "{PAST}"}}'),
            f"native:lib: its source-policy exception expired on {PAST} (404 here). Fix: meet the policy (deb13u3)",
        ),
        ((DOWNLOADED, 'source_policy={"policy": "vendored"}'), "`source_policy` `policy` 'vendored' is not one of debian, upstream, exception"),
        ((DOWNLOADED, 'source_policy={"policy": "exception", "reason": "x"}'), "(missing: wanted, expires; unknown: none)"),
        ((DOWNLOADED, UPSTREAM, 'source_policy={"policy": "upstream", "series": "4.7", "fixed_until": "June"}'), "`fixed_until` 'June' is not a date"),
        (('source="lib.tar.gz"', DEBIAN_SOURCE), "native:lib: `debian_source` without `debian`"),
    ],
)
def test_a_component_outside_the_policy_fails_naming_it(rule_runner: RuleRunner, fields: tuple[str, ...], message: str) -> None:
    with pytest.raises(ExecutionError) as exc:
        parse(rule_runner, *fields)
    assert message in str(exc.value)
