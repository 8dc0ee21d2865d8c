"""The licence gate: a layer ships no native component whose licence is missing or not allowed."""

from __future__ import annotations

import json
from dataclasses import dataclass

from pants.engine.addresses import Address, Addresses
from pants.engine.fs import CreateDigest, Digest, DigestContents, DigestSubset, FileContent, PathGlobs
from pants.engine.process import ProcessResult
from pants.engine.rules import Get, collect_rules, rule
from pants.engine.target import Targets
from pants.util.logging import LogLevel
from serverless_gis.licenses.subsystem import LicensesSubsystem
from serverless_gis.native.target_types import NativeLicenseField
from serverless_gis.sbom.process import SbomToolRequest

JOB, VERDICT = "__licenses_job.json", "__licenses_verdict.json"


class LicenseGateError(Exception):
    pass


@dataclass(frozen=True)
class LicenseGateRequest:
    owner: Address  # the layer
    natives: tuple[Address, ...]  # every native_library it ships
    opt_in: tuple[str, ...]  # its `allowed_licenses`


@dataclass(frozen=True)
class LicenseGate:
    """The layer passed the gate."""


def gate_error(
    request: LicenseGateRequest, allowed_everywhere: tuple[str, ...], missing: list[Address], verdict: dict
) -> str | None:
    lines = [f"  {address}: declares no `license`" for address in missing]
    denied: set[str] = set()
    for c in verdict["components"]:
        if c["status"] == "invalid":
            lines.append(f"  {c['address']}: `license=\"{c['license']}\"` is not a valid SPDX expression ({c['error']})")
        elif c["status"] == "denied":
            denied.update(c["denied"])
            lines.append(f"  {c['address']}: {c['license']} (not allowed: {', '.join(c['denied'])})")
    for e in verdict["allow_list_errors"]:
        where = "`[serverless-licenses].allowed`" if e["source"] == "allowed" else "its `allowed_licenses`"
        lines.append(f"  {where} lists `{e['entry']}`: {e['error']}")
    if not lines:
        return None
    allowed = ", ".join(allowed_everywhere) or "nothing"
    opt_in = ", ".join(request.opt_in) or "none"
    fixes = []
    if missing or any(c["status"] == "invalid" for c in verdict["components"]):
        fixes.append(
            "set `license` (an SPDX expression, e.g. `BSD-3-Clause`) and `license_files` on each "
            "native_library named above"
        )
    if denied:
        fixes.append(
            "drop the component from the layer (its `natives`, its bindings' `natives`, or the "
            "native_library depending on it), or opt this layer in explicitly with "
            f"`allowed_licenses=[{', '.join(json.dumps(d) for d in sorted(denied))}]` (or add the "
            "licence to `[serverless-licenses].allowed` in pants.toml to allow it in every layer)"
        )
    if verdict["allow_list_errors"]:
        fixes.append("spell allow-list entries as SPDX licence ids (https://spdx.org/licenses/)")
    return (
        f"{request.owner}: the layer's native components fail the licence gate:\n"
        + "\n".join(lines)
        + f"\nAllowed everywhere ([serverless-licenses].allowed): {allowed}; this layer's "
        f"`allowed_licenses`: {opt_in}.\nFix: "
        + "; ".join(fixes)
        + "."
    )


@rule(desc="Check the licences of a layer's native components", level=LogLevel.DEBUG)
async def check_licenses(request: LicenseGateRequest, subsystem: LicensesSubsystem) -> LicenseGate:
    targets = await Get(Targets, Addresses(request.natives))
    declared = [(t.address, t[NativeLicenseField].value) for t in targets]
    missing = [address for address, license in declared if not license]
    job = {
        "allowed": list(subsystem.allowed),
        "opt_in": list(request.opt_in),
        "components": [{"address": str(a), "license": lic} for a, lic in declared if lic],
    }
    result = await Get(
        ProcessResult,
        SbomToolRequest(
            ("licenses", JOB, VERDICT),
            await Get(Digest, CreateDigest([FileContent(JOB, json.dumps(job, sort_keys=True).encode())])),
            description=f"Check the licences of the native components of {request.owner}",
            output_files=(VERDICT,),
        ),
    )
    contents = await Get(DigestContents, DigestSubset(result.output_digest, PathGlobs([VERDICT])))
    error = gate_error(request, tuple(subsystem.allowed), missing, json.loads(contents[0].content))
    if error:
        raise LicenseGateError(error)
    return LicenseGate()


def rules():
    return collect_rules()
