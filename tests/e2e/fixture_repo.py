"""A small repo shaped like the example org, and a way to run the bootstrapped Pants on it."""

from __future__ import annotations

import glob
import hashlib
import os
import re
import subprocess
import textwrap
from dataclasses import dataclass
from pathlib import Path

import serverless_gis

PANTS = Path(os.environ["SERVERLESS_GIS_PANTS_VENV"]) / "bin" / "pants"
PLUGIN_ROOT = Path(serverless_gis.__file__).resolve().parent.parent


def pex_cli_section() -> str:
    """The [pex-cli] block of this repo's pants.toml, so fixtures use the same pex tool."""
    text = Path("pants.toml").read_text()
    return re.search(r"^\[pex-cli\]\n(?:.+\n)+", text, re.MULTILINE).group(0)


def python313() -> str:
    for candidate in sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.13*/bin/python3.13"))):
        return candidate
    return "python3.13"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass
class Result:
    returncode: int
    output: str


@dataclass
class FixtureRepo:
    root: Path
    store: Path

    def pants(self, *args: str, check: bool = True) -> Result:
        proc = subprocess.run(
            [
                str(PANTS),
                "--no-pantsd",
                "--no-dynamic-ui",
                f"--local-store-dir={self.store}",
                *args,
            ],
            cwd=self.root,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=900,
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"pants {' '.join(args)} failed:\n{proc.stdout[-6000:]}")
        return Result(proc.returncode, proc.stdout)

    def write(self, files: dict[str, str]) -> None:
        for rel, content in files.items():
            path = self.root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(textwrap.dedent(content).lstrip())

    def dist_files(self) -> dict[str, str]:
        dist = self.root / "dist"
        return {
            str(p.relative_to(dist)): sha256(p) for p in sorted(dist.rglob("*")) if p.is_file()
        }


RUNTIMES = """
    serverless_runtime(name="x86_64", python_version="3.13", arch="x86_64", glibc="2.34",
                       resolve="fx-x86_64", complete_platform="x86_64.json")
    serverless_runtime(name="arm64", python_version="3.13", arch="arm64", glibc="2.34",
                       resolve="fx-arm64", complete_platform="arm64.json")
"""

FILES = {
    "runtimes/BUILD": RUNTIMES,
    "3rdparty/requirements.txt": "six==1.17.0\npyyaml==6.0.3\nidna==3.10\n",
    "3rdparty/pinned.txt": "six==1.16.0\n",
    "3rdparty/BUILD": """
        python_requirements(name="reqs", source="requirements.txt",
                            resolve=parametrize("fx-x86_64", "fx-arm64"),
                            module_mapping={"pyyaml": ["yaml"]})
        python_requirements(name="pinned", source="pinned.txt", resolve="pinned")
    """,
    "layers/base/BUILD": """
        serverless_layer(
            name="base",
            runtime=parametrize(x86_64="//runtimes:x86_64", arm64="//runtimes:arm64"),
            requirements=["six", "pyyaml"],
            environment={"BASE_LAYER": "1"},
        )
    """,
    # A platform team's layer locked on its own, with an older six.
    "layers/pinned/BUILD": """
        serverless_layer(name="pinned", runtime="//runtimes:x86_64", requirements=["six"],
                         resolve="pinned")
    """,
    "functions/hello/BUILD": """
        python_sources(name="src", resolve=parametrize("fx-x86_64", "fx-arm64"))
        serverless_function(
            name="hello",
            handler="handler.py:handler",
            runtime=parametrize(x86_64="//runtimes:x86_64", arm64="//runtimes:arm64"),
            layers=["//layers/base"],
            environment={"GREETING": "hi"},
        )
    """,
    "functions/hello/handler.py": """
        import idna
        import six
        import yaml


        def handler(event, context=None):
            return {
                "yaml": yaml.safe_dump({"points": event["points"]}, default_flow_style=True),
                "six": six.__version__,
                "host": idna.encode(event["host"]).decode(),
            }
    """,
}


def make_fixture_repo(root: Path, store: Path) -> FixtureRepo:
    repo = FixtureRepo(root, store)
    repo.write(FILES)
    (root / "pants.toml").write_text(
        textwrap.dedent(
            f"""
            [GLOBAL]
            pants_version = "2.17.1"
            pythonpath = ["{PLUGIN_ROOT}"]
            backend_packages = ["pants.backend.python", "serverless_gis"]
            ignore_warnings = ["DEPRECATED: Running Pants in an external Python interpreter"]

            [source]
            root_patterns = ["/", "/functions/*"]

            [python]
            interpreter_constraints = ["CPython==3.13.*"]
            interpreter_versions_universe = ["3.9", "3.10", "3.11", "3.12", "3.13"]
            enable_resolves = true
            default_resolve = "fx-x86_64"
            resolves_generate_lockfiles = false

            [python.resolves]
            fx-x86_64 = "3rdparty/fx-x86_64.lock"
            fx-arm64 = "3rdparty/fx-arm64.lock"
            pinned = "3rdparty/pinned.lock"

            """
        ).lstrip()
        + pex_cli_section()
    )
    repo.pants("complete-platforms", "runtimes:")
    repo.pants("generate-lockfiles")
    return repo
