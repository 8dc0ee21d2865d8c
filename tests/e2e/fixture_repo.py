"""A small repo shaped like the example org, and a way to run the bootstrapped Pants on it."""

from __future__ import annotations

import glob
import hashlib
import json
import os
import re
import shlex
import subprocess
import textwrap
from dataclasses import dataclass
from pathlib import Path

PANTS = Path(os.environ["SERVERLESS_GIS_PANTS_VENV"]) / "bin" / "pants"
# The ruleset as a plugin distribution (`//pants-plugins:dist`, built into the test sandbox):
# fixture repos get it the way another repository would, through `[GLOBAL].plugins`.
PLUGIN = f"serverless-gis-pants @ file://{Path.cwd()}/serverless_gis_pants-0.1.0-py3-none-any.whl"


def repo_config(section: str) -> str:
    """A section of this repo's pants.toml (fixtures use the same pex tool, pip and pip isolation)."""
    text = Path("pants.toml").read_text()
    return re.search(rf"^\[{re.escape(section)}\]\n(?:.+\n)+", text, re.MULTILINE).group(0)


def repo_pip_version() -> str:
    return re.search(r'^pip_version = "([^"]+)"$', Path("pants.toml").read_text(), re.MULTILINE).group(1)


def python313() -> str:
    pyenv_root = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
    for candidate in sorted(glob.glob(f"{pyenv_root}/versions/3.13*/bin/python3.13")):
        return candidate
    return "python3.13"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass
class Result:
    returncode: int
    output: str


def in_mount_namespace(argv: list[str], mounts: dict[str, Path], docker_hidden: bool = False) -> list[str]:
    """argv run in a private mount namespace with `mounts` bound (no namespace when there are none)."""
    if not mounts:
        return argv
    steps = [f"mount --bind {shlex.quote(str(src))} {shlex.quote(dest)}" for dest, src in mounts.items()]
    if docker_hidden:
        steps.append("! docker info >/dev/null 2>&1")
    script = " && ".join([*steps, 'exec "$@"'])
    return ["unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh", *argv]


