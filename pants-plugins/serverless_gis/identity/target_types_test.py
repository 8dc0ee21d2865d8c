"""The identity fields on `native_library`, checked when the BUILD file is parsed: good values read
back; a bad one fails naming the target, the field and the fix."""

from __future__ import annotations

import pytest

from pants.engine.addresses import Address
from pants.engine.internals.scheduler import ExecutionError
from pants.testutil.rule_runner import RuleRunner
from serverless_gis.identity import rules as identity_rules
from serverless_gis.identity.target_types import NativeBundledField, NativeCpeField, NativeDebianField, identity_of
from serverless_gis.native.target_types import NativeLibraryTarget, ToolchainImageTarget

BASE = 'native_library(name="lib", source="lib.tar.gz", toolchain="//tc:tc", version="3.13.3", '


@pytest.fixture
def rule_runner() -> RuleRunner:
    runner = RuleRunner(rules=identity_rules.rules(), target_types=[NativeLibraryTarget, ToolchainImageTarget])
    runner.write_files({"tc/BUILD": 'toolchain_image(name="tc", lockfile="tc.lock")\n'})
    return runner


def parse(rule_runner: RuleRunner, fields: str):
    rule_runner.write_files({"native/BUILD": BASE + fields + ")\n"})
    return rule_runner.get_target(Address("native", target_name="lib"))


def test_identity_reads_back(rule_runner: RuleRunner) -> None:
    tgt = parse(
        rule_runner,
        'cpe="osgeo:gdal", upstream={"repo": "https://github.com/OSGeo/gdal", "tag": "v3.13.3"}, '
        'debian={"source": "gdal", "version": "3.13.3+dfsg-1", "release": "13"}, '
        'bundled=[{"name": "libgeotiff", "version": "1.7.4", "cpe": "osgeo:libgeotiff", "path": "frmts/gtiff/libgeotiff"}]',
    )
    assert tgt[NativeCpeField].value == "osgeo:gdal"
    assert dict(tgt[NativeDebianField].value) == {"source": "gdal", "version": "3.13.3+dfsg-1", "release": "13"}
    assert [dict(b) for b in tgt[NativeBundledField].value] == [
        {"name": "libgeotiff", "version": "1.7.4", "cpe": "osgeo:libgeotiff", "path": "frmts/gtiff/libgeotiff"}
    ]
    assert identity_of(tgt)["upstream"] == {"repo": "https://github.com/OSGeo/gdal", "tag": "v3.13.3"}


@pytest.mark.parametrize(
    "fields, message",
    [
        ('cpe="GDAL"', r"native:lib: `cpe` 'GDAL' is not `vendor:product`.*Fix: look the product up in NVD's CPE dictionary"),
        ('upstream={"repo": "github.com/OSGeo/gdal"}', r"native:lib: `upstream` needs `repo`, an https:// URL.*Fix: add `\"repo\""),
        (
            'upstream={"repo": "https://github.com/OSGeo/gdal", "commit": "abc123"}',
            r"`upstream` `commit` 'abc123' is not a full 40-hex git commit. Fix: write the tag's full commit id",
        ),
        ('debian={"source": "curl", "version": "8.14.1-2+deb13u2"}', r"`debian` must have exactly the keys source, version, release \(missing: release; unknown: none\)"),
        ('debian={"source": "curl", "version": "8.14.1-2+deb13u2", "release": "trixie"}', r"`release` 'trixie' is not a Debian release number. Fix: write the major release"),
        ('repackaged_from="npm:gdal-async"', r"`repackaged_from` 'npm:gdal-async' is not a package URL with a version. Fix: write e.g. `pkg:npm/"),
        ('bundled=[{"name": "flatbuffers"}]', r"`bundled` entry 0 \(flatbuffers\) lacks version. Fix: give `name` and `version`"),
        ('bundled=[{"name": "x", "version": "1", "cpe": "X Y"}]', r"`bundled` entry 0 \(x\): `cpe` 'X Y' is not `vendor:product`"),
    ],
)
def test_bad_values_fail_naming_target_field_and_fix(rule_runner: RuleRunner, fields: str, message: str) -> None:
    with pytest.raises(ExecutionError, match=message):
        parse(rule_runner, fields)
