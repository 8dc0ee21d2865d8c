"""Reading the versions a pex lockfile pins (Pants' `//` header lines are skipped)."""

from __future__ import annotations

import json
from dataclasses import dataclass

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from pants.backend.python.subsystems.setup import PythonSetup
from pants.engine.fs import DigestContents, PathGlobs
from pants.engine.rules import Get, collect_rules, rule
from pants.util.frozendict import FrozenDict


RESOLVE_PREFIX = "lock:"


def regenerate_command(resolve: str) -> str:
    """How to (re)lock `resolve`: serverless_gis generates every resolve as `lock:<resolve>`."""
    return f"./pants generate-lockfiles --resolve={RESOLVE_PREFIX}{resolve}"


@dataclass(frozen=True)
class LockedArtifact:
    url: str
    sha256: str


@dataclass(frozen=True)
class LockedProject:
    version: str
    requires: tuple[str, ...]
    # The files pex may install for it (wheels and the sdist), with their sha256.
    artifacts: tuple[LockedArtifact, ...] = ()


def lock_body(content: bytes) -> str:
    """The pex lock itself, byte for byte as pex wrote it, without Pants' header."""
    lines = content.decode().splitlines(keepends=True)
    return "".join(line for line in lines if not line.lstrip().startswith("//")).lstrip("\n")


def parse_lockfile(content: bytes) -> dict[str, LockedProject]:
    lock = json.loads(lock_body(content))
    projects: dict[str, LockedProject] = {}
    for resolve in lock.get("locked_resolves", ()):
        for locked in resolve["locked_requirements"]:
            requires = []
            for req in locked.get("requires_dists", ()):
                try:
                    requires.append(canonicalize_name(Requirement(req).name))
                except InvalidRequirement:
                    continue
            artifacts = tuple(
                LockedArtifact(a["url"], a["hash"])
                for a in locked.get("artifacts", ())
                if a.get("algorithm") == "sha256"
            )
            projects[canonicalize_name(locked["project_name"])] = LockedProject(
                locked["version"], tuple(requires), artifacts
            )
    return projects


def accepts(requirement: Requirement, version: str) -> bool:
    """Whether `requirement` admits `version` (pre-releases count: a lock may pin one)."""
    return requirement.specifier.contains(version, prereleases=True)


def closure(projects: dict[str, LockedProject], names: set[str]) -> set[str]:
    """Names reachable from `names` through the lock's dependency edges (markers ignored)."""
    seen: set[str] = set()
    todo = [canonicalize_name(n) for n in names]
    while todo:
        name = todo.pop()
        if name in seen or name not in projects:
            continue
        seen.add(name)
        todo.extend(projects[name].requires)
    return seen


@dataclass(frozen=True)
class LockedResolveRequest:
    resolve: str


@dataclass(frozen=True)
class LockedResolve:
    lockfile: str
    projects: FrozenDict[str, LockedProject]


@rule
async def read_locked_resolve(request: LockedResolveRequest, python_setup: PythonSetup) -> LockedResolve:
    lockfile = python_setup.resolves[request.resolve]
    contents = await Get(DigestContents, PathGlobs([lockfile]))
    # Not generated yet: nothing is locked.
    projects = parse_lockfile(contents[0].content) if contents else {}
    return LockedResolve(lockfile, FrozenDict(projects))


def rules():
    return collect_rules()
