"""A small OSV-compatible advisory service for tests: `POST /v1/querybatch` over the OSV records
in a JSON file, on 127.0.0.1.

    python3 osv_server.py --advisories records.json --port-file port.txt

A record affects a package when one of its `affected` entries names the query's package (its
`package.purl` without version, or `ecosystem` + `name`) and lists the version in `versions`.
Queries are by package URL with the version in it (`pkg:pypi/six@1.17.0`), as OSV accepts them.
Stdlib only; serves until killed.
"""

from __future__ import annotations

import argparse
import json
import os
import re
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote

PURL = re.compile(r"pkg:(?P<type>[^/]+)/(?P<name>[^@?#]+)@(?P<version>[^?#]+)")
ECOSYSTEMS = {"PyPI": "pypi"}


def affected_key(affected: dict) -> str:
    package = affected["package"]
    if "purl" in package:
        return package["purl"].split("@")[0].lower()
    return f"pkg:{ECOSYSTEMS.get(package['ecosystem'], package['ecosystem'].lower())}/{package['name']}".lower()


def matches(records: list[dict], purl: str) -> list[dict]:
    query = PURL.fullmatch(purl or "")
    if not query:
        return []
    key = f"pkg:{query['type']}/{unquote(query['name'])}".lower()
    version = unquote(query["version"])
    return [
        r
        for r in records
        if any(affected_key(a) == key and version in a.get("versions", ()) for a in r.get("affected", ()))
    ]


def handler(records: list[dict]):
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
                found = matches(records, q.get("package", {}).get("purl"))
                results.append({"vulns": [{"id": r["id"], "modified": r["modified"]} for r in found]} if found else {})
            self.answer(200, {"results": results})

        def log_message(self, format: str, *args) -> None:
            pass

    return Handler


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--advisories", required=True, help="a JSON list of OSV records")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--port-file", required=True, help="written with the port once serving")
    args = parser.parse_args()
    with open(args.advisories) as f:
        records = json.load(f)
    server = ThreadingHTTPServer(("127.0.0.1", args.port), handler(records))
    with open(args.port_file + ".tmp", "w") as f:
        f.write(str(server.server_address[1]))
    os.replace(args.port_file + ".tmp", args.port_file)
    server.serve_forever()


if __name__ == "__main__":
    main()
