"""Publish a layer, deploy a function or roll back its alias on AWS Lambda, idempotently.

Run by `pants publish`, `pants experimental-deploy` and `pants serverless-rollback` in the
`[serverless-publish]` tool's venv (boto3). Every step first reads what the account already has
(`lambda_plan` decides), so a run killed anywhere and run again repeats nothing that finished:
layer versions are keyed by their zip's sha256, a function version is reused when one with the
same code and configuration exists, and the alias moves last, in one call.

Usage: lambda_publish.py layer|function|rollback JOB.json [--dry-run]
Exit status 0 on success, 1 with one message naming the target and the fix on failure.
Credentials come from boto3's standard chain and are never printed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

import boto3
import botocore.config
import botocore.exceptions

import lambda_plan

READ_PREFIXES = ("Get", "List", "Head")
MIB = 1024 * 1024


class DeployError(Exception):
    """A failure explained for the user: what target, what is wrong, the fix."""


class LayerAlreadyPublished(Exception):
    def __init__(self, version: dict) -> None:
        super().__init__(version["LayerVersionArn"])
        self.version = version


class Aws:
    """Lambda and S3 clients with botocore's standard retries, and a count of mutating calls."""

    def __init__(self, job: dict, dry_run: bool) -> None:
        self.target = job["target"]
        settings = job["settings"]
        # botocore reads AWS_DEFAULT_REGION only; AWS_REGION is what the CLI v2 and CI set.
        region = settings.get("region") or os.environ.get("AWS_REGION") or None
        session = boto3.session.Session(region_name=region)
        if not session.region_name:
            raise DeployError(
                f"{self.target}: no AWS region is configured. Fix: set `[serverless-publish].region` "
                "(or PANTS_SERVERLESS_PUBLISH_REGION), AWS_REGION, or a region in the AWS profile."
            )
        if session.get_credentials() is None:
            raise DeployError(
                f"{self.target}: no AWS credentials found (boto3's standard chain: environment, "
                "AWS_PROFILE and ~/.aws, web identity, container or instance role). Fix: export "
                "AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or run where a role "
                "is attached (e.g. the CI's OIDC role)."
            )
        self.region = session.region_name
        self.endpoint = settings.get("endpoint_url") or None
        self.dry_run = dry_run
        self.mutating_calls: list[str] = []
        config = botocore.config.Config(
            retries={"mode": "standard", "max_attempts": settings["max_attempts"]},
            connect_timeout=10,
            read_timeout=120,
        )
        self.lambda_ = session.client("lambda", endpoint_url=self.endpoint, config=config)
        self.s3 = session.client("s3", endpoint_url=self.endpoint, config=config)
        for client in (self.lambda_, self.s3):
            client.meta.events.register("before-call", self._guard)

    def _guard(self, model, **_kwargs) -> None:
        if model.name.startswith(READ_PREFIXES):
            return
        if self.dry_run:
            raise AssertionError(f"dry run attempted the mutating call {model.name}")
        self.mutating_calls.append(model.name)

    def where(self) -> str:
        return f"{self.endpoint} ({self.region})" if self.endpoint else self.region


# ---------------------------------------------------------------------------------------------
# Reading the account.
# ---------------------------------------------------------------------------------------------


def error_code(e: botocore.exceptions.ClientError) -> str:
    return e.response.get("Error", {}).get("Code", "")


def layer_versions(aws: Aws, layer_name: str) -> list[dict]:
    """Every version of a layer with its CodeSha256 (ListLayerVersions does not return it)."""
    arns = [
        v["LayerVersionArn"]
        for page in aws.lambda_.get_paginator("list_layer_versions").paginate(LayerName=layer_name)
        for v in page["LayerVersions"]
    ]
    return [
        aws.lambda_.get_layer_version(LayerName=layer_name, VersionNumber=int(arn.rsplit(":", 1)[1]))
        for arn in arns
    ]


def function_configuration(aws: Aws, name: str) -> dict | None:
    try:
        return aws.lambda_.get_function_configuration(FunctionName=name)
    except aws.lambda_.exceptions.ResourceNotFoundException:
        return None


def function_versions(aws: Aws, name: str) -> list[dict]:
    paginator = aws.lambda_.get_paginator("list_versions_by_function")
    return [v for page in paginator.paginate(FunctionName=name) for v in page["Versions"]]


def alias_of(aws: Aws, name: str, alias: str) -> dict | None:
    try:
        return aws.lambda_.get_alias(FunctionName=name, Name=alias)
    except aws.lambda_.exceptions.ResourceNotFoundException:
        return None


# ---------------------------------------------------------------------------------------------
# Uploads.
# ---------------------------------------------------------------------------------------------


