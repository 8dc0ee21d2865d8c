"""Deployable zips: the `build_artifact.py` script run as a Pants process with the runtime's Python."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

from pants.core.util_rules.archive import ExtractedArchive, MaybeExtractArchiveRequest
from pants.backend.python.util_rules.interpreter_constraints import InterpreterConstraints
from pants.backend.python.util_rules.pex_environment import PythonExecutable
from pants.engine.fs import (
    AddPrefix,
    Digest,
    DigestContents,
    DigestEntries,
    DigestSubset,
    FileEntry,
    MergeDigests,
    PathGlobs,
    RemovePrefix,
)
from pants.engine.process import Process, ProcessResult
from pants.engine.rules import Get, collect_rules, rule
from pants.util.frozendict import FrozenDict
from pants.util.logging import LogLevel
from serverless_gis.resources import package_resources_digest

_SCRIPT = "build_artifact.py"


@dataclass(frozen=True)
class ZipArtifactRequest:
    tree: Digest
    src: str
    prefix: str
    mount: str
    prune: tuple[str, ...]
    bytecode: str
    output_path: str
    interpreter_constraint: str
    description: str
    # A native install tree (lib/, share/) placed at the zip root, pruned with `native_prune`.
    native_tree: Digest | None = None
    native_prune: tuple[str, ...] = ()
    # Wheels installed over `src`, replacing any distribution of the same project.
    wheels: Digest | None = None
    # Also return the Python files pruned away (to check imports against the unpruned tree).
    keep_pruned: bool = False


@dataclass(frozen=True)
class ZipArtifact:
    digest: Digest
    path: str
    sha256: str
    unzipped_bytes: int
    zipped_bytes: int
    contributors: tuple[tuple[str, int], ...]
    distributions: FrozenDict[str, str]
    # Native libraries or data files found more than once: (name, paths).
    duplicates: tuple[tuple[str, tuple[str, ...]], ...] = ()
    # The native libraries, PROJ databases and large files it holds, by name (see
    # build_artifact.py), with their paths in the zip.
    shared_files: FrozenDict[str, tuple[str, ...]] = FrozenDict()
    # Top-level files and directories of each distribution (canonical name), as zip paths.
    distribution_paths: FrozenDict[str, tuple[str, ...]] = FrozenDict()
    # Names importable from its import root, and those the runtime's standard library provides.
    modules: tuple[str, ...] = ()
    stdlib: tuple[str, ...] = ()
    # Pruned files shipped anyway because a shipped module imports them: {zip path: importer}.
    kept_for_imports: FrozenDict[str, str] = FrozenDict()
    # With `keep_pruned`: the Python files left out, at their paths in the Python tree.
    pruned: Digest | None = None


def zip_stem(path: str) -> str:
    """A zip's name without `.zip` (`<target name>-<runtime name>`): published layer and default
    function names, SBOM names."""
    return os.path.basename(path)[: -len(".zip")]


def mib(n: int) -> str:
    if n < 1024 * 1024:
        return f"{n / 1024:.1f} KiB"
    return f"{n / (1024 * 1024):.1f} MiB"


def format_contributors(contributors: tuple[tuple[str, int], ...], limit: int = 10) -> str:
    return "\n".join(f"  {size / (1024 * 1024):8.1f} MiB  {name}" for name, size in contributors[:limit])


async def unzip_into(zip_digest: Digest, zip_path: str, prefix: str) -> Digest:
    only_zip = await Get(Digest, DigestSubset(zip_digest, PathGlobs([zip_path])))
    extracted = await Get(ExtractedArchive, MaybeExtractArchiveRequest(only_zip))
    return await Get(Digest, AddPrefix(extracted.digest, prefix))


@rule(desc="Build a deterministic deployable zip", level=LogLevel.DEBUG)
async def build_zip_artifact(request: ZipArtifactRequest) -> ZipArtifact:
    python = await Get(
        PythonExecutable, InterpreterConstraints([request.interpreter_constraint])
    )
    # The script imports import_closure.py from its directory.
    script = await package_resources_digest("serverless_gis.scripts", (_SCRIPT, "import_closure.py"))
    digests = [request.tree, script]
    native_args: tuple[str, ...] = ()
    if request.native_tree is not None:
        digests.append(await Get(Digest, AddPrefix(request.native_tree, "__native")))
        native_args = ("--native-src=__native", *(f"--native-prune={p}" for p in request.native_prune))
    wheel_args: tuple[str, ...] = ()
    if request.wheels is not None:
        digests.append(await Get(Digest, AddPrefix(request.wheels, "__wheels")))
        entries = await Get(DigestEntries, Digest, request.wheels)
        wheel_args = tuple(sorted(f"--wheel=__wheels/{e.path}" for e in entries if isinstance(e, FileEntry)))
    input_digest = await Get(Digest, MergeDigests(digests))
    report = "__report.json"
    pruned_dir = "__pruned"
    result = await Get(
        ProcessResult,
        Process(
            argv=(
                python.path,
                _SCRIPT,
                f"--src={request.src}",
                f"--prefix={request.prefix}",
                f"--mount={request.mount}",
                f"--bytecode={request.bytecode}",
                f"--out={request.output_path}",
                f"--report={report}",
                *(f"--prune={p}" for p in request.prune),
                *native_args,
                *wheel_args,
                *([f"--pruned-out={pruned_dir}"] if request.keep_pruned else []),
            ),
            input_digest=input_digest,
            output_files=(request.output_path, report),
            output_directories=(pruned_dir,) if request.keep_pruned else (),
            description=request.description,
            level=LogLevel.INFO,
            # On a remote cache hit, do not zip locally in parallel with the lookup.
            remote_cache_speculation_delay_millis=60_000,
        ),
    )
    report_contents = await Get(
        DigestContents, DigestSubset(result.output_digest, PathGlobs([report]))
    )
    data = json.loads(report_contents[0].content)
    zip_digest = await Get(
        Digest, DigestSubset(result.output_digest, PathGlobs([request.output_path]))
    )
    entries = await Get(DigestEntries, Digest, zip_digest)
    entry = next(e for e in entries if isinstance(e, FileEntry))
    pruned = None
    if request.keep_pruned:
        only_pruned = await Get(Digest, DigestSubset(result.output_digest, PathGlobs([f"{pruned_dir}/**"])))
        pruned = await Get(Digest, RemovePrefix(only_pruned, pruned_dir))
    return ZipArtifact(
        digest=zip_digest,
        path=request.output_path,
        sha256=entry.file_digest.fingerprint,
        unzipped_bytes=data["unzipped_bytes"],
        zipped_bytes=data["zipped_bytes"],
        contributors=tuple((name, size) for name, size in data["contributors"]),
        distributions=FrozenDict(data["distributions"]),
        duplicates=tuple((name, tuple(paths)) for name, paths in data["duplicates"]),
        shared_files=FrozenDict((name, tuple(paths)) for name, paths in data["shared_files"].items()),
        distribution_paths=FrozenDict(
            (name, tuple(paths)) for name, paths in data["distribution_paths"].items()
        ),
        modules=tuple(data["modules"]),
        stdlib=tuple(data["stdlib"]),
        kept_for_imports=FrozenDict(data["kept_for_imports"]),
        pruned=pruned,
    )


def rules():
    return collect_rules()
