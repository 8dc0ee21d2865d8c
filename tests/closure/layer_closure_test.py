"""The GIS layer, x86_64 and arm64, ships only what native targets built from pinned sources: each
file in its lib/ is byte-identical to a file of one target's install tree for that arch (every ELF
file for that CPU), no library is vendored from the toolchain image, the versions are the
closure's (OpenSSL 3.5, SQLite 3.46, libtiff 4.7, no JBIG), each shipping target's licence texts are
in share/licenses/, no build-only tool ships, and both arches hold the same packages."""

from __future__ import annotations

import hashlib
import json
import re
import zipfile
from pathlib import Path

import pytest

NATIVE = Path("native")
ARCHES = ("x86_64", "arm64")
ELF_MACHINE = {"x86_64": 62, "arm64": 183}  # EM_X86_64, EM_AARCH64


def layer_path(arch: str, suffix: str = ".zip") -> Path:
    return Path(f"layers/geo/geo-aws-py313-{arch}{suffix}")


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_layer(arch: str) -> dict[str, bytes]:
    with zipfile.ZipFile(layer_path(arch)) as zf:
        return {i.filename: zf.read(i) for i in zf.infolist() if not i.is_dir()}


@pytest.fixture(scope="module", params=ARCHES)
def arch(request) -> str:
    return request.param


@pytest.fixture(scope="module")
def layer(arch: str) -> dict[str, bytes]:
    return read_layer(arch)


@pytest.fixture(scope="module")
def trees(arch: str) -> dict[str, dict[str, str]]:
    """target name -> {path in its install tree for `arch`: sha256}"""
    found = {}
    for tree in sorted(p for p in NATIVE.glob(f"*/*-{arch}") if p.is_dir()):
        found[tree.name[: -len(f"-{arch}")]] = {
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


def test_every_elf_file_is_for_the_layers_cpu(arch: str, layer: dict[str, bytes]) -> None:
    elves = {p: data for p, data in layer.items() if data[:4] == b"\x7fELF"}
    assert {"lib/libgdal.so.39", "lib/libproj.so.25", "lib/libgeos_c.so.1"} <= set(elves)
    # e_machine: 2 bytes at offset 18 (little endian)
    assert {p for p, data in elves.items() if int.from_bytes(data[18:20], "little") != ELF_MACHINE[arch]} == set()


def test_both_arches_hold_the_same_packages() -> None:
    def packages(arch: str) -> set[str]:
        return {p.split("/")[1] for p in read_layer(arch) if p.startswith("python/") and p.count("/") >= 2}

    x86_64, arm64 = packages("x86_64"), packages("arm64")
    assert {"rasterio", "fiona", "pyproj", "shapely", "numpy"} <= arm64
    assert x86_64 == arm64
    # one copy of each native library: no wheel's own `*.libs/`
    assert not [p for p in arm64 | x86_64 if p.endswith(".libs")]


def test_sbom_names_the_component_of_every_library(arch: str, layer: dict[str, bytes]) -> None:
    bom = json.loads(layer_path(arch, ".cdx.json").read_text())
    owners: dict[str, list[str]] = {}
    for component in bom["components"]:
        for occurrence in (component.get("evidence") or {}).get("occurrences") or []:
            owners.setdefault(occurrence["location"], []).append(component["name"])
    elves = [p for p, data in layer.items() if p.startswith("lib/") and data[:4] == b"\x7fELF"]
    assert elves and not [p for p in elves if len(owners.get(p, [])) != 1]
    natives = {c["name"]: c for c in bom["components"] if c.get("purl", "").startswith("pkg:generic/")}
    assert natives["openssl"]["version"] == "3.5.7"
    # share/licenses/ holds one directory per component, and the layer's corresponding-source notice
    assert {name for name in natives} == {p.split("/")[2] for p in layer if p.startswith("share/licenses/") and p.count("/") > 2}
    assert [p for p in layer if p.startswith("share/licenses/") and p.count("/") == 2] == ["share/licenses/SOURCES-geo.txt"]
