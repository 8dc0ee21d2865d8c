"""The corresponding-source bundle of a layer's copyleft natives: what goes in (the exact source
archive, Debian packaging, recipe directory, toolchain recipe, build scripts), byte for byte and
with no machine's timestamps or owners, and the notice the layer ships naming it."""

from __future__ import annotations

import hashlib
import io
import tarfile
from pathlib import Path

import pytest

from pants.engine.addresses import Address
from pants.engine.fs import Digest, DigestContents
from pants.testutil.rule_runner import QueryRule, RuleRunner
from serverless_gis import register
from serverless_gis.licenses.source_bundle import SourceBundle, SourceBundleRequest, needs_source
from serverless_gis.native.tiny_fixture import TINYA, tarball
from serverless_gis.testutil import set_tool_options

LAYER = Address("layers", target_name="geo")
ARCHIVE = tarball(TINYA)
LOCK = "# the toolchain image's package lock\ngcc=10.2.1-6\n"


@pytest.fixture(scope="module")
def rule_runner() -> RuleRunner:
    runner = RuleRunner(
        rules=[*register.rules(), QueryRule(SourceBundle, [SourceBundleRequest]), QueryRule(DigestContents, [Digest])],
        target_types=register.target_types(),
    )
    runner.write_files(
        {
            "toolchain/BUILD": 'toolchain_image(name="tc", lockfile="tc.lock")\n',
            "toolchain/tc.lock": LOCK,
            "native/geos/BUILD": (
                'native_library(name="geos", source="geos.tar.gz", toolchain="//toolchain:tc", version="3.13.1", '
                'license="LGPL-2.1-or-later", license_files=["COPYING"], patches=["fix.patch"])\n'
            ),
            "native/geos/fix.patch": "--- a/x\n+++ b/x\n",
            "native/mit/BUILD": (
                'native_library(name="mit", source="mit.tar.gz", toolchain="//toolchain:tc", version="1.0", '
                'license="MIT", license_files=["LICENSE"])\n'
            ),
        }
    )
    for name in ("geos", "mit"):
        Path(runner.build_root, f"native/{name}/{name}.tar.gz").write_bytes(ARCHIVE)
    set_tool_options(runner)
    return runner


def bundle(rule_runner: RuleRunner, *names: str) -> SourceBundle:
    natives = tuple(Address(f"native/{n}", target_name=n) for n in names)
    return rule_runner.request(SourceBundle, [SourceBundleRequest(LAYER, "layers/geo-x86_64.zip", natives)])


def contents(rule_runner: RuleRunner, digest) -> dict[str, bytes]:
    return {c.path: c.content for c in rule_runner.request(DigestContents, [digest])}


@pytest.mark.parametrize(
    "expression, needed",
    [("LGPL-2.1-or-later", True), ("MIT AND GPL-2.0-only", True), ("AGPL-3.0-only", True), ("MIT", False), ("libpng-2.0", False), (None, False)],
)
def test_which_licences_need_their_source_offered(expression, needed) -> None:
    assert needs_source(expression) is needed


def test_a_layer_with_only_permissive_natives_gets_no_bundle(rule_runner: RuleRunner) -> None:
    result = bundle(rule_runner, "mit")
    assert result.path is None and result.components == ()


def test_the_bundle_holds_the_exact_sources_recipe_and_scripts(rule_runner: RuleRunner) -> None:
    result = bundle(rule_runner, "geos", "mit")
    assert result.path == "layers/geo-x86_64.sources.tar"
    assert result.components == (Address("native/geos", target_name="geos"),)
    data = contents(rule_runner, result.digest)[result.path]
    assert hashlib.sha256(data).hexdigest() == result.sha256
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        members = {m.name: m for m in tar.getmembers()}
        assert tar.extractfile("repo/native/geos/geos.tar.gz").read() == ARCHIVE  # kept in the repository
        assert b"license=\"LGPL-2.1-or-later\"" in tar.extractfile("repo/native/geos/BUILD").read()
        assert "repo/native/geos/fix.patch" in members
        assert tar.extractfile("toolchain/geos/toolchain/tc.lock").read().decode() == LOCK
        assert "build-scripts/__steps/native_build.py" in members
        readme = tar.extractfile("README.txt").read().decode()
    assert "native/geos:geos: geos 3.13.1, LGPL-2.1-or-later" in readme
    assert f"repo/native/geos/geos.tar.gz  sha256 {hashlib.sha256(ARCHIVE).hexdigest()}" in readme
    assert not any(name.startswith("repo/native/mit") or "mit.tar.gz" in name for name in members)
    # No machine's state: every entry has time 0 and no owner.
    assert {(m.mtime, m.uid, m.gid, m.uname, m.gname) for m in members.values()} == {(0, 0, 0, "", "")}
    assert list(members) == sorted(members)
    notice = contents(rule_runner, result.notice)["share/licenses/SOURCES-geo.txt"].decode()
    assert "geos 3.13.1 (LGPL-2.1-or-later)" in notice
    assert f"geo-x86_64.sources.tar, sha256 {result.sha256}" in notice
