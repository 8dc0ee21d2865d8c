"""Ask advisory services about every component of some CycloneDX SBOMs, each by what can match it:

  kind        asked                                               components
  <purl type> OSV `POST <url>/v1/querybatch`, by package URL      those whose purl type is in
              (`pypi`, or `generic` when the org indexes it)      `purl_types` (PyPI distributions)
  Debian:<N>  OSV, by ecosystem `Debian:<N>` + the Debian source  natives built from a Debian source
              package and version (canary: `debian`)              package (policy (a))
  commit      OSV, by the upstream tag's commit                   natives built from an upstream
  cpe         an NVD CVE API 2.0 service, `GET <cpe_url>/rest/    release (policy (b)), and libraries
              json/cves/2.0?virtualMatchString=cpe:2.3:a:V:P:VER`  a native bundles that have a CPE

A Debian package is asked only as Debian: NVD and upstream commits do not know Debian's backports.

Before a kind's answers are trusted its canary (a version known to be vulnerable) is asked in the
same run: no advisory for it, no canary configured, or no answer at all (unreachable, an HTTP
error, not the API's format) means every component asked by that kind is NOT checked, never clean.
A component is checked when every kind it was asked by is trusted. Advisories found are reported
whatever the trust. A bundled library without a CPE is covered by its parent (its bugs are filed
against the project that vendors it): checked when the parent is.

Job: {"url", "cpe_url", "timeout", "purl_types", "canaries": {kind: canary}, "sboms": [paths]}.
Report: {"url", "cpe_url", "error", "sources": {kind: {"trusted", "canary", "reason", "asked"}},
"artifacts": [{"sbom", "artifact", "target", "checked", "via_parent": [names], "unchecked":
[{"component", "reason"}], "findings": [{"component", "version", "purl", "via", "advisories"}]}]}.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.parse
import urllib.request

from packageurl import PackageURL

BATCH = 1000  # OSV's limit of queries per batch
MAX_PAGES = 100
NVD_PAGE = 2000  # NVD's largest resultsPerPage
PROPERTY = "serverless-gis:"


class Unreachable(Exception):
    pass


def query_purl(purl: str) -> str:
    """What OSV matches: `pkg:type/namespace/name@version`, without qualifiers or subpath."""
    p = PackageURL.from_string(purl)
    return PackageURL(type=p.type, namespace=p.namespace, name=p.name, version=p.version).to_string()


def fetch(url: str, timeout: float, body: dict | None = None) -> dict:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        url, data=data, headers={"Content-Type": "application/json"} if data else {}, method="POST" if data else "GET"
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


# ---------------------------------------------------------------------------------------------
# The services
# ---------------------------------------------------------------------------------------------


def osv_batch(endpoint: str, queries: list[str], timeout: float) -> dict[str, list[str]]:
    """Advisory ids per OSV query (each a JSON object as a sorted-keys string); every page read."""
    found: dict[str, list[str]] = {q: [] for q in queries}
    pending = [(q, None) for q in queries]
    for _ in range(MAX_PAGES):
        batch, pending = pending[:BATCH], pending[BATCH:]
        body = [{**json.loads(q), **({"page_token": token} if token else {})} for q, token in batch]
        answer = fetch(endpoint, timeout, {"queries": body})
        results = answer.get("results") if isinstance(answer, dict) else None
        if not isinstance(results, list) or len(results) != len(batch):
            raise Unreachable(
                f"{endpoint} did not answer {len(batch)} queries with {len(batch)} results: {json.dumps(answer)[:200]}"
            )
        for (query, _), result in zip(batch, results):
            vulns = (result or {}).get("vulns", ()) if isinstance(result, (dict, type(None))) else None
            if not isinstance(vulns, (list, tuple)) or not all(isinstance(v, dict) and "id" in v for v in vulns):
                raise Unreachable(f"{endpoint} answered {query} with something that is not OSV's: {json.dumps(result)[:200]}")
            found[query].extend(v["id"] for v in vulns)
            if (result or {}).get("next_page_token"):
                pending.append((query, result["next_page_token"]))
        if not pending:
            return {q: sorted(set(ids)) for q, ids in found.items()}
    raise Unreachable(f"{endpoint} kept paging past {MAX_PAGES} batches")


def nvd_cves(base: str, match: str, timeout: float) -> list[str]:
    """CVE ids NVD's CVE API 2.0 lists for a CPE match string; every page read."""
    ids: list[str] = []
    start = 0
    for _ in range(MAX_PAGES):
        query = urllib.parse.urlencode({"virtualMatchString": match, "startIndex": start, "resultsPerPage": NVD_PAGE})
        url = f"{base.rstrip('/')}/rest/json/cves/2.0?{query}"
        answer = fetch(url, timeout)
        vulns = answer.get("vulnerabilities") if isinstance(answer, dict) else None
        total = answer.get("totalResults") if isinstance(answer, dict) else None
        if not isinstance(vulns, list) or not isinstance(total, int) or not all(
            isinstance(v, dict) and isinstance(v.get("cve"), dict) and "id" in v["cve"] for v in vulns
        ):
            raise Unreachable(f"{url} answered with something that is not NVD's CVE API 2.0: {json.dumps(answer)[:200]}")
        ids.extend(v["cve"]["id"] for v in vulns)
        start += len(vulns)
        if start >= total or not vulns:
            return sorted(set(ids))
    raise Unreachable(f"{base} kept paging past {MAX_PAGES} pages for {match}")


