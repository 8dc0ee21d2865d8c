"""Starting and stopping the test OSV service (`osv_server.py`) on a free loopback port."""

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


@contextmanager
def osv_server(workdir: Path, records: tuple[dict, ...] = (PLANTED,)) -> Iterator[str]:
    """Serve `records`; yields the base URL (`http://127.0.0.1:<port>`)."""
    workdir.mkdir(parents=True, exist_ok=True)
    script, data, port_file = workdir / "osv_server.py", workdir / "advisories.json", workdir / "port"
    script.write_bytes(package_resource("serverless_gis.advisories", "osv_server.py"))
    data.write_text(json.dumps(list(records)))
    port_file.unlink(missing_ok=True)
    server = subprocess.Popen([sys.executable, str(script), "--advisories", str(data), "--port-file", str(port_file)])
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
