"""The corresponding source of a layer's copyleft natives (GPL, LGPL, AGPL): the exact sources,
Debian packaging, patches, build recipe, toolchain recipe and build scripts that made them, as one
deterministic tar beside the layer zip, and the notice the layer ships saying where it is."""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass

from pants.core.target_types import http_source
from pants.engine.addresses import Address, Addresses
from pants.engine.fs import (
    EMPTY_DIGEST,
    AddPrefix,
    CreateDigest,
    Digest,
    DigestEntries,
    DigestSubset,
    FileContent,
    FileEntry,
    MergeDigests,
    PathGlobs,
    RemovePrefix,
)
from pants.engine.process import ProcessResult
from pants.engine.rules import Get, MultiGet, collect_rules, rule
from pants.engine.target import Targets
from pants.util.logging import LogLevel
from serverless_gis.native.rules import (
    BUILD_SCRIPTS,
    NativeSource,
    NativeSourceRequest,
    ToolchainImage,
    ToolchainImageRequest,
)
from serverless_gis.native.step_scripts import step_scripts
from serverless_gis.native.target_types import (
    NativeDebianSourceField,
    NativeLicenseField,
    NativeSourceField,
    NativeToolchainField,
    NativeVersionField,
)
from serverless_gis.sbom.process import SbomToolRequest

JOB = "__source_bundle_job.json"
# Licences whose terms make the distributor offer the corresponding source.
SOURCE_REQUIRED = re.compile(r"^(A|L)?GPL-", re.IGNORECASE)


def needs_source(license_expression: str | None) -> bool:
    return any(SOURCE_REQUIRED.match(token) for token in re.findall(r"[A-Za-z0-9.+-]+", license_expression or ""))


def bundle_path(zip_path: str) -> str:
    """`dist/` name of a zip's source bundle: beside it, `.zip` replaced by `.sources.tar`."""
    return f"{zip_path[: -len('.zip')]}.sources.tar"


def notice_path(owner: Address) -> str:
    """Where the layer's notice goes in its native tree: with the licence texts, never pruned, and
    named after the layer so stacked layers do not ship the same path."""
    return f"share/licenses/SOURCES-{owner.target_name}.txt"


@dataclass(frozen=True)
class SourceBundleRequest:
    owner: Address  # the layer
    zip_path: str
    natives: tuple[Address, ...]  # every native_library it ships


@dataclass(frozen=True)
class SourceBundle:
    path: str | None  # None: the layer ships no component whose licence needs its source offered
    digest: Digest  # the tar at `path`
    sha256: str | None
    components: tuple[Address, ...]
    notice: Digest  # the notice at `notice_path(owner)`, for the layer's native tree


def readme(owner: Address, components: list[dict]) -> str:
    lines = [
        f"Corresponding source of the copyleft components of the layer {owner}.",
        "",
        "For each component: the source archive it was built from and Debian's packaging whose patch",
        "series the build applied first (byte for byte what the build used, sha256 below: downloads/, or",
        "repo/ for an archive kept in the repository), the directory of its build recipe in the",
        "repository (repo/: BUILD with its options, its own patches and build files), the toolchain",
        "image's recipe (toolchain/<component>/: package lock and the",
        "scripts that build the image) and the build framework that ran (build-scripts/). In the",
        "repository, `./pants package <target>` rebuilds the component; the shared libraries in the",
        "layer's lib/ can be replaced by ones built from modified sources.",
        "",
    ]
    for c in components:
        lines.append(f"{c['target']}: {c['name']} {c['version']}, {c['license']}")
        for a in c["archives"]:
            lines.append(f"  {a['path']}  sha256 {a['sha256']}" + (f"  from {a['url']}" if a["url"] else ""))
        lines.append(f"  repo/{c['recipe']}/")
        lines.append("")
    return "\n".join(lines)


