"""The x86_64 GIS layer ships only what native targets built from pinned sources: each file in its
lib/ is byte-identical to a file of one target's install tree, no library is vendored from the
toolchain image, the versions are the closure's (OpenSSL 3.5, SQLite 3.46, libtiff 4.7, no JBIG),
each shipping target's licence texts are in share/licenses/, and no build-only tool ships."""

from __future__ import annotations

import hashlib
import json
import re
import zipfile
from pathlib import Path

import pytest

LAYER = Path("layers/geo/geo-aws-py313-x86_64.zip")
NATIVE = Path("native")


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture(scope="module")
def layer() -> dict[str, bytes]:
    with zipfile.ZipFile(LAYER) as zf:
        return {i.filename: zf.read(i) for i in zf.infolist() if not i.is_dir()}


@pytest.fixture(scope="module")
def trees() -> dict[str, dict[str, str]]:
    """target name -> {path in its install tree: sha256}"""
    found = {}
    for tree in sorted(p for p in NATIVE.glob("*/*") if p.is_dir()):
        found[tree.name] = {
            str(f.relative_to(tree)): sha256(f.read_bytes()) for f in tree.rglob("*") if f.is_file()
        }
    return found


def test_every_library_is_a_targets_output(layer: dict[str, bytes], trees: dict[str, dict[str, str]]) -> None:
    libs = {path: data for path, data in layer.items() if path.startswith("lib/")}
    assert libs, sorted(layer)[:20]
    owners = {}
    for path, data in libs.items():
        matches = [name for name, files in trees.items() if files.get(path) == sha256(data)]
        assert matches, f"{path} is no native target's output"
        owners[path] = matches[0]
    # Nothing vendored from the toolchain (those got hash-suffixed names) and no JBIG-KIT.
    assert not [p for p in libs if re.search(r"-[0-9a-f]{8}\.so", p)]
    assert not [p for p in libs if "jbig" in p]
    # The runtime provides zlib: it is built against, not shipped.
    assert "zlib" not in owners.values()
    assert {"openssl", "sqlite", "libtiff", "curl", "gdal", "proj", "geos"} <= set(owners.values())


def test_closure_versions(layer: dict[str, bytes]) -> None:
    assert {"lib/libssl.so.3", "lib/libcrypto.so.3", "lib/libsqlite3.so.0", "lib/libtiff.so.6"} <= set(layer)
    assert b"OpenSSL 3.5.7" in layer["lib/libcrypto.so.3"]
    assert b"3.46.1" in layer["lib/libsqlite3.so.0"]
    assert b"LIBTIFF, Version 4.7.0" in layer["lib/libtiff.so.6"]


def test_licences_ship_for_every_shipping_target(layer: dict[str, bytes], trees: dict[str, dict[str, str]]) -> None:
    shipping = {name for name, files in trees.items() if any(layer.get(p) is not None for p in files if p.startswith("lib/"))}
    for name in shipping:
        texts = [p for p in layer if p.startswith(f"share/licenses/{name}/")]
        assert texts, f"no licence text of {name} in the layer"
        for path in texts:
            assert sha256(layer[path]) == trees[name][path]
    assert "share/licenses/libjpeg-turbo/README.ijg" in layer  # the IJG notice the licence requires


def test_no_build_only_tools(layer: dict[str, bytes]) -> None:
    assert not [p for p in layer if p.startswith("bin/") or p.startswith("share/bash-completion/")]


def test_sbom_names_the_component_of_every_library(layer: dict[str, bytes]) -> None:
    bom = json.loads(Path("layers/geo/geo-aws-py313-x86_64.cdx.json").read_text())
    owners: dict[str, list[str]] = {}
    for component in bom["components"]:
        for occurrence in (component.get("evidence") or {}).get("occurrences") or []:
            owners.setdefault(occurrence["location"], []).append(component["name"])
    elves = [p for p, data in layer.items() if p.startswith("lib/") and data[:4] == b"\x7fELF"]
    assert elves and not [p for p in elves if len(owners.get(p, [])) != 1]
    natives = {c["name"]: c for c in bom["components"] if c.get("purl", "").startswith("pkg:generic/")}
    assert natives["openssl"]["version"] == "3.5.7"
    assert {name for name in natives} == {p.split("/")[2] for p in layer if p.startswith("share/licenses/")}