# ---------------------------------------------------------------------------------------------
# What each component is asked by
# ---------------------------------------------------------------------------------------------


def osv(**query) -> str:
    return json.dumps(query, sort_keys=True)


def cpe_match(cpe: str) -> str:
    """`cpe:2.3:a:vendor:product:version` of a full CPE 2.3 name: NVD's virtualMatchString."""
    return ":".join(split_cpe(cpe)[:6])


def split_cpe(cpe: str) -> list[str]:
    return re.split(r"(?<!\\):", cpe)


def property_value(component: dict, name: str) -> str | None:
    return next((p["value"] for p in component.get("properties", ()) if p["name"] == PROPERTY + name), None)


def debian_canary(canary: str) -> tuple[str, str, str]:
    """(ecosystem, source, version) of `pkg:deb/debian/<source>@<version>?distro=debian-<N>`."""
    p = PackageURL.from_string(canary)
    return f"Debian:{p.qualifiers['distro'].split('-', 1)[1]}", p.name, p.version


def asks(component: dict, purl_types: list[str]) -> tuple[list[tuple[str, str, str]], str | None]:
    """What to ask about a component: [(kind, service query, description)], or the reason it
    cannot be asked."""
    purl = component.get("purl")
    kind = PackageURL.from_string(purl).type if purl else None
    found: list[tuple[str, str, str]] = []
    if kind and kind in purl_types and component.get("version"):
        q = query_purl(purl)
        found.append((kind, osv(package={"purl": q}), q))
    ecosystem = property_value(component, "debian_ecosystem")
    if ecosystem:
        source, version = property_value(component, "debian_source"), property_value(component, "debian_version")
        found.append(
            (ecosystem, osv(package={"name": source, "ecosystem": ecosystem}, version=version), f"{ecosystem} {source} {version}")
        )
    else:
        commit = property_value(component, "upstream_commit")
        if commit:
            found.append(("commit", osv(commit=commit), f"commit {commit}"))
        if component.get("cpe") and component.get("version"):  # without a version a CPE matches every release
            match = cpe_match(component["cpe"])
            found.append(("cpe", match, match))
    if found:
        return found, None
    if kind and kind not in purl_types:
        return [], f"pkg:{kind} is not among the service's purl_types"
    if not component.get("version"):
        return [], "no version"
    return [], "no identity to ask by (`cpe`, `debian` or an upstream `commit`)"


# ---------------------------------------------------------------------------------------------
# The check
# ---------------------------------------------------------------------------------------------


def canary_queries(canaries: dict[str, str]) -> dict[str, tuple[str, str]]:
    """Per kind the canary's (service query, description)."""
    out = {}
    for kind, canary in canaries.items():
        if kind.startswith("debian"):  # `debian`, or one per release: `debian-12`, ...
            ecosystem, source, version = debian_canary(canary)
            out[ecosystem] = (osv(package={"name": source, "ecosystem": ecosystem}, version=version), f"{ecosystem} {source} {version}")
        elif kind == "commit":
            out[kind] = (osv(commit=canary), f"commit {canary}")
        elif kind == "cpe":
            out[kind] = (cpe_match(canary), cpe_match(canary))
        else:
            out[kind] = (osv(package={"purl": query_purl(canary)}), query_purl(canary))
    return out


