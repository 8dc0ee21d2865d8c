"""End to end: the tiny native org builds to the same bytes on "another machine".

The second build starts from empty caches (no Pants cache, no ccache) in another directory, at a
later time, with another hostname (own UTS namespace), one CPU instead of all (taskset: native steps
build with the CPUs Pants may use) and umask 077. Every file Pants packages (native install trees,
layer zips, function zips, PEXes, manifests) must be identical.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from tests.e2e.fixture_repo import FixtureRepo, executed, make_native_fixture_repo

OTHER_MACHINE = (
    "unshare", "--uts", "sh", "-c",
    'hostname "another-build-host-$$" && umask 077 && exec taskset -c 0 "$@"',
    "sh",
)


def test_native_org_builds_the_same_bytes_on_another_machine(tmp_path: Path) -> None:
    assert os.cpu_count() and os.cpu_count() > 1, "needs 2+ CPUs to vary the CPU count"
    first = make_native_fixture_repo(tmp_path / "one" / "repo", tmp_path / "one" / "store")
    first_out = first.pants("package", "::").output
    assert executed(first_out, "Build native library") == ["native/tinya:tinya", "native/tinyb:tinyb", "native/tinyp:tinyp"]
    built = first.dist_files()
    assert any(p.startswith("native/tinyb/") for p in built) and any(p.endswith(".zip") for p in built)

    elsewhere = tmp_path / "two" / "checkout"
    shutil.copytree(first.root, elsewhere, ignore=shutil.ignore_patterns("dist"))
    second = FixtureRepo(elsewhere, tmp_path / "two" / "store")
    second_out = second.pants("package", "::", wrap=OTHER_MACHINE).output
    assert executed(second_out, "Build native library") == ["native/tinya:tinya", "native/tinyb:tinyb", "native/tinyp:tinyp"]
    rebuilt = second.dist_files()
    assert sorted(rebuilt) == sorted(built)
    assert [p for p in built if built[p] != rebuilt[p]] == []
