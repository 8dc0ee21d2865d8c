"""Running `aws/lambda_publish.py` in the `[serverless-publish]` tool's venv as an interactive process."""

from __future__ import annotations

import json
from dataclasses import dataclass

from pants.backend.python.util_rules.pex import PexRequest, VenvPex, VenvPexProcess
from pants.base.build_root import BuildRoot
from pants.core.util_rules.distdir import DistDir
from pants.engine.env_vars import EnvironmentVars, EnvironmentVarsRequest
from pants.engine.fs import CreateDigest, Digest, FileContent, MergeDigests
from pants.engine.process import InteractiveProcess, Process, ProcessCacheScope
from pants.engine.rules import Get, MultiGet, collect_rules, rule
from serverless_gis.publish.subsystem import AWS_ENV_VARS, ServerlessPublishSubsystem
from serverless_gis.resources import package_resources_digest

SCRIPTS = ("lambda_publish.py", "lambda_plan.py")
JOB_FILE = "__serverless_publish_job.json"


@dataclass(frozen=True)
class LambdaToolRequest:
    """Run `lambda_publish.py <command>` on a job (see that script) with `artifacts` in the sandbox.

    `record` is the dist/-relative path of the JSON record the script writes on success.
    """

    command: str
    job: str  # JSON, without the settings the subsystem adds
    artifacts: Digest
    record: str


def settings(subsystem: ServerlessPublishSubsystem) -> dict:
    return {
        "region": subsystem.region,
        "endpoint_url": subsystem.endpoint_url,
        "s3_bucket": subsystem.s3_bucket,
        "s3_prefix": subsystem.s3_prefix,
        "max_attempts": subsystem.max_attempts,
    }


def describe_destination(subsystem: ServerlessPublishSubsystem) -> str:
    where = subsystem.region or "the AWS environment's region"
    if subsystem.endpoint_url:
        where += f" at {subsystem.endpoint_url}"
    return where + (" (dry run: nothing changed)" if subsystem.dry_run else "")


@rule
async def lambda_tool_process(
    request: LambdaToolRequest,
    subsystem: ServerlessPublishSubsystem,
    build_root: BuildRoot,
    dist_dir: DistDir,
) -> InteractiveProcess:
    scripts = await package_resources_digest("serverless_gis.publish.aws", SCRIPTS)
    job = {
        **json.loads(request.job),
        "settings": settings(subsystem),
        "record": str(build_root.pathlib_path / dist_dir.relpath / request.record),
        "record_display": str(dist_dir.relpath / request.record),
    }
    tool, job_digest, env = await MultiGet(
        Get(VenvPex, PexRequest, subsystem.to_pex_request(main=subsystem.main, sources=scripts)),
        Get(Digest, CreateDigest([FileContent(JOB_FILE, json.dumps(job).encode())])),
        Get(EnvironmentVars, EnvironmentVarsRequest(AWS_ENV_VARS)),
    )
    input_digest = await Get(Digest, MergeDigests([request.artifacts, job_digest]))
    process = await Get(
        Process,
        VenvPexProcess(
            tool,
            argv=(request.command, JOB_FILE, *(("--dry-run",) if subsystem.dry_run else ())),
            input_digest=input_digest,
            extra_env=env,
            description=f"serverless-publish {request.command}",
            cache_scope=ProcessCacheScope.PER_SESSION,
        ),
    )
    return InteractiveProcess.from_process(process)


def rules():
    return collect_rules()
