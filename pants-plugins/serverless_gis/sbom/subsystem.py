"""`[serverless-sbom]`: the CycloneDX tool (cyclonedx-python-lib) that writes and validates SBOMs,
evaluates licence expressions and queries advisory services, run in its own venv."""

from __future__ import annotations

from pants.backend.python.subsystems.python_tool_base import LockfileRules, PythonToolBase
from pants.backend.python.target_types import EntryPoint
from pants.util.strutil import help_text

CYCLONEDX = "cyclonedx-python-lib[json-validation]==11.12.0"


class SbomTool(PythonToolBase):
    options_scope = "serverless-sbom"
    name = "serverless-sbom"
    help = help_text(
        """
        The tool behind the CycloneDX SBOMs written beside every layer and function zip
        (`<zip stem>.cdx.json`), the licence gate (`[serverless-licenses]`) and the advisory check
        (`advisories` goal): cyclonedx-python-lib with its JSON schema validator, and the
        license-expression and packageurl-python libraries it depends on.
        """
    )

    default_version = CYCLONEDX
    default_main = EntryPoint("serverless_sbom", "main")
    default_requirements = [CYCLONEDX]

    register_interpreter_constraints = True
    default_interpreter_constraints = ["CPython>=3.10,<3.14"]

    default_lockfile_resource = ("serverless_gis.sbom", "serverless_sbom.lock")
    lockfile_rules_type = LockfileRules.SIMPLE
