"""Files shipped inside the ruleset's packages (scripts that processes run, test servers)."""

from __future__ import annotations

import pkgutil
from typing import Iterable

from pants.engine.fs import CreateDigest, Digest, FileContent
from pants.engine.rules import Get


def package_resource(package: str, name: str) -> bytes:
    """`name` from `package`, e.g. `("serverless_gis.scripts", "build_artifact.py")`."""
    try:
        content = pkgutil.get_data(package, name)
    except OSError:
        content = None
    if content is None:
        raise FileNotFoundError(
            f"`{name}` is not shipped in the `{package}` package: list it in that package's `resources` target"
        )
    return content


async def package_resources_digest(package: str, names: Iterable[str]) -> Digest:
    """`names` from `package`, at the sandbox root (e.g. a tool's scripts)."""
    return await Get(Digest, CreateDigest(FileContent(name, package_resource(package, name)) for name in names))
