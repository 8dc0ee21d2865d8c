"""The advisory gate against a real advisory service on 127.0.0.1 (`osv_server.py`: OSV's batch API
and NVD's CVE API over a fixture database), on a layer whose SBOM holds a PyPI distribution, a
Debian-sourced native, an upstream-sourced native (commit + CPE) and two libraries it bundles:
findings by each kind; a source that is down, a kind whose canary gets no advisory and a kind
without a canary reported as NOT checked (never clean) and failing `required`; reviewed VEX
statements suppressing, an expired one failing; nothing reused from an earlier run."""

from __future__ import annotations

import datetime
import io
import json
from pathlib import Path

import pytest

from pants.engine.console import Console
from pants.engine.internals.scheduler import ExecutionError
from pants.testutil.rule_runner import QueryRule, RuleRunner
from serverless_gis.advisories.rules import AdvisoryCheckRequest, AdvisoryReport, conclude
from serverless_gis.advisories.testutil import CANARY_NVD, CANARY_RECORDS, PLANTED, nvd_item, osv_record, osv_server
from serverless_gis.sbom.rules import Sbom
from serverless_gis.sbom.testutil import IDENTITY, TINYB_COMMIT, layer_sbom, sbom_rule_runner
from serverless_gis.testutil import set_tool_options

TINYA_DEBIAN = osv_record(
    "DEBIAN-CVE-2026-0101",
    {
        "package": {"ecosystem": "Debian:13", "name": "tinya"},
        # Fixed in the next security upload: the layer's 1.2.3-1+deb13u1 is affected.
        "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1.2.3-1+deb13u2"}]}],
    },
)
TINYB_COMMIT_RECORD = osv_record(
    "OSV-2026-0202",
    {
        "package": {"ecosystem": "OSS-Fuzz", "name": "tinyb"},
        "ranges": [{"type": "GIT", "repo": "https://example.org/tinyb", "events": [{"introduced": TINYB_COMMIT}]}],
    },
)
# Two CVEs for tinyb, served one per page: both pages are read.
TINYB_NVD = (
    nvd_item("CVE-2026-0303", "cpe:2.3:a:tiny:tinyb:*:*:*:*:*:*:*:*", versionEndExcluding="2.0.1"),
    nvd_item("CVE-2026-0304", "cpe:2.3:a:tiny:tinyb:*:*:*:*:*:*:*:*", versionStartIncluding="1.0", versionEndIncluding="2.0.0"),
    nvd_item("CVE-2026-0399", "cpe:2.3:a:tiny:tinyb:*:*:*:*:*:*:*:*", versionEndExcluding="2.0.0"),  # fixed in 2.0.0
)
MINIJSON_NVD = nvd_item("CVE-2026-0404", "cpe:2.3:a:nlohmann:json:3.11.3:*:*:*:*:*:*:*")
RECORDS = (*CANARY_RECORDS, PLANTED, TINYA_DEBIAN, TINYB_COMMIT_RECORD)
NVD = (*CANARY_NVD, *TINYB_NVD, MINIJSON_NVD)

FOUND = {
    "six": ["OSV-TEST-2026-0042"],
    "tinya": ["DEBIAN-CVE-2026-0101"],
    "tinyb": ["CVE-2026-0303", "CVE-2026-0304", "OSV-2026-0202"],
    "tinyb/minijson": ["CVE-2026-0404"],
}


@pytest.fixture(scope="module")
def layer() -> tuple[RuleRunner, Sbom]:
    runner = sbom_rule_runner(QueryRule(AdvisoryReport, [AdvisoryCheckRequest]), identity=IDENTITY)
    _, sbom = layer_sbom(runner)
    return runner, sbom


def check(layer: tuple[RuleRunner, Sbom], url: str, *options: str, cpe_url: str | None = None) -> AdvisoryReport:
    runner, sbom = layer
    # A new session, as a new `./pants advisories` run is.
    set_tool_options(
        runner,
        "--python-resolves={'x86_64': 'x86_64.lock'}",
        f"--serverless-advisories-url={url}",
        *([f"--serverless-advisories-cpe-url={cpe_url}"] if cpe_url else []),
        *options,
    )
    return runner.request(AdvisoryReport, [AdvisoryCheckRequest(sbom.digest, (sbom.path,))])


def verdict(report: AdvisoryReport, required: bool = True, vex_path: str | None = None) -> tuple[int, str]:
    err = io.StringIO()
    code = conclude(Console(stdout=io.StringIO(), stderr=err, use_colors=False), report, required=required, vex_path=vex_path, sboms=1)
    return code, err.getvalue()


def findings(report: AdvisoryReport) -> dict[str, list[str]]:
    return {f["component"]: f["advisories"] for f in report.artifacts[0]["findings"]}


def unchecked(report: AdvisoryReport) -> dict[str, str]:
    return {u["component"]: u["reason"] for u in report.artifacts[0]["unchecked"]}