@dataclass
class FixtureRepo:
    root: Path
    store: Path

    def pants(
        self,
        *args: str,
        check: bool = True,
        hide_docker: bool = False,
        bind: dict[str, Path] | None = None,
        wrap: tuple[str, ...] = (),
    ) -> Result:
        """Run Pants here; `bind` mounts host paths (target: source) in a private mount namespace,
        `wrap` is a command prefix (e.g. one that changes hostname, CPUs or umask)."""
        argv = [
            str(PANTS),
            "--no-pantsd",
            "--no-dynamic-ui",
            f"--local-store-dir={self.store}",
            f"--named-caches-dir={self.store}/named",
            *args,
        ]
        argv = [*wrap, *argv]
        mounts = dict(bind or {})
        if hide_docker:
            mounts["/run/docker.sock"] = Path("/dev/null")
        argv = in_mount_namespace(argv, mounts, docker_hidden=hide_docker)
        proc = subprocess.run(
            argv,
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


def write_pants_toml(root: Path, resolves: dict[str, str]) -> None:
    resolve_lines = "\n".join(f'{name} = "{path}"' for name, path in resolves.items())
    (root / "pants.toml").write_text(
        textwrap.dedent(
            f"""
            [GLOBAL]
            pants_version = "2.17.1"
            plugins = ["{PLUGIN}"]
            backend_packages = ["pants.backend.python"]
            ignore_warnings = ["DEPRECATED: Running Pants in an external Python interpreter"]

            [source]
            root_patterns = ["/", "/functions/*"]

            [python]
            interpreter_constraints = ["CPython==3.13.*"]
            interpreter_versions_universe = ["3.9", "3.10", "3.11", "3.12", "3.13"]
            enable_resolves = true
            default_resolve = "{next(iter(resolves))}"
            resolves_generate_lockfiles = false
            pip_version = "{repo_pip_version()}"

            [python.resolves]
            """
        ).lstrip()
        + resolve_lines
        + "\n\n"
        + repo_config("subprocess-environment")
        + "\n"
        + repo_config("pex-cli")
        + "\n[serverless-licenses]\n"
        + f"allowed = {json.dumps(list(FIXTURE_LICENSES))}\n"
    )


def make_fixture_repo(root: Path, store: Path) -> FixtureRepo:
    repo = FixtureRepo(root, store)
    repo.write(FILES)
    write_pants_toml(
        root,
        {
            "fx-x86_64": "3rdparty/fx-x86_64.lock",
            "fx-arm64": "3rdparty/fx-arm64.lock",
            "pinned": "3rdparty/pinned.lock",
        },
    )
    repo.pants("complete-platforms", "runtimes:")
    repo.pants("generate-lockfiles")
    return repo


# The licences fixture repos allow in every layer (`[serverless-licenses].allowed`).
FIXTURE_LICENSES = ("MIT", "BSD-3-Clause")
# The licence text each tiny library's source carries (`license_files`).
LICENSE_FILE = {"LICENSE": "MIT License\n\nCopyright (c) the tiny fixture authors\n"}


def native_fixture_files(arm64: bool = False) -> dict[str, str]:
    """An org shaped like the example: a GDAL stand-in on a PROJ stand-in, layers, functions; with
    `arm64`, every library is also cross-built for arm64 and the geo layer built for both arches."""
    toolchain = (
        'parametrize(x86_64="//native/toolchain:bullseye-x86_64", arm64="//native/toolchain:bullseye-x86_64-cross-arm64")'
        if arm64 else '"//native/toolchain:bullseye-x86_64"'
    )
    lib = (
        'native_library(name="{name}", source="{name}.tar.gz", toolchain=' + toolchain + ', '
        'version="1.0.0", license="MIT", license_files=["LICENSE"], {extra})\n'
    )
    geo_runtime = 'parametrize(x86_64="//runtimes:x86_64", arm64="//runtimes:arm64")' if arm64 else '"//runtimes:x86_64"'

    function = """
        python_sources(name="src")
        serverless_function(name="{name}", handler="handler.py:handler", runtime="//runtimes:x86_64", layers=[{layers}])
    """
    files = {
        "runtimes/BUILD": RUNTIMES if arm64 else RUNTIMES.split("serverless_runtime(name=\"arm64\"")[0],
        "3rdparty/requirements.txt": "six==1.17.0\n",
        "3rdparty/BUILD": 'python_requirements(name="reqs", source="requirements.txt", resolve='
        + ('parametrize("fx-x86_64", "fx-arm64")' if arm64 else '"fx-x86_64"') + ")\n",
        "native/toolchain/BUILD": (
            'toolchain_image(name="bullseye-x86_64", lockfile="bullseye-x86_64.lock")\n'
            'toolchain_image(name="bullseye-x86_64-runtime", lockfile="bullseye-x86_64-runtime.lock")\n'
            'toolchain_image(name="bullseye-x86_64-cross-arm64", arch="arm64", cross_triple="aarch64-linux-gnu", '
            'lockfile="bullseye-x86_64-cross-arm64.lock")\n'
        ),
        "native/tinya/BUILD": lib.format(name="tinya", extra='cmake_options=["-DCMAKE_C_FLAGS=-DANSWER=42"]'),
        "native/tinyb/BUILD": lib.format(
            name="tinyb", extra='dependencies=["//native/tinya", "//native/tinyp"], cmake_options=["-DCMAKE_C_FLAGS=-DFLAVOR=1"]'
        ),
        "native/tinyp/BUILD": lib.format(name="tinyp", extra=""),
        # geo holds the GDAL stand-in (and, through it, the PROJ stand-in); proj only the latter.
        "layers/geo/BUILD": f'serverless_layer(name="geo", runtime={geo_runtime}, requirements=["six"], natives=["//native/tinyb"])\n',
        "layers/proj/BUILD": 'serverless_layer(name="proj", runtime="//runtimes:x86_64", natives=["//native/tinya"])\n',
    }
    for name, layers in (("raster", '"//layers/geo"'), ("crs", '"//layers/proj"'), ("plain", "")):
        files[f"functions/{name}/BUILD"] = function.format(name=name, layers=layers)
        files[f"functions/{name}/handler.py"] = f"def handler(event, context=None):\n    return {name!r}\n"
    return files


def make_native_fixture_repo(root: Path, store: Path, arm64: bool = False) -> FixtureRepo:
    from serverless_gis.native.tiny_fixture import TINYA, TINYB, recipe_files, tarball, tinyp

    repo = FixtureRepo(root, store)
    repo.write(native_fixture_files(arm64))
    for path in recipe_files():
        dest = root / path
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(Path(path).read_bytes())
        dest.chmod(Path(path).stat().st_mode)
    (root / "native/tinya/tinya.tar.gz").write_bytes(tarball({**TINYA, **LICENSE_FILE}))
    (root / "native/tinyb/tinyb.tar.gz").write_bytes(tarball({**TINYB, **LICENSE_FILE}))
    (root / "native/tinyp/tinyp.tar.gz").write_bytes(tarball(tinyp(48)))
    write_pants_toml(root, {"fx-x86_64": "3rdparty/fx-x86_64.lock", **({"fx-arm64": "3rdparty/fx-arm64.lock"} if arm64 else {})})
    repo.pants("complete-platforms", "runtimes:")
    repo.pants("generate-lockfiles")
    return repo


def executed(output: str, description: str) -> list[str]:
    """Processes with this description prefix that ran (Pants logs only executions, not hits)."""
    return sorted(set(re.findall(rf"Completed: {re.escape(description)} (\S+)", output)))
