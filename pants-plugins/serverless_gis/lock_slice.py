"""A PEX resolved from only the slice of its lockfile that its requirements reach.

Pants gives every PEX built from a resolve the whole lockfile as input, so relocking to add one
function's dependency re-keys every function's and layer's PEX in the resolve. A slice holds the
lock's entries for the requirements' closure (`python_lock.closure`: markers are left to pex, so
the slice is a superset of what any platform installs) and nothing else, so a build's cache key
moves only when its own closure does.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Iterable

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from pants.backend.python.subsystems.setup import PythonSetup
from pants.backend.python.util_rules.pex import PexRequest, ReqStrings
from pants.backend.python.util_rules.pex_requirements import PexRequirements
from pants.engine.fs import CreateDigest, Digest, DigestContents, FileContent, MergeDigests, PathGlobs
from pants.engine.rules import Get, collect_rules, rule
from serverless_gis.python_lock import closure, lock_body, parse_lockfile

SLICE_PATH = "__lock_slice.json"


@dataclass(frozen=True)
class LockSliceRequest:
    resolve: str
    requirements: tuple[str, ...]


@dataclass(frozen=True)
class LockSlice:
    digest: Digest  # the sliced pex lock at SLICE_PATH


def slice_lock(body: str, names: Iterable[str]) -> str:
    """The pex lock `body` with only the projects `names` (canonical) and the top-level
    requirements and constraints on them."""
    keep = set(names)
    lock = json.loads(body)

    def kept(req: str) -> bool:
        return canonicalize_name(Requirement(req).name) in keep

    lock["requirements"] = [r for r in lock.get("requirements", []) if kept(r)]
    lock["constraints"] = [c for c in lock.get("constraints", []) if kept(c)]
    for resolve in lock.get("locked_resolves", []):
        resolve["locked_requirements"] = [
            r for r in resolve["locked_requirements"] if canonicalize_name(r["project_name"]) in keep
        ]
    return json.dumps(lock, indent=2, sort_keys=True) + "\n"


@rule
async def slice_resolve(request: LockSliceRequest, python_setup: PythonSetup) -> LockSlice:
    contents = await Get(DigestContents, PathGlobs([python_setup.resolves[request.resolve]]))
    content = contents[0].content
    names = closure(parse_lockfile(content), request.requirements)
    text = slice_lock(lock_body(content), names)
    return LockSlice(await Get(Digest, CreateDigest([FileContent(SLICE_PATH, text.encode())])))


async def from_lock_slice(request: PexRequest, resolve: str) -> PexRequest:
    """`request`, whose requirements come from `resolve`, resolved from its slice of the lockfile
    (pex's own `--lock` subsetting, as Pants does, on a smaller lock)."""
    requirements = request.requirements
    assert isinstance(requirements, PexRequirements) and not requirements.constraints_strings
    req_strings = (await Get(ReqStrings, PexRequirements, requirements)).req_strings
    if not req_strings:
        return request
    lock = await Get(LockSlice, LockSliceRequest(resolve, tuple(req_strings)))
    return dataclasses.replace(
        request,
        # Nothing for Pants to resolve: pex takes the requirements from the slice.
        requirements=PexRequirements(description_of_origin=requirements.description_of_origin),
        additional_inputs=await Get(Digest, MergeDigests([request.additional_inputs, lock.digest])),
        additional_args=(*request.additional_args, "--lock", SLICE_PATH, *req_strings),
    )


def rules():
    return collect_rules()
