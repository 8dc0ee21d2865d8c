"""CycloneDX SBOMs of layer and function zips: what goes in (native components with their pinned
sources, licences and files; Python distributions with the artifact hashes of the lockfile or of
the wheels built from source; a function's layers), written by the `[serverless-sbom]` tool."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

from packaging.utils import canonicalize_name
from pants.core.target_types import http_source
from pants.engine.addresses import Address, Addresses
from pants.engine.fs import (
    CreateDigest,
    Digest,
    DigestContents,
    DigestEntries,
    DigestSubset,
    FileContent,
    FileEntry,
    MergeDigests,
    PathGlobs,
    SymlinkEntry,
)
from pants.engine.process import ProcessResult
from pants.engine.rules import Get, MultiGet, collect_rules, rule
from pants.engine.target import Targets
from pants.util.logging import LogLevel
from serverless_gis.artifact import ZipArtifact, zip_stem
from serverless_gis.native.rules import NativeSource, NativeSourceRequest
from serverless_gis.identity.target_types import identity_of
from serverless_gis.licenses.source_bundle import SourceBundle
from serverless_gis.native.target_types import (
    NativeDebianSourceField,
    NativeLicenseField,
    NativePatchesField,
    NativeSourceField,
    NativeVersionField,
)
from serverless_gis.python_lock import LockedResolve, LockedResolveRequest
from serverless_gis.sbom import process
from serverless_gis.sbom.process import SbomToolRequest

JOB = "__sbom_job.json"


def sbom_path(zip_path: str) -> str:
    """`dist/` name of a zip's SBOM: beside it, `.zip` replaced by `.cdx.json`."""
    return f"{zip_path[: -len('.zip')]}.cdx.json"


@dataclass(frozen=True)
class Sbom:
    owner: Address
    path: str
    digest: Digest  # the SBOM file at `path`
    serial: str  # `urn:uuid:...`
    bom_ref: str  # of the zip, the document's root component
    name: str  # the zip's name without `.zip`
    zip: str
    sha256: str  # of the zip


@dataclass(frozen=True)
class SbomRequest:
    owner: Address
    kind: str  # "layer" or "function"
    artifact: ZipArtifact
    runtime: str  # described, for a property
    resolve: str  # where the lockfile's artifact hashes come from
    python_prefix: str
    natives: tuple[tuple[Address, Digest], ...] = ()  # native_library -> its install tree
    wheels: Digest | None = None  # wheels built from source, installed over the lockfile's
    layers: tuple[Sbom, ...] = ()  # a function's layers, in mount order
    source_bundle: SourceBundle | None = None  # the corresponding source of its copyleft natives


# ---------------------------------------------------------------------------------------------
# Native components
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NativeComponentsRequest:
    natives: tuple[tuple[Address, Digest], ...]


@dataclass(frozen=True)
class NativeComponents:
    json: str  # [{address, name, version, license, url, filename, sha256, files, patches, identity}], by address


async def file_sha256(digest: Digest) -> str:
    entries = await Get(DigestEntries, Digest, digest)
    return next(e for e in entries if isinstance(e, FileEntry)).file_digest.fingerprint


def debian_source_of(tgt) -> dict | None:
    """The Debian packaging whose patch series the build applied: where it came from and its sha256."""
    value = tgt[NativeDebianSourceField].value
    if not isinstance(value, http_source):
        return None
    return {"url": value.url, "sha256": value.sha256}


