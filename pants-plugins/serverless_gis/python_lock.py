"""Reading the versions a pex lockfile pins (Pants' `//` header lines are skipped)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Iterable

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
    # What it always needs: canonical names, with `[extras]` where it asks for some.
    requires: tuple[str, ...]
    # The files pex may install for it (wheels and the sdist), with their sha256.
    artifacts: tuple[LockedArtifact, ...] = ()
    # What it needs only when one of its extras is asked for: (extra, requirement) pairs.
    extra_requires: tuple[tuple[str, str], ...] = ()


# `extra == "s3"` in a requirement's marker
EXTRA_MARKER = re.compile(r"""\bextra\s*==\s*['"]([^'"]+)['"]""")


def _dependency(req: Requirement) -> str:
    name = canonicalize_name(req.name)
    return f"{name}[{','.join(sorted(req.extras))}]" if req.extras else name


def _extra_gate(req: Requirement) -> str | None:
    """The extra a requirement is needed for, if its marker holds only with that extra."""
    if req.marker is None:
        return None
    found = EXTRA_MARKER.search(str(req.marker))
    if not found:
        return None
    extra = found.group(1)
    if not req.marker.evaluate({"extra": extra}) or req.marker.evaluate({"extra": ""}):
        return None  # decided by other markers too: kept, as markers are ignored
    return canonicalize_name(extra)


def lock_body(content: bytes) -> str:
    """The pex lock itself, byte for byte as pex wrote it, without Pants' header."""
    lines = content.decode().splitlines(keepends=True)
    return "".join(line for line in lines if not line.lstrip().startswith("//")).lstrip("\n")


def parse_lockfile(content: bytes) -> dict[str, LockedProject]:
    lock = json.loads(lock_body(content))
    projects: dict[str, LockedProject] = {}
    for resolve in lock.get("locked_resolves", ()):
        for locked in resolve["locked_requirements"]:
            requires, extra_requires = [], []
            for req_string in locked.get("requires_dists", ()):
                try:
                    req = Requirement(req_string)
                except InvalidRequirement:
                    continue
                extra = _extra_gate(req)
                if extra is None:
                    requires.append(_dependency(req))
                else:
                    extra_requires.append((extra, _dependency(req)))
            artifacts = tuple(
                LockedArtifact(a["url"], a["hash"])
                for a in locked.get("artifacts", ())
                if a.get("algorithm") == "sha256"
            )
            projects[canonicalize_name(locked["project_name"])] = LockedProject(
                locked["version"], tuple(requires), artifacts, tuple(extra_requires)
            )
    return projects


def accepts(requirement: Requirement, version: str) -> bool:
    """Whether `requirement` admits `version` (pre-releases count: a lock may pin one)."""
    return requirement.specifier.contains(version, prereleases=True)


def closure(projects: dict[str, LockedProject], requirements: Iterable[str], all_extras: bool = False) -> set[str]:
    """Names reachable from `requirements` (names or requirement strings; their extras count)
    through the lock's dependency edges: a dependency only an extra needs counts when that extra
    is asked for, or with `all_extras`. Other markers are ignored."""
    seen: set[tuple[str, str]] = set()
    todo = [Requirement(r) for r in requirements]
    names: set[str] = set()
    while todo:
        req = todo.pop()
        name = canonicalize_name(req.name)
        if name not in projects:
            continue
        project = projects[name]
        for extra in ("", *sorted(canonicalize_name(e) for e in req.extras)):
            if (name, extra) in seen:
                continue
            seen.add((name, extra))
            names.add(name)
            if extra == "":
                todo.extend(Requirement(r) for r in project.requires)
            todo.extend(
                Requirement(r) for e, r in project.extra_requires if all_extras or e == extra
            )
    return names


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