def check(job: dict) -> dict:
    purl_types = job["purl_types"]
    artifacts = []
    for path in job["sboms"]:
        with open(path) as f:
            sbom = json.load(f)
        root = sbom["metadata"]["component"]
        entries = []  # (name, version, purl, asks, reason, parent)
        for component in sbom.get("components", ()):
            if not component.get("purl"):
                continue  # a function's layers: their own SBOMs are checked
            found, reason = asks(component, purl_types)
            entries.append((component["name"], component.get("version"), component["purl"], found, reason, None))
            for lib in component.get("components", ()):
                name = f"{component['name']}/{lib['name']}"
                if lib.get("cpe"):
                    match = cpe_match(lib["cpe"])
                    entries.append((name, lib.get("version"), None, [("cpe", match, match)], None, None))
                else:
                    entries.append((name, lib.get("version"), None, [], None, component["name"]))
        artifacts.append({"sbom": path, "artifact": root["name"], "target": property_value(root, "target"), "entries": entries})

    needed = {kind for a in artifacts for e in a["entries"] for kind, _, _ in e[3]}
    canaries = canary_queries(job["canaries"])
    osv_queries = sorted(
        {q for a in artifacts for e in a["entries"] for kind, q, _ in e[3] if kind != "cpe"}
        | {canaries[k][0] for k in needed if k in canaries and k != "cpe"}
    )
    cpe_queries = sorted(
        {q for a in artifacts for e in a["entries"] for kind, q, _ in e[3] if kind == "cpe"}
        | ({canaries["cpe"][0]} if "cpe" in needed and "cpe" in canaries else set())
    )

    errors: list[str] = []
    answers: dict[str, list[str]] = {}
    failed: dict[str, str] = {}  # service -> why it gave no answer
    if osv_queries:
        try:
            answers.update(osv_batch(job["url"].rstrip("/") + "/v1/querybatch", osv_queries, job["timeout"]))
        except Unreachable as e:
            failed["osv"] = str(e)
            errors.append(str(e))
    if cpe_queries:
        if not job.get("cpe_url"):
            failed["cpe"] = "no CPE source is configured (`[serverless-advisories].cpe_url`)"
        else:
            try:
                for q in cpe_queries:
                    answers[q] = nvd_cves(job["cpe_url"], q, job["timeout"])
            except Unreachable as e:
                failed["cpe"] = str(e)
                errors.append(str(e))

    sources = {}
    for kind in sorted(needed):
        service = "cpe" if kind == "cpe" else "osv"
        canary = canaries.get(kind)
        if service in failed:
            trusted, reason = False, failed[service]
        elif canary is None:
            trusted, reason = False, f"no canary is configured for {kind} (`[serverless-advisories].canaries`), so its answers cannot be trusted"
        elif not answers.get(canary[0]):
            trusted, reason = False, f"the canary {canary[1]} (known vulnerable) got no advisory: this source does not cover {kind}"
        else:
            trusted, reason = True, None
        sources[kind] = {
            "trusted": trusted,
            "canary": canary[1] if canary else None,
            "reason": reason,
            "asked": sum(1 for a in artifacts for e in a["entries"] if any(k == kind for k, _, _ in e[3])),
        }

    report = {"url": job["url"], "cpe_url": job.get("cpe_url"), "error": "; ".join(errors) or None, "sources": sources, "artifacts": []}
    for artifact in artifacts:
        entries = artifact.pop("entries")
        checked, via_parent, unchecked, findings = 0, [], [], []
        status: dict[str, bool] = {}
        for name, version, purl, found, reason, parent in entries:
            if parent is not None:
                continue
            ids = sorted({i for _, q, _ in found for i in answers.get(q, ())})
            if ids:
                findings.append(
                    {"component": name, "version": version, "purl": purl, "via": ", ".join(d for _, _, d in found), "advisories": ids}
                )
            why = reason or "; ".join(f"{kind}: {sources[kind]['reason']}" for kind, _, _ in found if not sources[kind]["trusted"])
            status[name] = not why
            if why:
                unchecked.append({"component": name, "reason": why})
            else:
                checked += 1
        for name, _, _, _, _, parent in entries:
            if parent is None:
                continue
            if status[parent]:
                checked += 1
                via_parent.append(name)
            else:
                unchecked.append({"component": name, "reason": f"covered by {parent}, which was NOT checked"})
        artifact.update(checked=checked, via_parent=via_parent, unchecked=unchecked, findings=findings)
        report["artifacts"].append(artifact)
    return report
