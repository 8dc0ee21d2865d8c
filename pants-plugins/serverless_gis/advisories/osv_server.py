"""A small advisory service for tests, on 127.0.0.1, over a fixture database (a JSON file):

  POST /v1/querybatch             OSV's batch query, over `osv` records
  GET  /rest/json/cves/2.0?virtualMatchString=cpe:2.3:a:VENDOR:PRODUCT:VERSION[&startIndex=&resultsPerPage=]
                                  NVD's CVE API 2.0, over `nvd` items ({"cve": {...}} as NVD serves them)

    python3 osv_server.py --advisories db.json --port-file port.txt

The database is `{"osv": [records], "nvd": [items]}` (a plain list: OSV records only). An OSV record
matches a query when one of its `affected` entries does:
  - `{"package": {"purl": "pkg:pypi/six@1.17.0"}}`: the entry's package (its `purl`, or `ecosystem`
    + `name`) and the version in its `versions`;
  - `{"package": {"name": "curl", "ecosystem": "Debian:13"}, "version": "8.14.1-2+deb13u2"}`: the
    same ecosystem and name, and the version in `versions` or in an `ECOSYSTEM` range (Debian
    versions compared as dpkg does);
  - `{"commit": SHA}`: a `GIT` range whose `introduced` or `last_affected` event is that commit,
    or `database_specific.affected_commits` listing it (a fixture cannot walk a repository's history).
An NVD item matches when a vulnerable `cpeMatch` of its configurations names the vendor and product
and its version, or a range (`versionStart/End{In,Ex}cluding`) holding it.
Stdlib only; serves until killed.
"""

from __future__ import annotations

import argparse
import json
import os
import re
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

PURL = re.compile(r"pkg:(?P<type>[^/]+)/(?P<name>[^@?#]+)@(?P<version>[^?#]+)")
ECOSYSTEMS = {"PyPI": "pypi"}


# ---------------------------------------------------------------------------------------------
# Versions
# ---------------------------------------------------------------------------------------------


def _dpkg_order(c: str) -> int:
    if c == "~":
        return -1
    if c.isdigit():
        return 0
    if c.isalpha():
        return ord(c)
    return ord(c) + 256


def _dpkg_part(a: str, b: str) -> int:
    while a or b:
        ta, a = re.match(r"([^0-9]*)(.*)", a).groups()
        tb, b = re.match(r"([^0-9]*)(.*)", b).groups()
        for i in range(max(len(ta), len(tb))):
            ca, cb = (_dpkg_order(ta[i]) if i < len(ta) else 0), (_dpkg_order(tb[i]) if i < len(tb) else 0)
            if ca != cb:
                return -1 if ca < cb else 1
        na, a = re.match(r"([0-9]*)(.*)", a).groups()
        nb, b = re.match(r"([0-9]*)(.*)", b).groups()
        if int(na or 0) != int(nb or 0):
            return -1 if int(na or 0) < int(nb or 0) else 1
    return 0


def dpkg_compare(a: str, b: str) -> int:
    """-1, 0, 1 as `dpkg --compare-versions` orders Debian versions."""

    def split(v: str) -> tuple[int, str, str]:
        epoch, _, rest = v.rpartition(":") if ":" in v else ("0", "", v)
        upstream, _, revision = rest.rpartition("-") if "-" in rest else (rest, "", "0")
        return int(epoch or 0), upstream, revision

    ea, ua, ra = split(a)
    eb, ub, rb = split(b)
    if ea != eb:
        return -1 if ea < eb else 1
    return _dpkg_part(ua, ub) or _dpkg_part(ra, rb)


def generic_compare(a: str, b: str) -> int:
    """Dotted versions as NVD ranges use them: numbers numerically, other parts as text."""

    def key(v: str) -> list:
        return [(0, int(p), "") if p.isdigit() else (1, 0, p) for p in re.split(r"[.\-_+]", v)]

    ka, kb = key(a), key(b)
    return (ka > kb) - (ka < kb)


def in_ranges(version: str, ranges: list[dict], compare) -> bool:
    for r in ranges:
        if r.get("type") != "ECOSYSTEM":
            continue
        affected = False
        for event in r.get("events", ()):
            if "introduced" in event:
                affected = affected or event["introduced"] == "0" or compare(version, event["introduced"]) >= 0
            elif "fixed" in event and compare(version, event["fixed"]) >= 0:
                affected = False
            elif "last_affected" in event and compare(version, event["last_affected"]) > 0:
                affected = False
        if affected:
            return True
    return False


# ---------------------------------------------------------------------------------------------
# OSV
# ---------------------------------------------------------------------------------------------


def affected_key(affected: dict) -> str | None:
    package = affected.get("package")
    if not package:
        return None
    if "purl" in package:
        return package["purl"].split("@")[0].lower()
    return f"pkg:{ECOSYSTEMS.get(package['ecosystem'], package['ecosystem'].lower())}/{package['name']}".lower()


