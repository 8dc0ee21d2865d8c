"""The reviewed VEX file of `[serverless-advisories].vex`: statements that a component is not affected
by an advisory, each with a justification, a reason, a reviewer and an expiry date.

    {"statements": [{
        "component": "gdal",              # as the gate names it; a bundled library "gdal/libgeotiff"
        "version": "3.13.3",              # optional: only this version
        "advisory": "CVE-2026-12345",
        "status": "not_affected",
        "justification": "code_not_present",
        "reason": "the driver is not built (-DGDAL_ENABLE_DRIVER_X=OFF)",
        "reviewer": "Jane Doe <jane@example.org>",
        "expires": "2027-06-30"           # valid through that day
    }]}

An unexpired statement suppresses the finding; an expired one suppresses nothing and fails the goal
(a review that lapsed is no review).
"""

from __future__ import annotations

import datetime
import json
from dataclasses import dataclass

# CycloneDX 1.6 `analysis.justification` and OpenVEX's justifications.
JUSTIFICATIONS = frozenset(
    {
        "code_not_present",
        "code_not_reachable",
        "requires_configuration",
        "requires_dependency",
        "requires_environment",
        "protected_by_compiler",
        "protected_at_runtime",
        "protected_at_perimeter",
        "protected_by_mitigating_control",
        "component_not_present",
        "vulnerable_code_not_present",
        "vulnerable_code_cannot_be_controlled_by_adversary",
        "vulnerable_code_not_in_execute_path",
        "inline_mitigations_already_exist",
    }
)
REQUIRED = ("component", "advisory", "status", "justification", "reason", "reviewer", "expires")
KEYS = frozenset((*REQUIRED, "version"))


class VexError(ValueError):
    pass


@dataclass(frozen=True)
class Statement:
    index: int
    component: str
    version: str | None
    advisory: str
    justification: str
    reason: str
    reviewer: str
    expires: datetime.date

    def describe(self) -> str:
        version = f" {self.version}" if self.version else ""
        return f"statement {self.index} ({self.component}{version}, {self.advisory}; reviewer {self.reviewer}, expires {self.expires})"

    def covers(self, component: str, version: str | None, advisory: str) -> bool:
        return (self.component, self.advisory) == (component, advisory) and self.version in (None, version)


def parse(path: str, content: bytes) -> tuple[Statement, ...]:
    """The statements, or VexError naming the file, the statement and the fix."""
    try:
        doc = json.loads(content)
    except ValueError as e:
        raise VexError(f"{path} (`[serverless-advisories].vex`) is not JSON: {e}.") from e
    if not isinstance(doc, dict) or not isinstance(doc.get("statements"), list):
        raise VexError(f'{path} (`[serverless-advisories].vex`) must be {{"statements": [...]}}.')
    statements = []
    for i, entry in enumerate(doc["statements"]):
        where = f"{path}: statement {i}"
        if not isinstance(entry, dict):
            raise VexError(f"{where} is not an object.")
        where += f" ({entry.get('component', '?')}, {entry.get('advisory', '?')})"
        missing = [k for k in REQUIRED if not isinstance(entry.get(k), str) or not entry[k].strip()]
        unknown = sorted(set(entry) - KEYS)
        if missing or unknown:
            raise VexError(f"{where} lacks {missing} or has unknown keys {unknown}. Fix: give {', '.join(REQUIRED)} (and optionally version).")
        if entry["status"] != "not_affected":
            raise VexError(
                f"{where} has status {entry['status']!r}. Fix: only `not_affected` statements suppress a finding; "
                "remove the statement until the review concludes not_affected."
            )
        if entry["justification"] not in JUSTIFICATIONS:
            raise VexError(f"{where} has justification {entry['justification']!r}. Fix: one of {', '.join(sorted(JUSTIFICATIONS))}.")
        if len(entry["reason"].split()) < 4:
            raise VexError(f"{where} gives no reason ({entry['reason']!r}). Fix: say why the component is not affected; it is the review record.")
        try:
            expires = datetime.date.fromisoformat(entry["expires"])
        except ValueError as e:
            raise VexError(f"{where} has expires {entry['expires']!r}. Fix: an ISO date, e.g. 2027-06-30.") from e
        statements.append(
            Statement(
                index=i,
                component=entry["component"],
                version=entry.get("version"),
                advisory=entry["advisory"],
                justification=entry["justification"],
                reason=entry["reason"],
                reviewer=entry["reviewer"],
                expires=expires,
            )
        )
    return tuple(statements)


def apply(artifacts: list[dict], statements: tuple[Statement, ...], today: datetime.date) -> tuple[list[dict], list[Statement]]:
    """The artifacts with each finding's advisories split into `advisories` (still findings) and
    `suppressed` ([{advisory, statement}]), findings left with no advisory moved to the artifact's
    `suppressed`; and the expired statements (which suppress nothing)."""
    valid = [s for s in statements if s.expires >= today]
    expired = [s for s in statements if s.expires < today]
    out = []
    for artifact in artifacts:
        findings, suppressed = [], []
        for finding in artifact["findings"]:
            kept, quiet = [], []
            for advisory in finding["advisories"]:
                statement = next((s for s in valid if s.covers(finding["component"], finding["version"], advisory)), None)
                if statement:
                    quiet.append({"advisory": advisory, "statement": statement.describe(), "justification": statement.justification})
                else:
                    kept.append(advisory)
            if kept:
                findings.append({**finding, "advisories": kept})
            if quiet:
                suppressed.append({**finding, "advisories": [q["advisory"] for q in quiet], "by": quiet})
        out.append({**artifact, "findings": findings, "suppressed": suppressed})
    return out, expired
