"""`./pants advisories ::`: the components of every layer's and function's SBOM looked up in the
org's advisory services (each component by what can match it, each source trusted only when it
knows its canary), never from a cache; findings a reviewed VEX statement covers are suppressed."""

from __future__ import annotations

import datetime
import json
from dataclasses import dataclass

from pants.core.goals.package import BuiltPackage, EnvironmentAwarePackageRequest
from pants.engine.console import Console
from pants.engine.env_vars import EnvironmentVars, EnvironmentVarsRequest
from pants.engine.fs import CreateDigest, Digest, DigestContents, DigestSubset, FileContent, GlobMatchErrorBehavior, MergeDigests, PathGlobs
from pants.engine.goal import Goal, GoalSubsystem
from pants.engine.process import FallibleProcessResult, ProcessCacheScope
from pants.engine.rules import Get, MultiGet, collect_rules, goal_rule, rule
from pants.engine.target import Targets, TransitiveTargets, TransitiveTargetsRequest
from pants.util.frozendict import FrozenDict
from pants.util.logging import LogLevel
from serverless_gis.advisories import vex
from serverless_gis.advisories.subsystem import AdvisoriesSubsystem
from serverless_gis.function.rules import ServerlessFunctionFieldSet
from serverless_gis.function.target_types import ServerlessFunctionTarget
from serverless_gis.layer.rules import ServerlessLayerFieldSet
from serverless_gis.layer.target_types import ServerlessLayerTarget
from serverless_gis.sbom.process import SbomToolRequest

JOB, REPORT = "__advisories_job.json", "__advisories_report.json"
# What reaching an org's service over a proxy or with its own CA may need.
HTTP_ENV_VARS = ("HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY", "https_proxy", "http_proxy", "no_proxy", "SSL_CERT_FILE", "SSL_CERT_DIR")


class AdvisoryCheckError(Exception):
    pass


@dataclass(frozen=True)
class AdvisoryCheckRequest:
    sboms: Digest
    paths: tuple[str, ...]


@dataclass(frozen=True)
class AdvisoryReport:
    """See `sbom/scripts/osv_advisories.py`: per SBOM, the findings (after the VEX file), the
    components NOT checked and why; per kind of component, whether its source is trusted; `error`
    when a service could not be asked."""

    url: str
    error: str | None
    artifacts_json: str
    sources_json: str = "{}"
    expired: tuple[str, ...] = ()  # VEX statements past their expiry date, described

    @property
    def artifacts(self) -> list[dict]:
        return json.loads(self.artifacts_json)

    @property
    def sources(self) -> dict[str, dict]:
        return json.loads(self.sources_json)

    @property
    def findings(self) -> int:
        return sum(len(a["findings"]) for a in self.artifacts)

    @property
    def unchecked(self) -> int:
        return sum(len(a["unchecked"]) for a in self.artifacts)


async def vex_statements(path: str | None) -> tuple[vex.Statement, ...]:
    if not path:
        return ()
    contents = await Get(
        DigestContents,
        PathGlobs([path], glob_match_error_behavior=GlobMatchErrorBehavior.error, description_of_origin="`[serverless-advisories].vex`"),
    )
    return vex.parse(path, contents[0].content)


@rule(desc="Query the advisory services", level=LogLevel.DEBUG)
async def check_advisories(request: AdvisoryCheckRequest, subsystem: AdvisoriesSubsystem) -> AdvisoryReport:
    url = subsystem.url
    assert url, "callers check that the service is configured"
    subsystem.validate()
    statements = await vex_statements(subsystem.vex)
    job = {
        "url": url,
        "cpe_url": subsystem.cpe_url,
        "timeout": subsystem.timeout_seconds,
        "purl_types": sorted(subsystem.purl_types),
        "canaries": dict(subsystem.canaries),
        "sboms": list(request.paths),
    }
    job_digest, env = await MultiGet(
        Get(Digest, CreateDigest([FileContent(JOB, json.dumps(job).encode())])),
        Get(EnvironmentVars, EnvironmentVarsRequest(HTTP_ENV_VARS)),
    )
    result = await Get(
        FallibleProcessResult,
        SbomToolRequest(
            ("advisories", JOB, REPORT),
            await Get(Digest, MergeDigests([request.sboms, job_digest])),
            description=f"Query {url} for advisories on {len(request.paths)} SBOMs",
            output_files=(REPORT,),
            # Advisories appear every day: never answered from a cache of an earlier run.
            cache_scope=ProcessCacheScope.PER_SESSION,
            extra_env=FrozenDict(env),
        ),
    )
    if result.exit_code != 0:
        raise AdvisoryCheckError(
            f"The advisory check against {url} failed (exit {result.exit_code}); nothing was checked:\n"
            + result.stderr.decode(errors="replace")[-3000:]
        )
    contents = await Get(DigestContents, DigestSubset(result.output_digest, PathGlobs([REPORT])))
    report = json.loads(contents[0].content)
    # The real date: a statement's expiry is a date a reviewer chose, not a build input.
    artifacts, expired = vex.apply(report["artifacts"], statements, datetime.date.today())
    return AdvisoryReport(
        url=url,
        error=report["error"],
        artifacts_json=json.dumps(artifacts),
        sources_json=json.dumps(report["sources"]),
        expired=tuple(s.describe() for s in expired),
    )


class AdvisoriesGoalSubsystem(GoalSubsystem):
    name = "advisories"
    help = (
        "Check the components of the SBOMs of `serverless_layer` and `serverless_function` targets "
        "(a function's with its layers') against the advisory service of `[serverless-advisories]`."
    )


