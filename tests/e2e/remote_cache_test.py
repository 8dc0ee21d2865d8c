"""End to end with a real REAPI server (BuildGrid): a fresh machine rebuilds nothing that
another built (the arm64 layer included: no compile, no qemu, no Docker), an edit rebuilds only
what it touches, and a dead server only costs time."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.e2e.fixture_repo import FixtureRepo, executed, make_native_fixture_repo

SERVER = "build-support/remote-cache/server.sh"
NATIVE = "Build native library"
LAYER = "Zip layer"
FUNCTION = "Zip function"
ARCHES = ("arm64", "x86_64")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    data = tmp_path_factory.mktemp("remote-cache")
    address = subprocess.run(
        [SERVER, "start", "--port", "free", "--data", str(data)],
        check=True, stdout=subprocess.PIPE, text=True, timeout=600,
    ).stdout.strip()
    yield address, data
    subprocess.run([SERVER, "stop", "--data", str(data)], check=False)


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> FixtureRepo:
    tmp = tmp_path_factory.mktemp("e2e-native")
    return make_native_fixture_repo(tmp / "repo", tmp / "store-setup", arm64=True)


def remote(address: str) -> list[str]:
    return ["--remote-cache-read", "--remote-cache-write", f"--remote-store-address={address}"]


def test_remote_cache_scenarios(repo: FixtureRepo, server, tmp_path: Path) -> None:
    address, data = server

    # Machine 1: cold build, written to the remote cache.
    repo.store = tmp_path / "machine1"
    first = repo.pants(*remote(address), "package", "::").output
    # every library for both arches (arm64 with the cross toolchain), the geo layer for both
    assert executed(first, NATIVE) == [f"native/{n}@toolchain={a}" for n in ("tinya", "tinyb", "tinyp") for a in ARCHES]
    assert executed(first, LAYER) == ["layers/geo@runtime=arm64", "layers/geo@runtime=x86_64", "layers/proj:proj"]
    built = repo.dist_files()
    assert "layers/geo/geo-arm64.zip" in built

    # Machine 2: empty local caches and no Docker daemon; everything comes from the remote cache.
    repo.store = tmp_path / "machine2"
    (repo.root / "dist").rename(tmp_path / "dist-machine1")
    second = repo.pants(*remote(address), "package", "::", hide_docker=True).output
    assert executed(second, NATIVE) == []
    assert executed(second, LAYER) == []
    assert executed(second, FUNCTION) == []
    assert repo.dist_files() == built

    # One handler edit: exactly that function is zipped again.
    handler = repo.root / "functions/crs/handler.py"
    handler.write_text(handler.read_text() + "\n# edited\n")
    third = repo.pants(*remote(address), "package", "::").output
    assert executed(third, NATIVE) == []
    assert executed(third, LAYER) == []
    assert executed(third, FUNCTION) == ["functions/crs:crs"]

    # A CMake option of the GDAL stand-in: it and the layer holding it rebuild, nothing else.
    build = repo.root / "native/tinyb/BUILD"
    build.write_text(build.read_text().replace("-DFLAVOR=1", "-DFLAVOR=2"))
    fourth = repo.pants(*remote(address), "package", "::").output
    assert executed(fourth, NATIVE) == [f"native/tinyb@toolchain={a}" for a in ARCHES]
    assert executed(fourth, LAYER) == ["layers/geo@runtime=arm64", "layers/geo@runtime=x86_64"]

    # The stopped server keeps its entries on disk; a restarted one serves them.
    subprocess.run([SERVER, "stop", "--data", str(data)], check=True)
    restarted = subprocess.run(
        [SERVER, "start", "--port", address.rsplit(":", 1)[1], "--data", str(data)],
        check=True, stdout=subprocess.PIPE, text=True,
    ).stdout.strip()
    assert restarted == address
    repo.store = tmp_path / "machine3"
    fifth = repo.pants(*remote(address), "package", "::", hide_docker=True).output
    assert executed(fifth, NATIVE) == [] and executed(fifth, LAYER) == []

    # Server down: the build succeeds from local work, with a warning.
    subprocess.run([SERVER, "stop", "--data", str(data)], check=True)
    repo.store = tmp_path / "machine4"
    sixth = repo.pants(*remote(address), "package", "layers/proj:").output
    assert executed(sixth, NATIVE) == ["native/tinya@toolchain=x86_64"]
    assert "remote cache" in sixth.lower() and "WARN" in sixth
