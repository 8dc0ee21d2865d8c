"""moto's AWS emulator as a real HTTP server on loopback, behind a recording, fault-injecting proxy.

The proxy logs every request Pants' publish tool sends (so tests count mutating calls where they
arrive) and can drop connections to simulate a network failure or a killed run.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable, Optional

from tests.e2e.fixture_repo import python313

REQUIREMENTS = Path(__file__).parent / "moto-requirements.txt"
REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's default account
MUTATING = ("POST", "PUT", "DELETE", "PATCH")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def install_moto(dest: Path) -> Path:
    """A CPython 3.13 venv with the hash-pinned moto; the machine's pip configuration is not read."""
    subprocess.run([python313(), "-m", "venv", str(dest)], check=True)
    python = dest / "bin" / "python"
    cert = os.environ.get("PANTS_CA_CERTS_PATH")
    subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         "--require-hashes", "--no-deps", "-r", str(REQUIREMENTS), *(["--cert", cert] if cert else [])],
        check=True,
        env={**os.environ, "PIP_CONFIG_FILE": os.devnull},
    )
    return python


@dataclass
class Request:
    method: str
    path: str
    status: Optional[int]  # the emulator's answer; None: never forwarded
    dropped: bool = False  # the client never got the answer


@dataclass
class Fault:
    """Drop the connection of requests `matches` accepts: before forwarding them, or after (the
    emulator did the work but the client never hears of it); `times` None means every time."""

    matches: Callable[[str, str], bool]
    after_forwarding: bool = False
    times: Optional[int] = None


@dataclass
class Proxy:
    upstream: int
    log: list[Request] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)

    def _fault_for(self, method: str, path: str) -> Optional[Fault]:
        for fault in self.faults:
            if fault.times != 0 and fault.matches(method, path):
                if fault.times is not None:
                    fault.times -= 1
                return fault
        return None

    def start(self) -> int:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def _forward(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                fault = proxy._fault_for(self.command, self.path)
                if fault and not fault.after_forwarding:
                    proxy.log.append(Request(self.command, self.path, None, dropped=True))
                    self.close_connection = True
                    return
                conn = http.client.HTTPConnection("127.0.0.1", proxy.upstream, timeout=120)
                headers = {k: v for k, v in self.headers.items() if k.lower() != "host"}
                conn.request(self.command, self.path, body=body, headers=headers)
                response = conn.getresponse()
                data = response.read()
                conn.close()
                if fault:
                    proxy.log.append(Request(self.command, self.path, response.status, dropped=True))
                    self.close_connection = True
                    return
                proxy.log.append(Request(self.command, self.path, response.status))
                self.send_response(response.status)
                for key, value in response.getheaders():
                    if key.lower() not in ("content-length", "transfer-encoding", "connection", "date", "server"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = _forward

        # Bound to a port the kernel picks and listening before the thread starts: no other
        # process can take the port between choosing and binding it (as with `free_port`).
        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self.server = server
        return server.server_address[1]

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def mutating(self, since: int = 0) -> list[Request]:
        """Mutating calls the emulator carried out (a 2xx, whether or not the client got it)."""
        return [
            r for r in self.log[since:]
            if r.method in MUTATING and r.status is not None and 200 <= r.status < 300
        ]


@dataclass
class Emulator:
    python: Path
    port: int
    process: subprocess.Popen
    proxy: Proxy
    proxy_port: int

    @property
    def endpoint(self) -> str:
        """Where the code under test talks to: the proxy."""
        return f"http://127.0.0.1:{self.proxy_port}"

    def stop(self) -> None:
        self.proxy.stop()
        self.process.terminate()
        self.process.wait(timeout=30)

    def call(self, service: str, method: str, **kwargs) -> dict:
        """One boto3 call straight to the emulator (setup and checks: not through the proxy)."""
        code = (
            "import boto3, json, sys; a = json.loads(sys.argv[1]); "
            "c = boto3.client(a['service'], endpoint_url=a['url'], region_name=a['region'], "
            "aws_access_key_id='setup', aws_secret_access_key='setup'); "
            "print(json.dumps(getattr(c, a['method'])(**a['kwargs']), default=str))"
        )
        args = {"service": service, "method": method, "kwargs": kwargs, "region": REGION,
                "url": f"http://127.0.0.1:{self.port}"}
        out = subprocess.run(
            [str(self.python), "-c", code, json.dumps(args)], check=True, stdout=subprocess.PIPE, text=True
        ).stdout
        return json.loads(out)


def start_emulator(python: Path, log: Path) -> Emulator:
    port = free_port()
    moto_server = python.parent / "moto_server"
    process = subprocess.Popen(
        [str(moto_server), "-H", "127.0.0.1", "-p", str(port)],
        stdout=log.open("w"), stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"moto_server did not start; see {log}")
            time.sleep(0.2)
    proxy = Proxy(upstream=port)
    return Emulator(python, port, process, proxy, proxy.start())

