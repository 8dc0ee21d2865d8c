"""End to end: native builds use the cores Pants gives them, and the core count is not in the key.

Build steps put `{pants_concurrency}` in their command (`make -j`, `cmake --build -j`, build_ext's
parallel), which Pants fills in when it runs the step, after the cache lookup. So a machine that
builds with one core and one that builds with two share every cache entry.
"""

from __future__ import annotations

from pathlib import Path

from tests.e2e.fixture_repo import executed, make_native_fixture_repo


def test_builds_with_other_core_counts_share_cache_entries(tmp_path: Path) -> None:
    repo = make_native_fixture_repo(tmp_path / "repo", tmp_path / "store")
    one_core = repo.pants("--process-execution-local-parallelism=1", "package", "native::").output
    assert executed(one_core, "Build native library") == ["native/tinya:tinya", "native/tinyb:tinyb", "native/tinyp:tinyp"]

    two_cores = repo.pants("--process-execution-local-parallelism=2", "package", "native::").output
    assert executed(two_cores, "Build native library") == []
    assert (repo.root / "dist/native/tinyb/tinyb-x86_64/lib/libtinyb.so").exists()
