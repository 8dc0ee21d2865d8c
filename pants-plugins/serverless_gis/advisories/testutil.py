"""Starting and stopping the test advisory service (`osv_server.py`) on a free loopback port, and
fixture records: the canaries of `[serverless-advisories].canaries`' defaults, shaped as OSV and
NVD serve such advisories."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from serverless_gis.resources import package_resource

# One planted advisory: six 1.17.0, which the test layers really ship.
PLANTED = {
    "id": "OSV-TEST-2026-0042",
    "summary": "Planted for tests",
    "modified": "2026-11-30T00:00:00Z",
    "affected": [{"package": {"ecosystem": "PyPI", "name": "six"}, "versions": ["1.17.0"]}],
}


def osv_record(id: str, affected: dict) -> dict:
    return {"id": id, "summary": "Fixture", "modified": "2026-11-30T00:00:00Z", "affected": [affected]}


def nvd_item(id: str, criteria: str, **bounds: str) -> dict:
    """An NVD CVE API 2.0 item whose one configuration makes `criteria` (a CPE 2.3 name) vulnerable."""
    match = {"vulnerable": True, "criteria": criteria, **bounds}
    return {"cve": {"id": id, "configurations": [{"nodes": [{"operator": "OR", "negate": False, "cpeMatch": [match]}]}]}}


# Answers for the default canaries (subsystem.DEFAULT_CANARIES): each kind's source is trusted.
CANARY_RECORDS = (
    osv_record("PYSEC-2021-142", {"package": {"ecosystem": "PyPI", "name": "pyyaml"}, "versions": ["5.3"]}),
    osv_record(
        "DEBIAN-CVE-2023-38545",
        {
            "package": {"ecosystem": "Debian:13", "name": "curl"},
            "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "8.3.0-1"}]}],
        },
    ),
    osv_record(
        "OSV-2021-1651",
        {
            "package": {"ecosystem": "OSS-Fuzz", "name": "gdal"},
            "ranges": [
                {
                    "type": "GIT",
                    "repo": "https://github.com/OSGeo/gdal",
                    "events": [{"introduced": "3c7e9db1ab4d28306a8700e38d2f4c0e2fa46b82"}, {"fixed": "1ca6a3e5168c200763fa46d8aa7e698d0b757e7e"}],
                }
            ],
        },
    ),
)
CANARY_NVD = (
    nvd_item("CVE-2021-45943", "cpe:2.3:a:osgeo:gdal:*:*:*:*:*:*:*:*", versionStartIncluding="3.3.0", versionEndIncluding="3.4.0"),
)


@contextmanager
def osv_server(
    workdir: Path, records: tuple[dict, ...] = (PLANTED,), nvd: tuple[dict, ...] = (), nvd_max_page: int = 2000
) -> Iterator[str]:
    """Serve OSV `records` and NVD `nvd` items; yields the base URL (`http://127.0.0.1:<port>`)."""
    workdir.mkdir(parents=True, exist_ok=True)
    script, data, port_file = workdir / "osv_server.py", workdir / "advisories.json", workdir / "port"
    script.write_bytes(package_resource("serverless_gis.advisories", "osv_server.py"))
    data.write_text(json.dumps({"osv": list(records), "nvd": list(nvd)}))
    port_file.unlink(missing_ok=True)
    server = subprocess.Popen(
        [sys.executable, str(script), "--advisories", str(data), "--port-file", str(port_file), "--nvd-max-page", str(nvd_max_page)]
    )
    try:
        deadline = time.monotonic() + 30
        while not port_file.exists():
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the OSV test server did not start (exit {server.poll()})")
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port_file.read_text()}"
    finally:
        server.terminate()
        server.wait(timeout=30)