def affects(affected: dict, query: dict) -> bool:
    if "commit" in query:
        commits = set(affected.get("database_specific", {}).get("affected_commits", ()))
        for r in affected.get("ranges", ()):
            if r.get("type") == "GIT":
                commits |= {e.get("introduced") for e in r.get("events", ())} | {e.get("last_affected") for e in r.get("events", ())}
        return query["commit"] in commits
    package = query.get("package", {})
    if "purl" in package:
        match = PURL.fullmatch(package["purl"] or "")
        if not match:
            return False
        key = f"pkg:{match['type']}/{unquote(match['name'])}".lower()
        return affected_key(affected) == key and unquote(match["version"]) in affected.get("versions", ())
    theirs = affected.get("package", {})
    if (theirs.get("ecosystem"), theirs.get("name")) != (package.get("ecosystem"), package.get("name")):
        return False
    version = query.get("version", "")
    compare = dpkg_compare if package.get("ecosystem", "").startswith("Debian") else generic_compare
    return version in affected.get("versions", ()) or in_ranges(version, affected.get("ranges", ()), compare)


def osv_matches(records: list[dict], query: dict) -> list[dict]:
    return [r for r in records if any(affects(a, query) for a in r.get("affected", ()))]


# ---------------------------------------------------------------------------------------------
# NVD
# ---------------------------------------------------------------------------------------------


def cpe_fields(cpe: str) -> list[str]:
    return re.split(r"(?<!\\):", cpe)


def cpe_affects(item: dict, match: str) -> bool:
    wanted = cpe_fields(match)
    if len(wanted) < 6 or wanted[:3] != ["cpe", "2.3", "a"]:
        return False
    vendor, product, version = wanted[3], wanted[4], wanted[5].replace("\\", "")
    for config in item["cve"].get("configurations", ()):
        for node in config.get("nodes", ()):
            for m in node.get("cpeMatch", ()):
                theirs = cpe_fields(m["criteria"])
                if not m.get("vulnerable") or theirs[3:5] != [vendor, product]:
                    continue
                if theirs[5] not in ("*", "-"):
                    if theirs[5].replace("\\", "") == version:
                        return True
                    continue
                bounds = [
                    ("versionStartIncluding", lambda c: c >= 0),
                    ("versionStartExcluding", lambda c: c > 0),
                    ("versionEndIncluding", lambda c: c <= 0),
                    ("versionEndExcluding", lambda c: c < 0),
                ]
                if all(test(generic_compare(version, m[key])) for key, test in bounds if key in m):
                    return True
    return False


def handler(db: dict, nvd_max_page: int):
    records, items = db["osv"], db["nvd"]

    class Handler(BaseHTTPRequestHandler):
        def answer(self, status: int, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
            if self.path != "/v1/querybatch":
                return self.answer(404, {"code": 5, "message": "Not Found"})
            try:
                queries = json.loads(self.rfile.read(int(self.headers["Content-Length"])))["queries"]
            except (ValueError, KeyError, TypeError):
                return self.answer(400, {"code": 3, "message": "Invalid query."})
            results = []
            for q in queries:
                found = osv_matches(records, q)
                results.append({"vulns": [{"id": r["id"], "modified": r["modified"]} for r in found]} if found else {})
            self.answer(200, {"results": results})

        def do_GET(self) -> None:  # noqa: N802
            url = urlsplit(self.path)
            if url.path != "/rest/json/cves/2.0":
                return self.answer(404, {"message": "Not Found"})
            params = {k: v[-1] for k, v in parse_qs(url.query).items()}
            match = params.get("virtualMatchString") or params.get("cpeName")
            if not match:
                return self.answer(400, {"message": "virtualMatchString or cpeName is required"})
            found = [i for i in items if cpe_affects(i, match)]
            start = int(params.get("startIndex", 0))
            size = min(int(params.get("resultsPerPage", 2000)), nvd_max_page)
            self.answer(
                200,
                {
                    "resultsPerPage": len(found[start : start + size]),
                    "startIndex": start,
                    "totalResults": len(found),
                    "format": "NVD_CVE",
                    "version": "2.0",
                    "timestamp": "2026-12-01T00:00:00.000",
                    "vulnerabilities": found[start : start + size],
                },
            )

        def log_message(self, format: str, *args) -> None:
            pass

    return Handler


def load(path: str) -> dict:
    with open(path) as f:
        db = json.load(f)
    return {"osv": db, "nvd": []} if isinstance(db, list) else {"osv": db.get("osv", []), "nvd": db.get("nvd", [])}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--advisories", required=True, help="the fixture database: {osv: [records], nvd: [items]}")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--port-file", required=True, help="written with the port once serving")
    parser.add_argument("--nvd-max-page", type=int, default=2000, help="largest NVD page served (tests read several)")
    args = parser.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", args.port), handler(load(args.advisories), args.nvd_max_page))
    with open(args.port_file + ".tmp", "w") as f:
        f.write(str(server.server_address[1]))
    os.replace(args.port_file + ".tmp", args.port_file)
    server.serve_forever()


if __name__ == "__main__":
    main()