@rule(desc="Describe native components", level=LogLevel.DEBUG)
async def native_components(request: NativeComponentsRequest) -> NativeComponents:
    targets = await Get(Targets, Addresses(a for a, _ in request.natives))
    entries = await MultiGet(Get(DigestEntries, Digest, tree) for _, tree in request.natives)
    described = []
    for tgt, tree_entries in zip(targets, entries):
        source = tgt[NativeSourceField].value
        if isinstance(source, http_source):
            url, sha256 = source.url, source.sha256
            filename = source.filename or os.path.basename(source.url)
        else:
            local = await Get(NativeSource, NativeSourceRequest(tgt[NativeSourceField]))
            url, sha256, filename = None, await file_sha256(local.digest), os.path.basename(local.path)
        described.append(
            {
                "address": str(tgt.address),
                "name": tgt.address.target_name,
                "version": tgt[NativeVersionField].value,
                "license": tgt[NativeLicenseField].value,
                "url": url,
                "filename": filename,
                "sha256": sha256,
                "files": sorted(e.path for e in tree_entries if isinstance(e, (FileEntry, SymlinkEntry))),
                # Paths from the build root: the SBOM's pedigree names the repository's patch files.
                "patches": [os.path.join(tgt.address.spec_path, p) for p in tgt[NativePatchesField].value or ()],
                "identity": identity_of(tgt),
                "debian_source": debian_source_of(tgt),
            }
        )
    return NativeComponents(json.dumps(sorted(described, key=lambda d: d["address"])))


# ---------------------------------------------------------------------------------------------
# The SBOM of a zip
# ---------------------------------------------------------------------------------------------


async def built_wheels(wheels: Digest | None) -> dict[str, dict[str, str]]:
    if wheels is None:
        return {}
    entries = await Get(DigestEntries, Digest, wheels)
    return {
        canonicalize_name(e.path.split("-")[0]): {"filename": e.path, "sha256": e.file_digest.fingerprint}
        for e in entries
        if isinstance(e, FileEntry) and e.path.endswith(".whl")
    }


@rule(desc="Write a CycloneDX SBOM", level=LogLevel.DEBUG)
async def write_sbom(request: SbomRequest) -> Sbom:
    artifact = request.artifact
    natives, locked = await MultiGet(
        Get(NativeComponents, NativeComponentsRequest(request.natives)),
        Get(LockedResolve, LockedResolveRequest(request.resolve)),
    )
    shipped = {canonicalize_name(name) for name in artifact.distributions}
    out = sbom_path(artifact.path)
    name = zip_stem(artifact.path)
    job = {
        "kind": request.kind,
        "target": str(request.owner),
        "name": name,
        "zip": artifact.path,
        "sha256": artifact.sha256,
        "out": out,
        "runtime": request.runtime,
        "python_prefix": request.python_prefix,
        "natives": json.loads(natives.json),
        "dist_paths": {k: list(v) for k, v in artifact.distribution_paths.items() if k in shipped},
        "locked": {
            k: [{"url": a.url, "sha256": a.sha256} for a in p.artifacts]
            for k, p in sorted(locked.projects.items())
            if k in shipped
        },
        "built": await built_wheels(request.wheels),
        "source_bundle": (
            {
                "file": os.path.basename(request.source_bundle.path),
                "sha256": request.source_bundle.sha256,
                "components": [str(a) for a in request.source_bundle.components],
            }
            if request.source_bundle
            else None
        ),
        "layers": [
            {
                "target": str(s.owner),
                "name": s.name,
                "zip": s.zip,
                "sha256": s.sha256,
                "serial": s.serial[len("urn:uuid:") :],
                "bom_ref": s.bom_ref,
                "sbom": s.path,
            }
            for s in request.layers
        ],
    }
    job_digest = await Get(Digest, CreateDigest([FileContent(JOB, json.dumps(job, sort_keys=True).encode())]))
    result = await Get(
        ProcessResult,
        SbomToolRequest(
            ("sbom", JOB),
            await Get(Digest, MergeDigests([artifact.digest, job_digest])),
            description=f"Write the SBOM of {request.owner}",
            output_files=(out,),
        ),
    )
    digest = await Get(Digest, DigestSubset(result.output_digest, PathGlobs([out])))
    document = json.loads((await Get(DigestContents, Digest, digest))[0].content)
    root = document["metadata"]["component"]
    return Sbom(
        owner=request.owner,
        path=out,
        digest=digest,
        serial=document["serialNumber"],
        bom_ref=root["bom-ref"],
        name=name,
        zip=artifact.path,
        sha256=artifact.sha256,
    )


def rules():
    return (*collect_rules(), *process.rules())
