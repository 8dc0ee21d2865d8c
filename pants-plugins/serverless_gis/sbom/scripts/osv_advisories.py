"""Query an OSV-compatible advisory service (`POST <url>/v1/querybatch`) for every component of
some CycloneDX SBOMs, by package URL.

A service that cannot be reached, answers with an HTTP error or with something that is not an
OSV batch answer is reported as `error`: the components were NOT checked, which the caller must
never read as "no advisories". Components without a version, or whose purl type the service does
not index (`purl_types`), are listed as `unchecked` with the reason.

Job: {"url", "timeout", "purl_types": [types], "sboms": [paths]}. Report: {"url", "error", "artifacts": [{"sbom",
"artifact", "target", "checked", "unchecked": [...], "findings": [{"component", "version",
"purl", "advisories": [ids]}]}]}.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request

from packageurl import PackageURL

BATCH = 1000  # OSV's limit of queries per batch
MAX_PAGES = 100


class Unreachable(Exception):
    pass


def query_purl(purl: str) -> str:
    """What OSV matches: `pkg:type/namespace/name@version`, without qualifiers or subpath."""
    p = PackageURL.from_string(purl)
    return PackageURL(type=p.type, namespace=p.namespace, name=p.name, version=p.version).to_string()


def post(url: str, body: dict, timeout: float) -> dict:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            payload = response.read()
    except urllib.error.HTTPError as e:
        raise Unreachable(f"{url} answered HTTP {e.code} {e.reason}") from e
    except (urllib.error.URLError, OSError) as e:
        reason = getattr(e, "reason", e)
        raise Unreachable(f"{url} could not be reached: {reason}") from e
    try:
        return json.loads(payload)
    except ValueError as e:
        raise Unreachable(f"{url} answered with something that is not JSON: {payload[:200]!r}") from e


def query_batch(endpoint: str, purls: list[str], timeout: float) -> dict[str, list[str]]:
    """Advisory ids per purl; every page of every answer is read."""
    found: dict[str, list[str]] = {p: [] for p in purls}
    pending = [(p, None) for p in purls]
    for _ in range(MAX_PAGES):
        batch, pending = pending[:BATCH], pending[BATCH:]
        queries = [{"package": {"purl": p}, **({"page_token": token} if token else {})} for p, token in batch]
        answer = post(endpoint, {"queries": queries}, timeout)
        results = answer.get("results") if isinstance(answer, dict) else None
        if not isinstance(results, list) or len(results) != len(batch):
            raise Unreachable(
                f"{endpoint} did not answer {len(batch)} queries with {len(batch)} results: {json.dumps(answer)[:200]}"
            )
        for (purl, _), result in zip(batch, results):
            vulns = (result or {}).get("vulns", ()) if isinstance(result, (dict, type(None))) else None
            if not isinstance(vulns, (list, tuple)) or not all(isinstance(v, dict) and "id" in v for v in vulns):
                raise Unreachable(f"{endpoint} answered {purl} with something that is not OSV's: {json.dumps(result)[:200]}")
            found[purl].extend(v["id"] for v in vulns)
            if (result or {}).get("next_page_token"):
                pending.append((purl, result["next_page_token"]))
        if not pending:
            return {p: sorted(set(ids)) for p, ids in found.items()}
    raise Unreachable(f"{endpoint} kept paging past {MAX_PAGES} batches")


def property_value(component: dict, name: str) -> str | None:
    return next((p["value"] for p in component.get("properties", ()) if p["name"] == name), None)


def check(job: dict) -> dict:
    endpoint = job["url"].rstrip("/") + "/v1/querybatch"
    artifacts = []
    wanted: set[str] = set()
    for path in job["sboms"]:
        with open(path) as f:
            sbom = json.load(f)
        root = sbom["metadata"]["component"]
        checkable, unchecked = [], []
        for component in sbom.get("components", ()):
            purl = component.get("purl")
            if not purl:
                continue
            kind = PackageURL.from_string(purl).type
            if kind not in job["purl_types"]:
                unchecked.append({"component": component["name"], "reason": f"pkg:{kind} is not among the service's purl_types"})
            elif not component.get("version"):
                unchecked.append({"component": component["name"], "reason": "no version"})
            else:
                checkable.append((component, query_purl(purl)))
        wanted.update(purl for _, purl in checkable)
        artifacts.append(
            {
                "sbom": path,
                "artifact": root["name"],
                "target": property_value(root, "serverless-gis:target"),
                "checkable": checkable,
                "unchecked": unchecked,
            }
        )
    report = {"url": job["url"], "error": None, "artifacts": []}
    try:
        advisories = query_batch(endpoint, sorted(wanted), job["timeout"]) if wanted else {}
    except Unreachable as e:
        report["error"] = str(e)
        advisories = None
    for artifact in artifacts:
        checkable = artifact.pop("checkable")
        artifact["checked"] = len(checkable) if advisories is not None else 0
        artifact["findings"] = [
            {
                "component": component["name"],
                "version": component["version"],
                "purl": purl,
                "advisories": advisories[purl],
            }
            for component, purl in checkable
            if advisories and advisories[purl]
        ]
        report["artifacts"].append(artifact)
    return report