def test_each_component_is_asked_by_what_can_match_it(layer, tmp_path: Path) -> None:
    with osv_server(tmp_path, RECORDS, NVD, nvd_max_page=1) as url:
        report = check(layer, url, cpe_url=url)
    assert report.error is None
    [artifact] = report.artifacts
    assert (artifact["artifact"], artifact["target"]) == ("geo-x86_64", "layers:geo")
    assert findings(report) == FOUND
    via = {f["component"]: f["via"] for f in artifact["findings"]}
    assert via == {
        "six": "pkg:pypi/six@1.17.0",
        "tinya": "Debian:13 tinya 1.2.3-1+deb13u1",  # by Debian's version only: no CPE, no commit
        "tinyb": f"commit {TINYB_COMMIT}, cpe:2.3:a:tiny:tinyb:2.0.0",
        "tinyb/minijson": "cpe:2.3:a:nlohmann:json:3.11.3",
    }
    # six and geo (PyPI), tinya, tinyb, minijson, and libcsf through tinyb; nothing unchecked.
    assert artifact["unchecked"] == [] and artifact["checked"] == 6 and artifact["via_parent"] == ["tinyb/libcsf"]
    assert {k: (s["trusted"], s["asked"]) for k, s in report.sources.items()} == {
        "pypi": (True, 2), "Debian:13": (True, 1), "commit": (True, 1), "cpe": (True, 2)
    }

    code, out = verdict(report)
    assert code == 1
    assert "tinya 1.2.3 (Debian:13 tinya 1.2.3-1+deb13u1): DEBIAN-CVE-2026-0101" in out
    assert "tinyb/minijson 3.11.3 (cpe:2.3:a:nlohmann:json:3.11.3): CVE-2026-0404" in out
    assert "NOT" not in out


def test_a_source_that_cannot_be_asked_leaves_its_components_not_checked(layer, tmp_path: Path) -> None:
    with osv_server(tmp_path / "cpe", RECORDS, NVD) as cpe_url:
        with osv_server(tmp_path / "osv", RECORDS) as url:
            first = check(layer, url, cpe_url=cpe_url)
        assert first.error is None and first.artifacts[0]["unchecked"] == []
        # The same question once the OSV service stopped: asked again, not answered from the earlier run.
        stopped = check(layer, url, cpe_url=cpe_url)
        broken = check(layer, f"{cpe_url}/not-osv", cpe_url=cpe_url)

    assert stopped.error is not None and f"{url}/v1/querybatch could not be reached" in stopped.error
    assert "Connection refused" in stopped.error
    reasons = unchecked(stopped)
    assert sorted(reasons) == ["geo", "six", "tinya", "tinyb", "tinyb/libcsf"]
    assert reasons["tinya"].startswith(f"Debian:13: {url}/v1/querybatch could not be reached")
    assert reasons["tinyb"].startswith(f"commit: {url}/v1/querybatch could not be reached")
    assert reasons["tinyb/libcsf"] == "covered by tinyb, which was NOT checked"
    # The CPE service still answered: what only it is asked about is checked, and its findings stand.
    assert stopped.artifacts[0]["checked"] == 1 and findings(stopped) == {"tinyb": FOUND["tinyb"][:2], "tinyb/minijson": FOUND["tinyb/minijson"]}

    code, out = verdict(stopped)
    assert code == 1 and "no advisories" not in out
    assert f"NOT checked: geo (pypi: {url}/v1/querybatch could not be reached" in out
    assert "5 components of 1 SBOMs were NOT checked" in out and "Fix:" in out
    code, out = verdict(stopped, required=False)
    assert code == 1  # the findings still fail; the NOT checked ones only warn
    assert "WARNING:" in out

    assert broken.error == f"{cpe_url}/not-osv/v1/querybatch answered HTTP 404 Not Found"
    assert sorted(unchecked(broken)) == ["geo", "six", "tinya", "tinyb", "tinyb/libcsf"]


def test_a_kind_whose_canary_gets_no_advisory_is_not_trusted(layer, tmp_path: Path) -> None:
    # The service knows tinya's advisory but not the Debian canary's: it cannot be shown to cover
    # Debian, so tinya is NOT checked (its finding is still reported).
    without_debian_canary = tuple(r for r in RECORDS if r["id"] != "DEBIAN-CVE-2023-38545")
    with osv_server(tmp_path, without_debian_canary, NVD) as url:
        report = check(layer, url, cpe_url=url)
    assert report.error is None
    assert unchecked(report) == {
        "tinya": "Debian:13: the canary Debian:13 curl 7.88.1-10 (known vulnerable) got no advisory: this source does not cover Debian:13"
    }
    assert report.sources["Debian:13"]["trusted"] is False and report.sources["pypi"]["trusted"] is True
    assert findings(report)["tinya"] == FOUND["tinya"]
    code, out = verdict(report)
    assert code == 1 and "Debian:13 is NOT trusted: the canary Debian:13 curl 7.88.1-10" in out


