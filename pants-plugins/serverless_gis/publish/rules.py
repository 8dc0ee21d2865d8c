"""`publish` for `serverless_layer`, `experimental-deploy` and `serverless-rollback` for `serverless_function`.

Layers are artifacts pushed to a registry (a layer version is immutable and content-addressed),
which is what Pants' `publish` goal is for. Deploying a function changes what a running service
executes and moves an alias, which is `experimental-deploy`: it also publishes the layers a
function depends on before deploying it, whereas `publish` runs its targets in no set order.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

from pants.core.goals.deploy import DeployFieldSet, DeployProcess
from pants.core.goals.package import BuiltPackage, EnvironmentAwarePackageRequest, PackageFieldSet
from pants.core.goals.publish import PublishFieldSet, PublishPackages, PublishProcesses, PublishRequest
from pants.engine.addresses import Address
from pants.engine.console import Console
from pants.engine.fs import Digest, DigestContents, DigestSubset, MergeDigests, PathGlobs
from pants.engine.goal import Goal, GoalSubsystem
from pants.engine.process import InteractiveProcess, InteractiveProcessResult
from pants.engine.rules import Effect, Get, MultiGet, collect_rules, goal_rule, rule
from pants.engine.target import (
    Dependencies,
    DependenciesRequest,
    FieldSetsPerTarget,
    FieldSetsPerTargetRequest,
    Targets,
    TargetRootsToFieldSets,
    TargetRootsToFieldSetsRequest,
    NoApplicableTargetsBehavior,
    WrappedTarget,
    WrappedTargetRequest,
)
from pants.engine.unions import UnionRule
from serverless_gis.artifact import zip_stem
from serverless_gis.function.target_types import ServerlessFunctionTarget
from serverless_gis.layer.rules import BuiltLayer, ServerlessLayerFieldSet
from serverless_gis.layer.target_types import ServerlessLayerTarget
from serverless_gis.publish import tool
from serverless_gis.publish.subsystem import ServerlessPublishSubsystem
from serverless_gis.publish.target_types import (
    DEPLOY_FIELDS,
    DeployAliasField,
    DeployFunctionNameField,
    DeployEphemeralStorageField,
    DeployMemoryField,
    DeployRoleField,
    DeployTimeoutField,
)
from serverless_gis.publish.tool import LambdaToolRequest, describe_destination


class ServerlessPublishError(Exception):
    pass


def lambda_runtime(provider: str, python: str, address: Address) -> str:
    if provider != "aws":
        raise ServerlessPublishError(
            f"{address}: its runtime's provider is `{provider}`; publishing and deploying support "
            "`aws` only. Fix: leave this target out of `publish`/`experimental-deploy`."
        )
    return f"python{python}"


async def built_packages(address: Address) -> tuple[BuiltPackage, ...]:
    wrapped = await Get(WrappedTarget, WrappedTargetRequest(address, description_of_origin="serverless publish"))
    field_sets = await Get(FieldSetsPerTarget, FieldSetsPerTargetRequest(PackageFieldSet, [wrapped.target]))
    return await MultiGet(
        Get(BuiltPackage, EnvironmentAwarePackageRequest(fs)) for fs in field_sets.field_sets
    )


# ---------------------------------------------------------------------------------------------
# Layers: `publish`.
# ---------------------------------------------------------------------------------------------


class PublishLayerRequest(PublishRequest):
    pass


@dataclass(frozen=True)
class PublishLayerFieldSet(PublishFieldSet):
    publish_request_type = PublishLayerRequest
    required_fields = ServerlessLayerFieldSet.required_fields


@rule(desc="Plan publishing a serverless layer")
async def publish_layer(
    request: PublishLayerRequest, subsystem: ServerlessPublishSubsystem
) -> PublishProcesses:
    address = request.field_set.address
    wrapped = await Get(WrappedTarget, WrappedTargetRequest(address, description_of_origin="serverless publish"))
    layer = await Get(BuiltLayer, ServerlessLayerFieldSet, ServerlessLayerFieldSet.create(wrapped.target))
    runtime, artifact = layer.runtime, layer.artifact
    python = f"{runtime.python_version[0]}.{runtime.python_version[1]}"
    job = {
        "target": str(address),
        "layer_name": zip_stem(artifact.path),
        "zip": artifact.path,
        "sha256": artifact.sha256,
        "zipped_bytes": artifact.zipped_bytes,
        "direct_upload": artifact.zipped_bytes <= runtime.max_direct_upload_bytes,
        "lambda_runtime": lambda_runtime(runtime.provider, python, address),
        "architecture": runtime.arch,
    }
    packages = await Get(Digest, MergeDigests(p.digest for p in request.packages))
    process = await Get(
        InteractiveProcess,
        LambdaToolRequest("layer", json.dumps(job), packages, f"{artifact.path[:-4]}.published.json"),
    )
    return PublishProcesses(
        [
            PublishPackages(
                names=(artifact.path,),
                process=process,
                description=f"AWS Lambda layer {job['layer_name']} in {describe_destination(subsystem)}",
            )
        ]
    )


# ---------------------------------------------------------------------------------------------
# Functions: `experimental-deploy` and `serverless-rollback`.
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeployFunctionFieldSet(DeployFieldSet):
    # A field only `serverless_function` targets have (added by this package).
    required_fields = (DeployRoleField,)

    function_name: DeployFunctionNameField
    role: DeployRoleField
    memory_mb: DeployMemoryField
    timeout_seconds: DeployTimeoutField
    ephemeral_storage_mb: DeployEphemeralStorageField
    alias: DeployAliasField


@dataclass(frozen=True)
class FunctionJob:
    """What `lambda_publish.py function|rollback` needs, read from the function's package manifest."""

    address: Address
    function_name: str
    alias: str
    job: str
    artifacts: Digest
    record: str