class AdvisoriesGoal(Goal):
    subsystem_cls = AdvisoriesGoalSubsystem
    environment_behavior = Goal.EnvironmentBehavior.LOCAL_ONLY


async def artifact_targets(targets: Targets) -> list:
    """The layers and functions given, and the layers those functions mount."""
    functions = [t for t in targets if isinstance(t, ServerlessFunctionTarget)]
    mounted = await Get(TransitiveTargets, TransitiveTargetsRequest([t.address for t in functions]))
    chosen = {t.address: t for t in (*targets, *mounted.dependencies)}
    return [t for _, t in sorted(chosen.items()) if isinstance(t, (ServerlessLayerTarget, ServerlessFunctionTarget))]


def print_report(console: Console, report: AdvisoryReport) -> None:
    for kind, source in sorted(report.sources.items()):
        if not source["trusted"]:
            console.print_stderr(f"{console.sigil_skipped()} {kind} is NOT trusted: {source['reason']}")
    for a in report.artifacts:
        name = f"{a['artifact']} ({a['target']})"
        if a["findings"]:
            console.print_stderr(f"{console.sigil_failed()} {name}: advisories in {report.url}:")
            for f in a["findings"]:
                console.print_stderr(f"    {f['component']} {f['version']} ({f['via']}): {', '.join(f['advisories'])}")
        elif report.error is None:
            n = a["checked"]
            console.print_stderr(f"{console.sigil_succeeded()} {name}: {n} component{'' if n == 1 else 's'}, no advisories")
        for f in a.get("suppressed", ()):
            for s in f["by"]:
                console.print_stderr(f"    {f['component']} {f['version']}: {s['advisory']} suppressed ({s['justification']}) by VEX {s['statement']}")
        if a.get("via_parent"):
            console.print_stderr(f"    covered by their parent's advisories (bundled, no CPE): {', '.join(a['via_parent'])}")
        if a["unchecked"]:
            console.print_stderr(
                f"{console.sigil_skipped()} {name}: NOT checked: "
                + ", ".join(f"{u['component']} ({u['reason']})" for u in a["unchecked"])
            )


@goal_rule
async def advisories(console: Console, subsystem: AdvisoriesSubsystem, targets: Targets) -> AdvisoriesGoal:
    try:
        subsystem.validate()
    except ValueError as e:
        console.print_stderr(f"{console.sigil_failed()} {e}")
        return AdvisoriesGoal(1)
    if not subsystem.url:
        message = "No advisory service is configured (`[serverless-advisories].url`): nothing was checked."
        if subsystem.required:
            console.print_stderr(f"{console.sigil_failed()} {message} Fix: set `url` to the org's OSV-compatible service.")
            return AdvisoriesGoal(1)
        console.print_stderr(f"{console.sigil_skipped()} {message}")
        return AdvisoriesGoal(0)
    chosen = await artifact_targets(targets)
    field_sets = [
        ServerlessLayerFieldSet.create(t) if isinstance(t, ServerlessLayerTarget) else ServerlessFunctionFieldSet.create(t)
        for t in chosen
    ]
    packages = await MultiGet(Get(BuiltPackage, EnvironmentAwarePackageRequest(fs)) for fs in field_sets)
    sboms = await MultiGet(Get(Digest, DigestSubset(p.digest, PathGlobs(["**/*.cdx.json"]))) for p in packages)
    paths = tuple(sorted(a.relpath for p in packages for a in p.artifacts if a.relpath and a.relpath.endswith(".cdx.json")))
    if not paths:
        console.print_stderr(f"{console.sigil_skipped()} No serverless_layer or serverless_function among the targets: nothing to check.")
        return AdvisoriesGoal(0)
    report = await Get(AdvisoryReport, AdvisoryCheckRequest(await Get(Digest, MergeDigests(sboms)), paths))
    return AdvisoriesGoal(conclude(console, report, required=subsystem.required, vex_path=subsystem.vex, sboms=len(paths)))


def conclude(console: Console, report: AdvisoryReport, *, required: bool, vex_path: str | None, sboms: int) -> int:
    """Print the report and the verdict; the goal's exit code."""
    print_report(console, report)
    failed = report.findings > 0
    if report.expired:
        failed = True
        console.print_stderr(
            f"{console.sigil_failed()} Expired VEX statements in {vex_path} (they suppress nothing): "
            + "; ".join(report.expired)
            + ". Fix: review each again and move its `expires`, or remove it."
        )
    if report.error or report.unchecked:
        if report.error:
            what = (
                f"An advisory service could not be asked: {report.error}. {report.unchecked} components of "
                f"{sboms} SBOMs were NOT checked; this is no clean result."
            )
            fix = "make the service reachable from this machine (its URL, a proxy, CA certificates)"
        else:
            what = f"{report.unchecked} components were NOT checked (listed above, with why)."
            fix = (
                "give every native_library its identity (`cpe`, `upstream`, `debian`) and a `version`, "
                "set `cpe_url`, and configure `canaries` the services know"
            )
        if required:
            console.print_stderr(
                f"{console.sigil_failed()} {what} Fix: {fix}; `required = false` in `[serverless-advisories]` "
                "only warns."
            )
            failed = True
        else:
            console.print_stderr(f"{console.sigil_skipped()} WARNING: {what}")
    if report.findings:
        console.print_stderr(
            f"{report.findings} components have advisories. Fix: upgrade them (the lockfile, or a "
            "native_library's `source` and `version`), drop them from the layer or function, or, once "
            "reviewed as not affecting it, add a VEX statement to `[serverless-advisories].vex`."
        )
    return 1 if failed else 0


def rules():
    return collect_rules()
