"""Building CPython in the toolchain and running Lambda-style invoke tests in the runtime image."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any

from pants.core.goals.package import BuiltPackage
from pants.core.goals.test import TestFieldSet, TestRequest, TestResult, TestSubsystem
from pants.core.util_rules.archive import ExtractedArchive, MaybeExtractArchiveRequest
from pants.engine.addresses import Address
from pants.engine.fs import AddPrefix, CreateDigest, Digest, Directory, DigestContents, DigestSubset, MergeDigests, PathGlobs, RemovePrefix
from pants.engine.rules import Get, MultiGet, collect_rules, rule
from pants.engine.target import FieldSet
from pants.option.option_types import SkipOption
from pants.option.subsystem import Subsystem
from pants.util.logging import LogLevel
from serverless_gis.emulation.target_types import (
    CPythonPrefixField,
    InvokeEventField,
    InvokeExpectField,
    InvokeFunctionField,
    InvokeImageField,
    InvokePythonField,
)
from serverless_gis.function.rules import FunctionLayers, FunctionLayersRequest, ServerlessFunctionFieldSet
from serverless_gis.function.target_types import ServerlessFunctionTarget
from serverless_gis.native.rules import (
    NativeBuildError,
    NativeSource,
    NativeSourceRequest,
    ToolchainImage,
    ToolchainImageRequest,
    run_in_image,
)
from serverless_gis.native.subsystem import NativeBuildSubsystem
from serverless_gis.native.target_types import NativeSourceField, NativeToolchainField
from serverless_gis.runtime.rules import RuntimeRequest, ServerlessRuntime
from serverless_gis.targets import target_named_by

PYTHON_BUILD = "build-support/python-build"
POLICY = "native/policy/aws-al2023.json"
# What AWS Lambda's python runtime sets (python3.12+, Amazon Linux 2023).
LAMBDA_ENV = (
    "LD_LIBRARY_PATH=/var/lang/lib:/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:/var/task:/var/task/lib:/opt/lib",
    "PATH=/var/lang/bin:/usr/local/bin:/usr/bin:/bin:/opt/bin",
    "LANG=en_US.UTF-8",
    "TZ=:UTC",
    "LAMBDA_TASK_ROOT=/var/task",
)


@dataclass(frozen=True)
class CPythonBuildFieldSet(FieldSet):
    required_fields = (NativeSourceField, NativeToolchainField, CPythonPrefixField)

    source: NativeSourceField
    toolchain: NativeToolchainField
    prefix: CPythonPrefixField


@dataclass(frozen=True)
class BuiltCPython:
    address: Address
    tree: Digest
    prefix: str


@rule(desc="Build CPython", level=LogLevel.DEBUG)
async def build_cpython(field_set: CPythonBuildFieldSet, native_build: NativeBuildSubsystem) -> BuiltCPython:
    address = field_set.address
    image, source, recipe = await MultiGet(
        Get(ToolchainImage, ToolchainImageRequest(field_set.toolchain.value, address, "toolchain")),
        Get(NativeSource, NativeSourceRequest(field_set.source)),
        Get(Digest, PathGlobs([f"{PYTHON_BUILD}/build-cpython.sh", POLICY])),
    )
    result = await run_in_image(
        native_build,
        image,
        address,
        (
            "bash", f"{PYTHON_BUILD}/build-cpython.sh", source.path, "out",
            "--prefix", field_set.prefix.value, "--policy", POLICY,
            "--portabilize", "build-support/docker/portabilize.py",
        ),
        await Get(Digest, MergeDigests([source.digest, recipe])),
        description=f"Build CPython {address}",
        output_directories=("out",),
        ccache=True,
    )
    tree = await Get(Digest, RemovePrefix(result.output_digest, "out"))
    return BuiltCPython(address, tree, field_set.prefix.value)


class ServerlessInvokeTestSubsystem(Subsystem):
    options_scope = "invoke-test"
    name = "Lambda-style invoke tests"
    help = "Options for `serverless_invoke_test` targets."

    skip = SkipOption("test")


@dataclass(frozen=True)
class InvokeTestFieldSet(TestFieldSet):
    required_fields = (InvokeFunctionField, InvokeExpectField, InvokeImageField, InvokePythonField)

    function: InvokeFunctionField
    event: InvokeEventField
    expect: InvokeExpectField
    image: InvokeImageField
    python: InvokePythonField


class InvokeTestRequest(TestRequest):
    tool_subsystem = ServerlessInvokeTestSubsystem
    field_set_type = InvokeTestFieldSet


async def unzip_into(zip_digest: Digest, zip_path: str, prefix: str) -> Digest:
    only_zip = await Get(Digest, DigestSubset(zip_digest, PathGlobs([zip_path])))
    extracted = await Get(ExtractedArchive, MaybeExtractArchiveRequest(only_zip))
    return await Get(Digest, AddPrefix(extracted.digest, prefix))


@rule(desc="Invoke a serverless function in the runtime emulation", level=LogLevel.DEBUG)
async def run_invoke_test(
    batch: InvokeTestRequest.Batch[InvokeTestFieldSet, Any],
    test_subsystem: TestSubsystem,
    native_build: NativeBuildSubsystem,
) -> TestResult:
    field_set = batch.single_element
    address = field_set.address
    function = await target_named_by(field_set.function.value, address, "function")
    if not isinstance(function, ServerlessFunctionTarget):
        raise NativeBuildError(f"{address}: `function` names {function.address}, not a `serverless_function`.")
    function_fs = ServerlessFunctionFieldSet.create(function)
    runtime = await Get(ServerlessRuntime, RuntimeRequest(function_fs.runtime.value, function.address))
    package, layers, image = await MultiGet(
        Get(BuiltPackage, ServerlessFunctionFieldSet, function_fs),
        Get(FunctionLayers, FunctionLayersRequest(function.address, tuple(function_fs.layers.value or ()), runtime)),
        Get(ToolchainImage, ToolchainImageRequest(field_set.image.value, address, "image")),
    )
    python_target = await target_named_by(field_set.python.value, address, "python")
    python = await Get(BuiltCPython, CPythonBuildFieldSet, CPythonBuildFieldSet.create(python_target))
    zip_path = package.artifacts[0].relpath
    manifest_path = next(a.relpath for a in package.artifacts if a.relpath.endswith(".manifest.json"))
    manifest = json.loads((await Get(DigestContents, DigestSubset(package.digest, PathGlobs([manifest_path]))))[0].content)
    task = await unzip_into(package.digest, zip_path, "task")
    opts = [await unzip_into(layer.artifact.digest, layer.artifact.path, "opt") for layer in layers.layers]
    lang = await Get(Digest, AddPrefix(python.tree, "lang"))
    invoker = await Get(Digest, PathGlobs([f"{PYTHON_BUILD}/lambda-invoke.py"]))
    # Lambda extracts each layer over the previous ones into /opt.
    opt = await Get(Digest, MergeDigests([*opts, await Get(Digest, CreateDigest([Directory("opt")]))]))
    input_digest = await Get(Digest, MergeDigests([task, opt, lang, invoker]))
    result = await run_in_image(
        native_build,
        image,
        address,
        (
            "env", "-i", *LAMBDA_ENV,
            f"{python.prefix}/bin/python3", "-I", f"/work/{PYTHON_BUILD}/lambda-invoke.py",
            manifest["handler"], field_set.event.value,
        ),
        input_digest,
        description=f"Invoke {function.address} in {image.address}",
        extra_env={"SGIS_MOUNTS": f"opt:/opt task:/var/task lang:{python.prefix}"},
        check=False,
    )
    test_result = TestResult.from_fallible_process_result(result, address=address, output_setting=test_subsystem.output)
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