def code_location(aws: Aws, job: dict, zip_path: Path) -> dict:
    """`ZipFile` bytes, or an S3 object keyed by the digest when over the direct-upload limit."""
    if job["direct_upload"]:
        return {"ZipFile": zip_path.read_bytes()}
    bucket = job["settings"].get("s3_bucket")
    if not bucket:
        raise DeployError(
            f"{aws.target}: {zip_path.name} is {job['zipped_bytes'] / MIB:.1f} MiB, over its "
            "runtime's direct-upload limit (`max_direct_upload_mb`), so it must go through S3, "
            "but no bucket is configured. Fix: set `[serverless-publish].s3_bucket` to a bucket "
            f"in {aws.region} that the deploy role can write."
        )
    key = f"{job['settings']['s3_prefix']}{job['sha256']}.zip"
    try:
        aws.s3.head_bucket(Bucket=bucket)
    except botocore.exceptions.ClientError as e:
        if error_code(e) in ("404", "NoSuchBucket", "403", "AccessDenied"):
            raise DeployError(
                f"{aws.target}: the S3 bucket `{bucket}` does not exist or is not accessible "
                f"in {aws.region} ({error_code(e)}). Fix: create it in that region, or set "
                "`[serverless-publish].s3_bucket` to one the deploy role can write."
            ) from None
        raise
    if not object_exists(aws, bucket, key, job["zipped_bytes"]):
        if aws.dry_run:
            return {"S3Bucket": bucket, "S3Key": key}
        aws.s3.upload_file(str(zip_path), bucket, key)
    return {"S3Bucket": bucket, "S3Key": key}


def object_exists(aws: Aws, bucket: str, key: str, size: int) -> bool:
    try:
        return aws.s3.head_object(Bucket=bucket, Key=key)["ContentLength"] == size
    except botocore.exceptions.ClientError as e:
        if error_code(e) in ("404", "NoSuchKey"):
            return False
        raise


def s3_note(location: dict) -> str:
    return f" via s3://{location['S3Bucket']}/{location['S3Key']}" if "S3Key" in location else ""


# ---------------------------------------------------------------------------------------------
# The three commands.
# ---------------------------------------------------------------------------------------------


def publish_layer(aws: Aws, job: dict) -> dict:
    name, sha_b64 = job["layer_name"], lambda_plan.code_sha256(job["sha256"])
    existing = lambda_plan.layer_version_with_code(layer_versions(aws, name), sha_b64)
    if existing:
        say(aws, f"layer {name}: unchanged, version {existing['Version']} has this zip")
        return layer_record(aws, job, existing)
    location = code_location(aws, job, Path(job["zip"]))
    if aws.dry_run:
        say(aws, f"layer {name}: new layer version{s3_note(location)}")
        return {}
    try:
        published = publish_layer_version_once(aws, job, location, sha_b64)
    except LayerAlreadyPublished as landed:
        published = landed.version
    if published["Content"]["CodeSha256"] != sha_b64:
        raise DeployError(
            f"{aws.target}: Lambda computed CodeSha256 {published['Content']['CodeSha256']} for "
            f"layer {name} version {published['Version']}, not the local zip's {sha_b64}. Fix: "
            "check that nothing rewrites uploads (an S3 object under the same key, a proxy)."
        )
    say(aws, f"layer {name}: new layer version {published['Version']}{s3_note(location)}")
    return layer_record(aws, job, published)


def publish_layer_version_once(aws: Aws, job: dict, location: dict, sha_b64: str) -> dict:
    """PublishLayerVersion is not idempotent: before botocore retries it (a dropped connection may
    hide a version that was created), look for that version and keep it instead."""
    attempts = []

    def before_send(**_kwargs) -> None:
        attempts.append(1)
        if len(attempts) > 1:
            landed = lambda_plan.layer_version_with_code(layer_versions(aws, job["layer_name"]), sha_b64)
            if landed:
                raise LayerAlreadyPublished(landed)

    event = "before-send.lambda.PublishLayerVersion"
    aws.lambda_.meta.events.register(event, before_send)
    try:
        return aws.lambda_.publish_layer_version(
            LayerName=job["layer_name"],
            Description=f"{job['target']} sha256:{job['sha256']}"[:256],
            Content=location,
            CompatibleRuntimes=[job["lambda_runtime"]],
            CompatibleArchitectures=[job["architecture"]],
        )
    finally:
        aws.lambda_.meta.events.unregister(event, before_send)


