"""Run BuildGrid's `bgd` CLI with one extra config tag: `!disk-action-cache`.

BuildGrid 0.9.1 ships no action cache that is both local and persistent: `!lru-action-cache` lives in
memory (lost on restart), and the persistent ones need S3 or Redis. A CI cache that forgets every entry
when the server restarts is useless, so this launcher registers a small file-backed action cache:

    caches:
      - !disk-action-cache &main-action
        storage: *main-storage      # CAS storage, used to check that referenced blobs still exist
        path: /some/dir/ac          # one file per action digest, holding the serialized ActionResult
        allow-updates: true
        cache-failed-actions: false

Entries are written atomically (temp file + rename), so a crash never leaves a torn entry. An entry
whose output blobs are gone from CAS is treated as a miss (and removed), like BuildGrid's own caches.

Usage: python bgd_persistent.py <bgd arguments>, e.g. `server start cfg.yml`.
It relies on BuildGrid internals (`parser.object_tag`, `parser.get_schema`) of the pinned version
in requirements.txt; bump the pin and re-run the round-trip check in README.md together.
"""

from __future__ import annotations

import os
import sys
import tempfile

import click
from buildgrid._protos.build.bazel.remote.execution.v2.remote_execution_pb2 import ActionResult, Digest
from buildgrid.server.actioncache.caches.action_cache_abc import ActionCacheABC
from buildgrid.server.app.settings import parser
from buildgrid.server.cas.root_storage import RootStorage
from buildgrid.server.cas.storage.storage_abc import StorageABC
from buildgrid.server.exceptions import NotFoundError
from buildgrid.server.logging import buildgrid_logger

LOGGER = buildgrid_logger(__name__)
TAG = "!disk-action-cache"


class DiskActionCache(ActionCacheABC):
    """Action cache persisted as files: <path>/<hash[:2]>/<hash>_<size_bytes>."""

    def __init__(
        self,
        storage: RootStorage,
        path: str,
        allow_updates: bool = True,
        cache_failed_actions: bool = True,
    ) -> None:
        super().__init__(storage=storage, allow_updates=allow_updates)
        self._cache_failed_actions = cache_failed_actions
        self._root = os.path.abspath(path)
        self._tmp = os.path.join(self._root, "tmp")
        os.makedirs(self._tmp, exist_ok=True)

    def _entry_path(self, digest: Digest) -> str:
        h = digest.hash
        if not h or any(c not in "0123456789abcdef" for c in h):
            raise NotFoundError(f"Invalid action digest hash: {h!r}")
        return os.path.join(self._root, h[:2], f"{h}_{digest.size_bytes}")

    def get_action_result(self, action_digest: Digest) -> ActionResult:
        path = self._entry_path(action_digest)
        try:
            with open(path, "rb") as f:
                action_result = ActionResult.FromString(f.read())
        except FileNotFoundError:
            raise NotFoundError(f"Key not found: {action_digest.hash}/{action_digest.size_bytes}") from None

        if self.referenced_blobs_still_exist(action_digest, action_result):
            return action_result

        if self._allow_updates:
            LOGGER.debug("Removing action from cache due to missing blobs in CAS.", tags=dict(digest=action_digest))
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
        raise NotFoundError(f"Key not found: {action_digest.hash}/{action_digest.size_bytes}")

    def update_action_result(self, action_digest: Digest, action_result: ActionResult) -> None:
        if not self._allow_updates:
            raise NotImplementedError("Updating cache not allowed")
        if not (self._cache_failed_actions or action_result.exit_code == 0):
            return
        path = self._entry_path(action_digest)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self._tmp)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(action_result.SerializeToString())
            os.replace(tmp, path)
        except BaseException:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
            raise
        LOGGER.info("Result cached for action.", tags=dict(digest=action_digest))


@parser.object_tag(TAG)
def load_disk_action_cache(
    storage: StorageABC,
    path: str,
    allow_updates: bool = True,
    cache_failed_actions: bool = True,
) -> DiskActionCache:
    click.echo(
        f"DiskActionCache: storage={type(storage).__name__}, path={path}, "
        f"allow_updates={allow_updates}, cache_failed_actions={cache_failed_actions}"
    )
    return DiskActionCache(RootStorage(storage), path, allow_updates, cache_failed_actions)


_original_get_schema = parser.get_schema


def _get_schema(strict: bool = False):  # type: ignore[no-untyped-def]
    schema = _original_get_schema(strict=strict)
    definitions = schema["definitions"]
    definitions["disk-action-cache"] = {
        "type": "object",
        "propertyNames": {"pattern": "^[A-Za-z0-9-]*$"},
        "properties": {
            "kind": {"type": "string", "enum": [TAG]},
            "storage": {"$ref": "#/definitions/storage"},
            "path": {"type": "string"},
            "allow-updates": {"type": "boolean"},
            "cache-failed-actions": {"type": "boolean"},
        },
        "required": ["kind", "storage", "path"],
        **({"additionalProperties": False} if strict else {}),
    }
    definitions["cache"]["oneOf"].append({"$ref": "#/definitions/disk-action-cache"})
    return schema


parser.get_schema = _get_schema


def main() -> None:
    from buildgrid.server.app.cli import cli

    sys.argv[0] = "bgd"
    cli()


if __name__ == "__main__":
    main()
