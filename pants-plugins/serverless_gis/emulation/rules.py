"""Building CPython in the toolchain and running Lambda-style invoke tests in the runtime image."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any

from pants.core.goals.package import BuiltPackage
from pants.core.goals.test import TestFieldSet, TestRequest, TestResult, TestSubsystem
from pants.engine.fs import AddPrefix, CreateDigest, Digest, DigestEntries, Directory, DigestContents, DigestSubset, MergeDigests, PathGlobs
from pants.engine.rules import Get, MultiGet, collect_rules, rule
from pants.option.option_types import SkipOption
from pants.option.subsystem import Subsystem
from pants.util.logging import LogLevel
from serverless_gis.emulation.target_types import (
    InvokeEnvironmentField,
    InvokeEventField,
    InvokeExpectErrorField,
    InvokeHideField,
    InvokeExpectField,
    InvokeFunctionField,
    InvokeImageField,
    InvokePythonField,
)
from serverless_gis.artifact import unzip_into
from serverless_gis.function.rules import FunctionLayers, FunctionLayersRequest, ServerlessFunctionFieldSet
from serverless_gis.function.target_types import ServerlessFunctionTarget
from serverless_gis.native.cpython import BuiltCPython, CPythonRequest
from serverless_gis.publish.target_types import DeployEphemeralStorageField
from serverless_gis.native.rules import NativeBuildError, ToolchainImage, ToolchainImageRequest, run_in_image
from serverless_gis.native.step_scripts import step_path, step_scripts
from serverless_gis.native.subsystem import NativeBuildSubsystem
from serverless_gis.runtime.rules import RuntimeRequest, ServerlessRuntime
from serverless_gis.references import FieldReference, target_of_type

class ServerlessInvokeTestSubsystem(Subsystem):
    options_scope = "invoke-test"
    name = "Lambda-style invoke tests"
    help = "Options for `serverless_invoke_test` targets."

    skip = SkipOption("test")


@dataclass(frozen=True)
class InvokeTestFieldSet(TestFieldSet):
    required_fields = (InvokeFunctionField, InvokeImageField, InvokePythonField)

    function: InvokeFunctionField
    event: InvokeEventField
    expect: InvokeExpectField
    expect_error: InvokeExpectErrorField
    environment: InvokeEnvironmentField
    hide: InvokeHideField
    image: InvokeImageField
    python: InvokePythonField


class InvokeTestRequest(TestRequest):
    tool_subsystem = ServerlessInvokeTestSubsystem
    field_set_type = InvokeTestFieldSet


@rule(desc="Invoke a serverless function in the runtime emulation", level=LogLevel.DEBUG)
async def run_invoke_test(
    batch: InvokeTestRequest.Batch[InvokeTestFieldSet, Any],
    test_subsystem: TestSubsystem,
    native_build: NativeBuildSubsystem,
) -> TestResult:
    field_set = batch.single_element
    address = field_set.address
    function = await target_of_type(FieldReference.of(field_set.function), ServerlessFunctionTarget)
    function_fs = ServerlessFunctionFieldSet.create(function)
    runtime = await Get(ServerlessRuntime, RuntimeRequest, RuntimeRequest.of(function_fs.runtime))
    package, layers, image, python = await MultiGet(
        Get(BuiltPackage, ServerlessFunctionFieldSet, function_fs),
        Get(FunctionLayers, FunctionLayersRequest(function.address, tuple(function_fs.layers.value or ()), runtime)),
        Get(ToolchainImage, ToolchainImageRequest, ToolchainImageRequest.of(field_set.image)),
        Get(BuiltCPython, CPythonRequest(field_set.python, runtime.address)),
    )
    model = runtime.model
    zip_path = package.artifacts[0].relpath
    manifest_path = next(a.relpath for a in package.artifacts if a.relpath.endswith(".manifest.json"))
    manifest = json.loads((await Get(DigestContents, DigestSubset(package.digest, PathGlobs([manifest_path]))))[0].content)
    task = await unzip_into(package.digest, zip_path, "task")
    opts = [await unzip_into(layer.artifact.digest, layer.artifact.path, "opt") for layer in layers.layers]
    lang = await Get(Digest, AddPrefix(python.tree, "lang"))
    invoker = await step_scripts("lambda-invoke.py")
    # Lambda extracts each layer over the previous ones into /opt.
    opt = await Get(Digest, MergeDigests([*opts, await Get(Digest, CreateDigest([Directory("opt")]))]))
    if field_set.hide.value:
        present = {e.path for e in await Get(DigestEntries, Digest, opt)}
        missing = [p for p in field_set.hide.value if f"opt/{p.lstrip('/')}" not in present]
        if missing:
            raise NativeBuildError(f"{address}: `hide` lists {missing}, which the function's layers do not hold.")
        opt = await Get(
            Digest, DigestSubset(opt, PathGlobs(["**", *(f"!opt/{p.lstrip('/')}" for p in field_set.hide.value)]))
        )
    input_digest = await Get(Digest, MergeDigests([task, opt, lang, invoker]))
    result = await run_in_image(
        native_build,
        image,
        address,
        (
            "env", "-i", *model.environment_for(runtime.python_version), *model.emulation_environment(runtime.machine),
            *(f"{k}={v}" for k, v in sorted((field_set.environment.value or {}).items())),
            f"{python.prefix}/bin/python3", "-I", f"/work/{step_path('lambda-invoke.py')}",
            manifest["handler"], field_set.event.value,
        ),
        input_digest,
        description=f"Invoke {function.address} in {image.address}",
        extra_env={
            "SGIS_MOUNTS": f"opt:{model.layer_root} task:{model.task_root} lang:{python.prefix}",
            "SGIS_DOCKER_ARGS": " ".join(model.sandbox_docker_args(tmp_mb=function.get(DeployEphemeralStorageField).value)),
        },
        check=False,
    )
    test_result = TestResult.from_fallible_process_result(result, address=address, output_setting=test_subsystem.output)
    if field_set.expect_error.value is not None:
        output = result.stdout.decode(errors="replace") + result.stderr.decode(errors="replace")
        if result.exit_code == 0 or field_set.expect_error.value not in output:
            return dataclasses.replace(
                test_result,
                exit_code=1,
                stdout=f"{output}\nexpected the invoke to fail with an error containing "
                f"{field_set.expect_error.value!r}; it {'succeeded' if result.exit_code == 0 else 'failed otherwise'}.\n",
            )
        return dataclasses.replace(test_result, exit_code=0)
    if result.exit_code == 0:
        got = json.loads(result.stdout.decode() or "null")
        want = json.loads(field_set.expect.value)
        if got != want:
            return dataclasses.replace(
                test_result,
                exit_code=1,
                stdout=f"{result.stdout.decode()}\nresult differs from `expect`:\n  got:  {json.dumps(got, sort_keys=True)}\n  want: {json.dumps(want, sort_keys=True)}\n",
            )
    return test_result


def rules():
    return (*collect_rules(), *InvokeTestRequest.rules())