def layer_record(aws: Aws, job: dict, version: dict) -> dict:
    return {
        "target": job["target"],
        "layer_name": job["layer_name"],
        "layer_version_arn": version["LayerVersionArn"],
        "version": version["Version"],
        "sha256": job["sha256"],
        "region": aws.region,
    }


def layer_arns(aws: Aws, job: dict) -> list[str]:
    arns = []
    for layer in job["layers"]:
        found = lambda_plan.layer_version_with_code(
            layer_versions(aws, layer["name"]), lambda_plan.code_sha256(layer["sha256"])
        )
        if not found and aws.dry_run:
            say(aws, f"layer {layer['name']}: not published yet (`pants publish {layer['address']}` publishes it)")
            arns.append(f"<new version of {layer['name']}>")
            continue
        if not found:
            raise DeployError(
                f"{aws.target}: its layer {layer['address']} (sha256 {layer['sha256']}) is not "
                f"published as `{layer['name']}` in {aws.where()}. Fix: run "
                f"`pants publish {layer['address']}` first (same stage settings)."
            )
        arns.append(found["LayerVersionArn"])
    return arns


def deploy_function(aws: Aws, job: dict) -> dict:
    name, alias, arch = job["function_name"], job["alias"], job["architecture"]
    sha_b64 = lambda_plan.code_sha256(job["sha256"])
    desired = lambda_plan.desired_configuration(
        role=job["role"],
        handler=job["handler"],
        runtime=job["lambda_runtime"],
        memory_mb=job["memory_mb"],
        timeout_seconds=job["timeout_seconds"],
        ephemeral_storage_mb=job["ephemeral_storage_mb"],
        environment=job["environment"],
        layer_arns=layer_arns(aws, job),
    )
    current = function_configuration(aws, name)
    versions = function_versions(aws, name) if current else []
    plan = lambda_plan.plan_function(
        current, versions, alias_of(aws, name, alias) if current else None, desired, sha_b64, arch
    )
    say(aws, f"function {name}: " + "; ".join(plan.describe(alias)))
    if aws.dry_run:
        return {}

    waiter = aws.lambda_.get_waiter("function_updated_v2")
    if plan.create:
        location = code_location(aws, job, Path(job["zip"]))
        create_function(aws, job, name, desired, location)
        aws.lambda_.get_waiter("function_active_v2").wait(FunctionName=name)
    if plan.config_changes:
        aws.lambda_.update_function_configuration(
            FunctionName=name, **configuration_arguments(desired), **revision_of(current)
        )
        waiter.wait(FunctionName=name)
    if plan.code_change:
        location = code_location(aws, job, Path(job["zip"]))
        aws.lambda_.update_function_code(FunctionName=name, Architectures=[arch], **location)
        waiter.wait(FunctionName=name)
    version = plan.version or aws.lambda_.publish_version(
        FunctionName=name, CodeSha256=sha_b64, Description=f"{job['target']} sha256:{job['sha256']}"[:256]
    )["Version"]
    if not plan.alias_moves:
        moved = alias_of(aws, name, alias)
    elif plan.alias_from is None:
        moved = aws.lambda_.create_alias(
            FunctionName=name, Name=alias, FunctionVersion=version,
            Description=lambda_plan.alias_description(None),
        )
    else:
        moved = move_alias(aws, name, alias, version)
    return {
        "target": job["target"],
        "function_name": name,
        "function_arn": moved["AliasArn"].rsplit(":", 1)[0],
        "version": version,
        "alias": alias,
        "alias_arn": moved["AliasArn"],
        "previous_version": plan.alias_from if plan.alias_moves else None,
        "code_sha256": job["sha256"],
        "layers": [
            {"address": layer["address"], "sha256": layer["sha256"], "arn": arn}
            for layer, arn in zip(job["layers"], desired["Layers"])
        ],
        "region": aws.region,
    }


def configuration_arguments(desired: dict) -> dict:
    return {
        "Role": desired["Role"],
        "Handler": desired["Handler"],
        "Runtime": desired["Runtime"],
        "MemorySize": desired["MemorySize"],
        "Timeout": desired["Timeout"],
        "EphemeralStorage": desired["EphemeralStorage"],
        "Environment": {"Variables": desired["Environment"]},
        "Layers": desired["Layers"],
    }


def create_function(aws: Aws, job: dict, name: str, desired: dict, location: dict) -> None:
    try:
        aws.lambda_.create_function(
            FunctionName=name,
            Code=location,
            Architectures=[job["architecture"]],
            Publish=False,
            **configuration_arguments(desired),
        )
    except botocore.exceptions.ClientError as e:
        if error_code(e) == "InvalidParameterValueException" and "role" in str(e).lower():
            raise DeployError(
                f"{aws.target}: Lambda cannot use the role `{desired['Role']}` for function "
                f"{name}: {e.response['Error'].get('Message', '')} Fix: create the role with a "
                "trust policy for lambda.amazonaws.com, or set `role=` on the target (or "
                "`[serverless-publish].role`) to an existing one."
            ) from None
        raise