@rule(desc="Bundle the corresponding source of copyleft natives", level=LogLevel.DEBUG)
async def source_bundle(request: SourceBundleRequest) -> SourceBundle:
    targets = [t for t in await Get(Targets, Addresses(request.natives)) if needs_source(t[NativeLicenseField].value)]
    if not targets:
        return SourceBundle(None, EMPTY_DIGEST, None, (), EMPTY_DIGEST)
    # Each archive the build unpacked: a download at downloads/<file>, a repository file at its path.
    archive_fields = [
        (tgt, field) for tgt in targets for field in (tgt[NativeSourceField], tgt[NativeDebianSourceField]) if field.value is not None
    ]
    fetched = await MultiGet(Get(NativeSource, NativeSourceRequest(field)) for _, field in archive_fields)
    places = [
        f"downloads/{os.path.basename(src.path)}" if isinstance(field.value, http_source)
        else f"repo/{os.path.normpath(os.path.join(tgt.address.spec_path, field.value))}"
        for (tgt, field), src in zip(archive_fields, fetched)
    ]
    unprefixed = await MultiGet(Get(Digest, RemovePrefix(src.digest, os.path.dirname(src.path))) for src in fetched)
    archives = await MultiGet(Get(Digest, AddPrefix(d, os.path.dirname(place))) for d, place in zip(unprefixed, places))
    archive_sha256 = {
        e.path: e.file_digest.fingerprint
        for entries in await MultiGet(Get(DigestEntries, Digest, a) for a in archives)
        for e in entries
        if isinstance(e, FileEntry)
    }
    toolchains = await MultiGet(
        Get(ToolchainImage, ToolchainImageRequest, ToolchainImageRequest.of(t[NativeToolchainField])) for t in targets
    )
    recipes = await MultiGet(Get(Digest, PathGlobs([f"{t.address.spec_path}/*"])) for t in targets)
    digests = [
        *archives,
        *(await MultiGet(Get(Digest, AddPrefix(r, "repo")) for r in recipes)),
        *(await MultiGet(Get(Digest, AddPrefix(tc.digest, f"toolchain/{t.address.target_name}")) for t, tc in zip(targets, toolchains))),
        await Get(Digest, AddPrefix(await step_scripts(*BUILD_SCRIPTS), "build-scripts")),
    ]
    components = [
        {
            "target": str(tgt.address),
            "name": tgt.address.target_name,
            "version": tgt[NativeVersionField].value,
            "license": tgt[NativeLicenseField].value,
            "recipe": tgt.address.spec_path,
            "archives": [
                {"path": place, "url": field.value.url if isinstance(field.value, http_source) else None, "sha256": archive_sha256[place]}
                for (owner, field), place in zip(archive_fields, places)
                if owner is tgt
            ],
        }
        for tgt in targets
    ]
    tree = await Get(
        Digest,
        MergeDigests([*digests, await Get(Digest, CreateDigest([FileContent("README.txt", readme(request.owner, components).encode())]))]),
    )
    out = bundle_path(request.zip_path)
    job = {"out": out, "root": "bundle"}
    inputs = await Get(
        Digest,
        MergeDigests([await Get(Digest, AddPrefix(tree, "bundle")), await Get(Digest, CreateDigest([FileContent(JOB, json.dumps(job).encode())]))]),
    )
    result = await Get(
        ProcessResult,
        SbomToolRequest(("source-bundle", JOB), inputs, description=f"Bundle the corresponding source of {request.owner}", output_files=(out,)),
    )
    bundle = await Get(Digest, DigestSubset(result.output_digest, PathGlobs([out])))
    sha256 = next(e for e in await Get(DigestEntries, Digest, bundle) if isinstance(e, FileEntry)).file_digest.fingerprint
    notice = (
        f"This layer ({request.owner}) ships components under licences that require their source to be\n"
        "offered with them:\n"
        + "".join(f"  {c['name']} {c['version']} ({c['license']})\n" for c in components)
        + f"Their corresponding source (the exact sources, patches, build recipe and scripts) is\n"
        f"distributed beside this layer as {os.path.basename(out)}, sha256 {sha256}.\n"
    )
    return SourceBundle(
        out,
        bundle,
        sha256,
        tuple(t.address for t in targets),
        await Get(Digest, CreateDigest([FileContent(notice_path(request.owner), notice.encode())])),
    )


def rules():
    return collect_rules()
