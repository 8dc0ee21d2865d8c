"""The scripts that run inside build processes, shipped with the ruleset as package resources."""

from __future__ import annotations

from pants.engine.fs import CreateDigest, Digest, FileContent
from pants.engine.rules import Get
from serverless_gis.resources import package_resource

# Where they sit in a process sandbox (mounted at /work in containers).
STEPS_DIR = "__steps"


def step_path(name: str) -> str:
    return f"{STEPS_DIR}/{name}"


async def step_scripts(*names: str) -> Digest:
    """`names` from the ruleset's `native/steps/`, at `step_path(name)`: a process gets only the
    scripts it runs, so editing one re-keys only the steps that run it."""
    files = []
    for name in names:
        content = package_resource("serverless_gis.native", f"steps/{name}")
        files.append(FileContent(step_path(name), content, is_executable=name.endswith(".sh")))
    return await Get(Digest, CreateDigest(files))