def revision_of(resource: dict) -> dict:
    """Make an update conditional on the resource being as read (emulators may omit RevisionId)."""
    return {"RevisionId": resource["RevisionId"]} if resource.get("RevisionId") else {}


def move_alias(aws: Aws, name: str, alias: str, version: str) -> dict:
    """One UpdateAlias call, conditional on the alias not having moved since it was read."""
    current = alias_of(aws, name, alias)
    return aws.lambda_.update_alias(
        FunctionName=name,
        Name=alias,
        FunctionVersion=version,
        Description=lambda_plan.alias_description(current["FunctionVersion"]),
        **revision_of(current),
    )


def rollback(aws: Aws, job: dict) -> dict:
    name, alias = job["function_name"], job["alias"]
    current = alias_of(aws, name, alias) if function_configuration(aws, name) else None
    previous = lambda_plan.previous_version(current) if current else None
    if not previous:
        raise DeployError(
            f"{aws.target}: function {name} has no alias `{alias}` with a previous version "
            f"recorded in {aws.where()}, so there is nothing to roll back to. Fix: deploy it "
            "with `pants experimental-deploy` first, or move the alias by hand."
        )
    say(aws, f"function {name}: alias move {alias}: {current['FunctionVersion']} -> {previous} (rollback)")
    if aws.dry_run:
        return {}
    moved = move_alias(aws, name, alias, previous)
    return {
        "target": job["target"],
        "function_name": name,
        "version": previous,
        "alias": alias,
        "alias_arn": moved["AliasArn"],
        "previous_version": current["FunctionVersion"],
        "region": aws.region,
    }


COMMANDS = {"layer": publish_layer, "function": deploy_function, "rollback": rollback}


# ---------------------------------------------------------------------------------------------
# Output.
# ---------------------------------------------------------------------------------------------


def say(aws: Aws, line: str) -> None:
    prefix = "[dry run] would: " if aws.dry_run else ""
    print(f"{aws.target}: {prefix}{line}", flush=True)


def write_record(path: str, record: dict) -> None:
    """Atomically: a killed run leaves the old record or the new one, never half of one."""
    dest = Path(path)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.")
    with os.fdopen(fd, "w") as f:
        json.dump(record, f, indent=2, sort_keys=True)
        f.write("\n")
    os.replace(tmp, dest)


def explain(target: str, aws: Aws | None, e: Exception) -> str:
    where = aws.where() if aws else "AWS"
    if isinstance(e, botocore.exceptions.NoRegionError):
        return f"{target}: no AWS region is configured. Fix: set `[serverless-publish].region` or AWS_REGION."
    if isinstance(e, (botocore.exceptions.NoCredentialsError, botocore.exceptions.PartialCredentialsError)):
        return f"{target}: AWS credentials are missing or incomplete ({type(e).__name__}). Fix: export AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY."
    if isinstance(e, (botocore.exceptions.EndpointConnectionError, botocore.exceptions.ConnectionClosedError,
                      botocore.exceptions.ReadTimeoutError, botocore.exceptions.ConnectTimeoutError)):
        return (
            f"{target}: lost the connection to {where} after botocore's retries ({type(e).__name__}). "
            "Fix: check the network or endpoint, then run the same command again: finished steps "
            "are found in the account and skipped, and the alias only moves once the new version exists."
        )
    if isinstance(e, botocore.exceptions.ClientError):
        err = e.response.get("Error", {})
        return (
            f"{target}: {e.operation_name} failed in {where}: {err.get('Code')}: {err.get('Message')}. "
            "Fix: see the AWS message; rerunning is safe."
        )
    return f"{target}: {type(e).__name__}: {e}"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("command", choices=sorted(COMMANDS))
    parser.add_argument("job")
    parser.add_argument("--dry-run", action="store_true")
    args = parser.parse_args()
    job = json.loads(Path(args.job).read_text())
    aws = None
    try:
        aws = Aws(job, args.dry_run)
        record = COMMANDS[args.command](aws, job)
    except DeployError as e:
        print(f"ERROR: {e}", file=sys.stderr, flush=True)
        return 1
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as e:
        print(f"ERROR: {explain(job['target'], aws, e)}", file=sys.stderr, flush=True)
        return 1
    if record:
        write_record(job["record"], record)
        print(f"{job['target']}: recorded in {job['record_display']}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
