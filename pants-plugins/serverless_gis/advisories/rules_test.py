"""The advisory check against a real OSV-compatible HTTP server on 127.0.0.1 (`osv_server.py`): a
planted advisory is found naming the component, version and id; a stopped server or an HTTP error
is reported as "not checked", never as "no advisories"; nothing is reused from an earlier run."""

from __future__ import annotations

from pathlib import Path

import pytest

from pants.engine.internals.scheduler import ExecutionError
from pants.testutil.rule_runner import QueryRule, RuleRunner
from serverless_gis.advisories.rules import AdvisoryCheckRequest, AdvisoryReport
from serverless_gis.advisories.testutil import PLANTED, osv_server
from serverless_gis.sbom.rules import Sbom
from serverless_gis.sbom.testutil import layer_sbom, sbom_rule_runner
from serverless_gis.testutil import set_tool_options


@pytest.fixture(scope="module")
def layer() -> tuple[RuleRunner, Sbom]:
    runner = sbom_rule_runner(QueryRule(AdvisoryReport, [AdvisoryCheckRequest]))
    _, sbom = layer_sbom(runner)
    return runner, sbom


def check(layer: tuple[RuleRunner, Sbom], url: str, *options: str) -> AdvisoryReport:
    runner, sbom = layer
    # A new session, as a new `./pants advisories` run is.
    set_tool_options(runner, "--python-resolves={'x86_64': 'x86_64.lock'}", f"--serverless-advisories-url={url}", *options)
    return runner.request(AdvisoryReport, [AdvisoryCheckRequest(sbom.digest, (sbom.path,))])


def test_planted_advisory_is_found_then_a_stopped_server_fails_clearly(layer, tmp_path: Path) -> None:
    with osv_server(tmp_path) as url:
        report = check(layer, url)
    assert report.error is None
    [artifact] = report.artifacts
    assert (artifact["artifact"], artifact["target"]) == ("geo-x86_64", "layers:geo")
    # The PyPI components were asked about (six and the built geo); the natives' pkg:generic purls
    # are listed as not checked, since a service that does not index a type answers "no advisories".
    assert artifact["checked"] == 2
    assert artifact["unchecked"] == [
        {"component": name, "reason": "pkg:generic is not among the service's purl_types"} for name in ("tinya", "tinyb")
    ]
    assert artifact["findings"] == [
        {"component": "six", "version": "1.17.0", "purl": "pkg:pypi/six@1.17.0", "advisories": [PLANTED["id"]]}
    ]

    # The same question after the server stopped: asked again (no result of the earlier run is
    # reused), and the answer says nothing was checked.
    stopped = check(layer, url)
    assert stopped.error is not None and f"{url}/v1/querybatch could not be reached" in stopped.error
    assert "Connection refused" in stopped.error
    assert stopped.findings == 0 and stopped.artifacts[0]["checked"] == 0


def test_an_http_error_is_not_a_clean_result(layer, tmp_path: Path) -> None:
    with osv_server(tmp_path) as url:
        report = check(layer, f"{url}/not-osv")
    assert report.error == f"{url}/not-osv/v1/querybatch answered HTTP 404 Not Found"
    assert report.artifacts[0]["checked"] == 0


def test_a_clean_layer_has_no_findings(layer, tmp_path: Path) -> None:
    with osv_server(tmp_path, records=()) as url:
        report = check(layer, url)
    assert report.error is None and report.findings == 0 and report.artifacts[0]["checked"] == 2


NATIVE_ADVISORY = {
    "id": "OSV-TEST-2026-0043",
    "summary": "Planted for tests",
    "modified": "2026-11-30T00:00:00Z",
    "affected": [{"package": {"purl": "pkg:generic/tinya"}, "versions": ["1.2.3"]}],
}


def test_natives_are_asked_about_when_the_service_indexes_generic_purls(layer, tmp_path: Path) -> None:
    with osv_server(tmp_path, records=(NATIVE_ADVISORY,)) as url:
        report = check(layer, url, "--serverless-advisories-purl-types=['pypi', 'generic']")
    [artifact] = report.artifacts
    assert artifact["checked"] == 4 and artifact["unchecked"] == []
    [finding] = artifact["findings"]
    assert (finding["component"], finding["version"], finding["advisories"]) == ("tinya", "1.2.3", ["OSV-TEST-2026-0043"])


def test_a_url_without_a_scheme_fails_naming_the_option(layer) -> None:
    with pytest.raises(ExecutionError, match=r"`\[serverless-advisories\].url` must be an http:// or https:// URL, got 'osv.example'"):
        check(layer, "osv.example")