@rule(desc="Read a serverless function's package for deployment")
async def function_job(field_set: DeployFunctionFieldSet, subsystem: ServerlessPublishSubsystem) -> FunctionJob:
    address = field_set.address
    packages = await built_packages(address)
    artifacts = await Get(Digest, MergeDigests(p.digest for p in packages))
    manifests = await Get(DigestContents, DigestSubset(artifacts, PathGlobs(["**/*.manifest.json"])))
    if len(manifests) != 1:
        raise ServerlessPublishError(
            f"{address}: expected its package to write one `*.manifest.json`, found "
            f"{len(manifests)}. Fix: check that it is a `serverless_function` built by serverless_gis."
        )
    manifest_path, manifest = manifests[0].path, json.loads(manifests[0].content)
    zip_path = os.path.join(os.path.dirname(manifest_path), manifest["artifact"]["zip"])
    role = field_set.role.value or subsystem.role
    if not role:
        raise ServerlessPublishError(
            f"{address}: no execution role for the function. Fix: set `role=\"arn:aws:iam::"
            "<account>:role/<name>\"` on the target, or `[serverless-publish].role` for every "
            "function of the stage."
        )
    runtime = manifest["runtime"]
    function_name = field_set.function_name.value or zip_stem(zip_path)
    alias = field_set.alias.value or subsystem.alias
    job = {
        "target": str(address),
        "function_name": function_name,
        "alias": alias,
        "role": role,
        "handler": manifest["handler"],
        "lambda_runtime": lambda_runtime(runtime["provider"], runtime["python"], address),
        "architecture": runtime["arch"],
        "memory_mb": field_set.memory_mb.value,
        "timeout_seconds": field_set.timeout_seconds.value,
        "ephemeral_storage_mb": field_set.ephemeral_storage_mb.value,
        "environment": manifest["environment"],
        "zip": zip_path,
        "sha256": manifest["artifact"]["sha256"],
        "zipped_bytes": manifest["artifact"]["zipped_bytes"],
        # The package checked the zip against its runtime's direct-upload limit.
        "direct_upload": manifest["artifact"]["direct_upload"],
        "layers": [
            {"address": layer["address"], "name": zip_stem(layer["zip"]), "sha256": layer["sha256"]}
            for layer in manifest["layers"]
        ],
    }
    return FunctionJob(
        address=address,
        function_name=function_name,
        alias=alias,
        job=json.dumps(job),
        artifacts=artifacts,
        record=f"{zip_path[:-4]}.deployed.json",
    )


@rule(desc="Plan deploying a serverless function")
async def deploy_function(field_set: DeployFunctionFieldSet, subsystem: ServerlessPublishSubsystem) -> DeployProcess:
    job = await Get(FunctionJob, DeployFunctionFieldSet, field_set)
    process = await Get(
        InteractiveProcess, LambdaToolRequest("function", job.job, job.artifacts, job.record)
    )
    wrapped = await Get(WrappedTarget, WrappedTargetRequest(field_set.address, description_of_origin="serverless deploy"))
    # Layers that are dependencies of the function are published first (content-addressed, so
    # an unchanged layer is only looked up).
    dependencies = await Get(Targets, DependenciesRequest(wrapped.target[Dependencies]))
    return DeployProcess(
        name=f"{field_set.address} as function {job.function_name} (alias {job.alias})",
        process=process,
        publish_dependencies=tuple(t for t in dependencies if isinstance(t, ServerlessLayerTarget)),
        description=describe_destination(subsystem),
    )


class RollbackSubsystem(GoalSubsystem):
    name = "serverless-rollback"
    help = (
        "Move the alias of each `serverless_function` back to the version it pointed at before "
        "the last deploy (recorded on the alias). Running it twice rolls forward again."
    )


class Rollback(Goal):
    subsystem_cls = RollbackSubsystem
    environment_behavior = Goal.EnvironmentBehavior.LOCAL_ONLY


@goal_rule
async def rollback(console: Console) -> Rollback:
    roots = await Get(
        TargetRootsToFieldSets,
        TargetRootsToFieldSetsRequest(
            DeployFieldSet,
            goal_description="the `serverless-rollback` goal",
            no_applicable_targets_behavior=NoApplicableTargetsBehavior.error,
        ),
    )
    field_sets = [fs for fs in roots.field_sets if isinstance(fs, DeployFunctionFieldSet)]
    jobs = await MultiGet(Get(FunctionJob, DeployFunctionFieldSet, fs) for fs in field_sets)
    processes = await MultiGet(
        Get(InteractiveProcess, LambdaToolRequest("rollback", j.job, j.artifacts, j.record)) for j in jobs
    )
    exit_code = 0
    for job, process in zip(jobs, processes):
        result = await Effect(InteractiveProcessResult, InteractiveProcess, process)
        if result.exit_code:
            exit_code = result.exit_code
            console.print_stderr(f"{console.sigil_failed()} {job.address} rollback failed.")
        else:
            console.print_stderr(f"{console.sigil_succeeded()} {job.address} rolled back.")
    return Rollback(exit_code)


def rules():
    return (
        *collect_rules(),
        *tool.rules(),
        *ServerlessPublishSubsystem.rules(),
        *PublishLayerFieldSet.rules(),
        UnionRule(DeployFieldSet, DeployFunctionFieldSet),
        *(ServerlessFunctionTarget.register_plugin_field(f) for f in DEPLOY_FIELDS),
    )
