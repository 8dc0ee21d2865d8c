"""A small layer for SBOM and advisory tests, zipped by the real zip step: two native libraries
(one from a pinned URL, one from a local archive, with their install trees), a distribution from
the lockfile and one built from source."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from pathlib import Path

from pants.core.target_types import http_source
from pants.engine.addresses import Address
from pants.engine.fs import CreateDigest, Digest, FileContent
from pants.testutil.rule_runner import QueryRule, RuleRunner
from serverless_gis import register
from serverless_gis.artifact import ZipArtifact, ZipArtifactRequest
from serverless_gis.layer.target_types import DEFAULT_LAYER_PRUNE, DEFAULT_NATIVE_PRUNE
from serverless_gis.sbom.rules import Sbom, SbomRequest
from serverless_gis.testutil import set_tool_options

TINYA = Address("native", target_name="tinya")
TINYB = Address("native", target_name="tinyb")
LAYER = Address("layers", target_name="geo")
TINYA_URL = "http://deb.debian.org/debian/pool/main/t/tinya/tinya_1.2.3.orig.tar.gz"
TINYA_SHA256 = "1" * 64
# tinya is downloaded, so the source policy applies (serverless_gis/identity/source_policy.py)
TINYA_SOURCE_POLICY = 'source_policy={"policy": "exception", "reason": "a test fixture", "wanted": "nothing", "expires": "2099-12-31"}'
TINYB_ARCHIVE = b"tinyb 2.0.0 source"
SIX_URL = "https://files.pythonhosted.org/packages/b7/ce/six-1.17.0-py2.py3-none-any.whl"
SIX_SHA256 = "4721f391ed90541fddacab5acf947aa0d3dc7d27b2e1e8eda2be8970586c3274"
PYTHON = "CPython==3.13.*"
TINYB_COMMIT = "b" * 40
# Identity fields (serverless_gis/identity): tinya from a Debian source package (policy (a)), tinyb
# from an upstream release, repackaged, patched, bundling two libraries (policy (b)).
IDENTITY = {
    "tinya": (
        'cpe="tiny:tinya", upstream={"repo": "https://example.org/tinya", "tag": "v1.2.3"}, '
        'debian={"source": "tinya", "version": "1.2.3-1+deb13u1", "release": "13"}, '
        'debian_patches=["CVE-2026-0001.patch", "fix-build.patch"]'
    ),
    "tinyb": (
        f'cpe="tiny:tinyb", upstream={{"repo": "https://example.org/tinyb", "tag": "v2.0.0", "commit": "{TINYB_COMMIT}"}}, '
        'repackaged_from="pkg:npm/tinyb-bundle@2.0.0", patches=["fix-CVE-2026-0002.patch"], '
        'bundled=[{"name": "minijson", "version": "3.11.3", "cpe": "nlohmann:json", "license": "MIT"}, '
        '{"name": "libcsf", "version": "1.0", "path": "src/csf"}]'
    ),
}

LOCK = "// a pex lock with Pants' header\n" + json.dumps(
    {
        "locked_resolves": [
            {
                "locked_requirements": [
                    {
                        "project_name": "six",
                        "version": "1.17.0",
                        "requires_dists": [],
                        "artifacts": [
                            {"algorithm": "sha256", "hash": SIX_SHA256, "url": SIX_URL},
                            {"algorithm": "sha256", "hash": "2" * 64, "url": SIX_URL.replace("-py2.py3-none-any.whl", ".tar.gz")},
                        ],
                    }
                ]
            }
        ]
    }
)


def sbom_rule_runner(*rules, identity: dict[str, str] | None = None) -> RuleRunner:
    """`identity`: per native target name, more fields for its BUILD entry (identity fields)."""
    more = {name: f", {fields}" for name, fields in (identity or {}).items()}
    runner = RuleRunner(
        rules=[
            *register.rules(),
            QueryRule(Digest, [CreateDigest]),
            QueryRule(ZipArtifact, [ZipArtifactRequest]),
            QueryRule(Sbom, [SbomRequest]),
            *rules,
        ],
        target_types=register.target_types(),
        objects={"http_source": http_source},
    )
    runner.write_files(
        {
            "toolchain/BUILD": 'toolchain_image(name="tc", lockfile="tc.lock")\n',
            "native/BUILD": (
                f'native_library(name="tinya", source=http_source("{TINYA_URL}", len=100, sha256="{TINYA_SHA256}"), '
                f'toolchain="//toolchain:tc", version="1.2.3", license="MIT", license_files=["LICENSE"], {TINYA_SOURCE_POLICY}{more.get("tinya", "")})\n'
                f'native_library(name="tinyb", source="tinyb.tar.gz", toolchain="//toolchain:tc", dependencies=[":tinya"], '
                f'version="2.0.0", license="BSD-3-Clause AND MIT", license_files=["COPYING"]{more.get("tinyb", "")})\n'
            ),
            "x86_64.lock": LOCK,
        }
    )
    Path(runner.build_root, "native/tinyb.tar.gz").write_bytes(TINYB_ARCHIVE)
    set_tool_options(runner, "--python-resolves={'x86_64': 'x86_64.lock'}")
    return runner


def digest(rule_runner: RuleRunner, files: dict[str, bytes]) -> Digest:
    return rule_runner.request(Digest, [CreateDigest(FileContent(p, c) for p, c in files.items())])


def wheel(files: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, content in sorted(files.items()):
            zf.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), content)
    return buf.getvalue()


GEO_WHEEL_NAME = "geo-1.0-cp313-cp313-linux_x86_64.whl"
GEO_WHEEL = wheel(
    {
        "geo/__init__.py": "BUILT = True\n",
        "geo-1.0.dist-info/METADATA": "Metadata-Version: 2.4\nName: geo\nVersion: 1.0\nLicense-Expression: Apache-2.0\n\n",
        "geo-1.0.dist-info/WHEEL": "Wheel-Version: 1.0\nTag: cp313-cp313-linux_x86_64\n",
    }
)
GEO_WHEEL_SHA256 = hashlib.sha256(GEO_WHEEL).hexdigest()


# Install trees as the native build leaves them (headers, a -config script and licence texts).
NATIVE_TREES = {
    TINYA: {
        "lib/libtinya.so.1": b"\x7fELF tinya",
        "include/tinya.h": b"int tinya(void);\n",
        "bin/tinya-config": b"#!/bin/sh\n",
        "share/licenses/tinya/LICENSE": b"MIT License\n",
    },
    TINYB: {"lib/libtinyb.so": b"\x7fELF tinyb", "share/licenses/tinyb/COPYING": b"BSD\n"},
}


def layer_sbom(rule_runner: RuleRunner, six_source: str = "import sys\n") -> tuple[ZipArtifact, Sbom]:
    """The layer zip (six from the lockfile, geo built from source, tinya and tinyb) and its SBOM."""
    tree = digest(
        rule_runner,
        {
            "__layer/six.py": six_source.encode(),
            "__layer/six-1.17.0.dist-info/METADATA": b"Metadata-Version: 2.1\nName: six\nVersion: 1.17.0\nLicense: MIT\n\n",
            "__layer/six-1.17.0.dist-info/WHEEL": b"Wheel-Version: 1.0\nTag: py2-none-any\nTag: py3-none-any\n",
            "__layer/six-1.17.0.dist-info/RECORD": b"six.py,,\nsix-1.17.0.dist-info/METADATA,,\n",
            "__layer/six-1.17.0.dist-info/LICENSE": b"Copyright (c) 2010-2024 Benjamin Peterson\n",
        },
    )
    trees = tuple((address, digest(rule_runner, files)) for address, files in NATIVE_TREES.items())
    wheels = digest(rule_runner, {GEO_WHEEL_NAME: GEO_WHEEL})
    artifact = rule_runner.request(
        ZipArtifact,
        [
            ZipArtifactRequest(
                tree=tree,
                src="__layer",
                prefix="python/",
                mount="/opt",
                prune=DEFAULT_LAYER_PRUNE,
                bytecode="none",
                output_path="layers/geo-x86_64.zip",
                interpreter_constraint=PYTHON,
                description="Zip the test layer",
                native_tree=digest(rule_runner, {p: c for files in NATIVE_TREES.values() for p, c in files.items()}),
                native_prune=DEFAULT_NATIVE_PRUNE,
                wheels=wheels,
            )
        ],
    )
    sbom = rule_runner.request(
        Sbom,
        [
            SbomRequest(
                owner=LAYER,
                kind="layer",
                artifact=artifact,
                runtime="AWS Lambda Python 3.13 x86_64",
                resolve="x86_64",
                python_prefix="python/",
                natives=trees,
                wheels=wheels,
            )
        ],
    )
    return artifact, sbom
