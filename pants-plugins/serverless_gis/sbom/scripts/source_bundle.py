"""A deterministic tar of a directory: sorted entries, no timestamps, owners or host modes, so the
same files give the same bytes on any machine. Uncompressed: the archives inside are compressed
already, and a compressor's output varies with its version."""

from __future__ import annotations

import os
import tarfile


def write(job: dict) -> None:
    root = job["root"]
    paths = sorted(
        os.path.relpath(os.path.join(d, f), root) for d, _, files in os.walk(root) for f in files
    )
    os.makedirs(os.path.dirname(job["out"]) or ".", exist_ok=True)
    with tarfile.open(job["out"], "w", format=tarfile.PAX_FORMAT) as tar:
        for path in paths:
            full = os.path.join(root, path)
            info = tarfile.TarInfo(path)
            info.size = os.path.getsize(full)
            info.mode = 0o755 if os.access(full, os.X_OK) else 0o644
            info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
            with open(full, "rb") as f:
                tar.addfile(info, f)
