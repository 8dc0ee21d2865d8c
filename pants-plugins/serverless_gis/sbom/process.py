"""Running a command of the `[serverless-sbom]` tool (`scripts/serverless_sbom.py`) as a Pants process."""

from __future__ import annotations

from dataclasses import dataclass

from pants.backend.python.util_rules.pex import PexRequest, VenvPex, VenvPexProcess
from pants.engine.fs import Digest
from pants.engine.process import Process, ProcessCacheScope
from pants.engine.rules import Get, collect_rules, rule
from pants.util.frozendict import FrozenDict
from pants.util.logging import LogLevel
from serverless_gis.resources import package_resources_digest
from serverless_gis.sbom.subsystem import SbomTool

SCRIPTS = ("serverless_sbom.py", "cyclonedx_sbom.py", "license_gate.py", "osv_advisories.py", "source_bundle.py")


@dataclass(frozen=True)
class SbomToolRequest:
    argv: tuple[str, ...]  # a command of serverless_sbom.py and its arguments
    input_digest: Digest
    description: str
    output_files: tuple[str, ...] = ()
    cache_scope: ProcessCacheScope = ProcessCacheScope.SUCCESSFUL
    extra_env: FrozenDict[str, str] = FrozenDict()


@rule(level=LogLevel.DEBUG)
async def sbom_tool_process(request: SbomToolRequest, tool: SbomTool) -> Process:
    scripts = await package_resources_digest("serverless_gis.sbom.scripts", SCRIPTS)
    venv = await Get(VenvPex, PexRequest, tool.to_pex_request(sources=scripts))
    return await Get(
        Process,
        VenvPexProcess(
            venv,
            argv=request.argv,
            input_digest=request.input_digest,
            description=request.description,
            output_files=request.output_files,
            extra_env=request.extra_env,
            level=LogLevel.DEBUG,
            cache_scope=request.cache_scope,
        ),
    )


def rules():
    return (*collect_rules(), *SbomTool.rules())
