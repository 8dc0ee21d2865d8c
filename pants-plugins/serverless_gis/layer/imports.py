"""The layer's import check: every module it ships that imports from the unpruned tree imports
from the layer too (`steps/layer_imports.py`, run with the runtime's CPython in the toolchain
image, the layer at its mount point)."""

from __future__ import annotations

import json

from pants.engine.addresses import Address
from pants.engine.fs import AddPrefix, CreateDigest, Digest, DigestSubset, FileContent, MergeDigests, PathGlobs, RemovePrefix
from pants.engine.rules import Get
from serverless_gis.artifact import ZipArtifact
from serverless_gis.bindings.rules import BuiltBindings
from serverless_gis.native.rules import NativeBuildError, ToolchainImage, ToolchainImageRequest, run_in_image
from serverless_gis.native.step_scripts import step_path, step_scripts
from serverless_gis.native.subsystem import NativeBuildSubsystem
from serverless_gis.resources import package_resource
from serverless_gis.runtime.rules import ServerlessRuntime


async def check_layer_imports(
    native_build: NativeBuildSubsystem,
    address: Address,
    runtime: ServerlessRuntime,
    artifact: ZipArtifact,
    unzipped: Digest,
    bindings: BuiltBindings,
) -> None:
    """`unzipped`: the layer under `layer/`; `artifact` built with `keep_pruned`."""
    assert artifact.pruned is not None
    model = runtime.model
    python_dir = model.layer_python_dir
    prefix = f"{python_dir}/"
    tops = {
        dist: sorted({p[len(prefix):] for p in paths if p.startswith(prefix)})
        for dist, paths in artifact.distribution_paths.items()
    }
    layer_python = await Get(Digest, DigestSubset(unzipped, PathGlobs([f"layer/{python_dir}/**"])))
    unpruned = await Get(
        Digest,
        MergeDigests([
            await Get(Digest, AddPrefix(await Get(Digest, RemovePrefix(layer_python, f"layer/{python_dir}")), "unpruned")),
            await Get(Digest, AddPrefix(artifact.pruned, "unpruned")),
        ]),
    )
    inputs = await Get(
        Digest,
        MergeDigests([
            unzipped,
            unpruned,
            await Get(Digest, AddPrefix(bindings.python.tree, "lang")),
            await step_scripts("layer_imports.py"),
            await Get(
                Digest,
                CreateDigest([
                    FileContent("distributions.json", json.dumps(tops, sort_keys=True).encode()),
                    # The check reads module names the way pruning does.
                    FileContent(step_path("import_closure.py"), package_resource("serverless_gis.scripts", "import_closure.py")),
                ]),
            ),
        ]),
    )
    # Where the interpreter runs as on the runtime's CPU: the bindings' toolchain's bare run image
    # (arm64: under qemu).
    if bindings.toolchain.run_image is None:
        raise NativeBuildError(
            f"{address}: checking its imports needs the `run_image` of {bindings.toolchain.address}, "
            "which has none. Fix: give that toolchain_image a `run_image` (a bare image of its arch)."
        )
    image = await Get(ToolchainImage, ToolchainImageRequest, bindings.toolchain.run_image)
    await run_in_image(
        native_build,
        image,
        address,
        (
            "env", "-i", *model.environment_for(runtime.python_version), *model.emulation_environment(runtime.machine),
            # Not -I, which leaves the script's directory (import_closure.py) off sys.path.
            f"{bindings.python.prefix}/bin/python3", "-E", "-s", step_path("layer_imports.py"),
            "--layer", f"{model.layer_root}/{python_dir}", "--unpruned", "unpruned",
            "--distributions", "distributions.json",
        ),
        inputs,
        description=f"Check the imports of {address} after pruning",
        extra_env={"SGIS_MOUNTS": f"layer:{model.layer_root} lang:{bindings.python.prefix}"},
    )
