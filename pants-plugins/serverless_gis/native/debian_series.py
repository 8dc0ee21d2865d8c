"""Debian's patch series for a native library (source policy (a)): the `.debian.tar.*` of the
source package, its `debian/patches/series` read and checked against what the target records."""

from __future__ import annotations

from dataclasses import dataclass

from pants.core.util_rules.archive import ExtractedArchive, MaybeExtractArchiveRequest
from pants.engine.addresses import Address
from pants.engine.fs import EMPTY_DIGEST, Digest, DigestContents, DigestSubset, GlobMatchErrorBehavior, PathGlobs
from pants.engine.rules import Get, collect_rules, rule
from pants.util.logging import LogLevel

SERIES = "debian/patches/series"
CHANGELOG = "debian/changelog"


class DebianSeriesError(Exception):
    pass


@dataclass(frozen=True)
class DebianSeriesRequest:
    address: Address
    archive: Digest  # the one `.debian.tar.*` file
    archive_name: str
    declared: tuple[str, ...]  # the target's `debian_patches`


@dataclass(frozen=True)
class DebianSeries:
    digest: Digest  # debian/patches/<name> for each entry
    paths: tuple[str, ...]  # in series order


def parse_series(text: str) -> list[tuple[str, tuple[str, ...]]]:
    """quilt's series format: one patch per line, then options; `#` starts a comment."""
    entries = []
    for line in text.splitlines():
        words = line.split("#", 1)[0].split()
        if words:
            entries.append((words[0], tuple(words[1:])))
    return entries


def series_error(address: Address, archive_name: str, entries, declared) -> str | None:
    with_options = [f"{name} {' '.join(opts)}" for name, opts in entries if opts and opts != ("-p1",)]
    if with_options:
        return (
            f"{address}: {archive_name}'s {SERIES} applies patches with options the framework does not "
            f"support ({'; '.join(with_options)}); it applies each with `patch -p1`."
        )
    names = [name for name, _ in entries]
    if names != list(declared):
        return (
            f"{address}: `debian_patches` does not match {archive_name}'s {SERIES}: the SBOM would record "
            f"patches that are not the ones applied.\n  declared: {list(declared)}\n  series:   {names}\n"
            "Fix: set `debian_patches` to the series' lines, in order."
        )
    return None


@rule(desc="Read a Debian patch series", level=LogLevel.DEBUG)
async def debian_series(request: DebianSeriesRequest) -> DebianSeries:
    extracted = await Get(ExtractedArchive, MaybeExtractArchiveRequest(request.archive))
    contents = await Get(DigestContents, DigestSubset(extracted.digest, PathGlobs([SERIES, CHANGELOG])))
    by_path = {c.path: c.content for c in contents}
    if CHANGELOG not in by_path:
        raise DebianSeriesError(
            f"{request.address}: {request.archive_name} has no {CHANGELOG}, so it is no Debian packaging. Fix: "
            "`debian_source` must name the source package's `.debian.tar.*` (format 3.0 (quilt)), not its `.orig` tarball."
        )
    # A package Debian does not patch (GEOS 3.13.1-1) has no series.
    entries = parse_series(by_path.get(SERIES, b"").decode())
    error = series_error(request.address, request.archive_name, entries, request.declared)
    if error:
        raise DebianSeriesError(error)
    paths = tuple(f"debian/patches/{name}" for name, _ in entries)
    if not paths:
        return DebianSeries(EMPTY_DIGEST, ())
    patches = await Get(
        Digest,
        DigestSubset(
            extracted.digest,
            PathGlobs(paths, glob_match_error_behavior=GlobMatchErrorBehavior.error, description_of_origin=f"{request.archive_name}'s {SERIES}"),
        ),
    )
    return DebianSeries(patches, paths)


def rules():
    return collect_rules()