def test_a_kind_without_a_canary_or_a_source_is_not_checked(layer, tmp_path: Path) -> None:
    no_cpe_canary = (
        "--serverless-advisories-canaries={'pypi': 'pkg:pypi/pyyaml@5.3', "
        "'debian': 'pkg:deb/debian/curl@7.88.1-10?distro=debian-13', 'commit': '3c7e9db1ab4d28306a8700e38d2f4c0e2fa46b82'}"
    )
    with osv_server(tmp_path, RECORDS, NVD) as url:
        missing_canary = check(layer, url, no_cpe_canary, cpe_url=url)
        no_cpe_source = check(layer, url)
    reasons = unchecked(missing_canary)
    assert sorted(reasons) == ["tinyb", "tinyb/libcsf", "tinyb/minijson"]
    assert reasons["tinyb/minijson"] == (
        "cpe: no canary is configured for cpe (`[serverless-advisories].canaries`), so its answers cannot be trusted"
    )
    reasons = unchecked(no_cpe_source)
    assert reasons["tinyb"] == "cpe: no CPE source is configured (`[serverless-advisories].cpe_url`)"
    assert no_cpe_source.error is None and "tinya" not in reasons
    code, out = verdict(no_cpe_source, required=True)
    assert code == 1 and "NOT checked: tinyb (cpe: no CPE source is configured" in out


def vex_statement(component: str, advisory: str, expires: datetime.date, **more: str) -> dict:
    return {
        "component": component,
        "advisory": advisory,
        "status": "not_affected",
        "justification": "code_not_present",
        "reason": f"the code {advisory} names is not compiled into {component} here",
        "reviewer": "Test Reviewer <reviewer@example.org>",
        "expires": expires.isoformat(),
        **more,
    }


def write_vex(layer, name: str, statements: list[dict]) -> str:
    runner, _ = layer
    runner.write_files({name: json.dumps({"statements": statements})})
    return name


def test_reviewed_vex_statements_suppress_findings(layer, tmp_path: Path) -> None:
    today = datetime.date.today()
    statements = [
        vex_statement(component, advisory, today + datetime.timedelta(days=30))
        for component, ids in FOUND.items()
        for advisory in ids
        if advisory != "CVE-2026-0304"
    ]
    # Valid through the day it names; and one for another version suppresses nothing.
    statements.append(vex_statement("tinyb", "CVE-2026-0304", today, version="2.0.0"))
    statements.append(vex_statement("six", "OSV-TEST-2026-0042", today + datetime.timedelta(days=30), version="1.16.0"))
    path = write_vex(layer, "vex-reviewed.json", statements)
    with osv_server(tmp_path, RECORDS, NVD) as url:
        report = check(layer, url, f"--serverless-advisories-vex={path}", cpe_url=url)
    assert report.findings == 0 and report.expired == () and report.unchecked == 0
    suppressed = {f["component"]: f["advisories"] for f in report.artifacts[0]["suppressed"]}
    assert suppressed == FOUND
    code, out = verdict(report, vex_path=path)
    assert code == 0, out
    assert "tinya 1.2.3: DEBIAN-CVE-2026-0101 suppressed (code_not_present) by VEX statement 1 (tinya, DEBIAN-CVE-2026-0101;" in out


def test_an_expired_vex_statement_fails_and_suppresses_nothing(layer, tmp_path: Path) -> None:
    yesterday = datetime.date.today() - datetime.timedelta(days=1)
    path = write_vex(layer, "vex-expired.json", [vex_statement("tinya", "DEBIAN-CVE-2026-0101", yesterday)])
    with osv_server(tmp_path, RECORDS, NVD) as url:
        report = check(layer, url, f"--serverless-advisories-vex={path}", cpe_url=url)
    described = f"statement 0 (tinya, DEBIAN-CVE-2026-0101; reviewer Test Reviewer <reviewer@example.org>, expires {yesterday})"
    assert report.expired == (described,)
    assert findings(report)["tinya"] == FOUND["tinya"]
    code, out = verdict(report, vex_path=path)
    assert code == 1
    assert f"Expired VEX statements in {path} (they suppress nothing): {described}. Fix: review each again" in out


def test_a_vex_statement_without_a_real_justification_is_refused(layer, tmp_path: Path) -> None:
    later = datetime.date.today() + datetime.timedelta(days=30)
    path = write_vex(layer, "vex-bad.json", [vex_statement("tinya", "DEBIAN-CVE-2026-0101", later, justification="trust me")])
    with osv_server(tmp_path, RECORDS, NVD) as url:
        with pytest.raises(ExecutionError, match=r"vex-bad.json: statement 0 \(tinya, DEBIAN-CVE-2026-0101\) has justification 'trust me'. Fix: one of code_not_present"):
            check(layer, url, f"--serverless-advisories-vex={path}", cpe_url=url)


def test_options_are_checked_naming_the_option(layer) -> None:
    with pytest.raises(ExecutionError, match=r"`\[serverless-advisories\].url` must be an http:// or https:// URL, got 'osv.example'"):
        check(layer, "osv.example")
    with pytest.raises(ExecutionError, match=r"`\[serverless-advisories\].canaries\['commit'\]` is 'v3.3.0'. Fix: write e.g. `a 40-hex commit`"):
        check(layer, "http://127.0.0.1:9", "--serverless-advisories-canaries=+{'commit': 'v3.3.0'}")
