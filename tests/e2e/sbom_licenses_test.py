"""End to end on the tiny native org: a CycloneDX SBOM beside every layer and function zip, the
licence gate (a GPL component fails the layer naming it, an explicit opt-in builds it), and the
advisory gate against a real OSV-compatible server on 127.0.0.1 (a planted advisory is found; a
stopped server is reported as not checked, and fails when the gate is required)."""

from __future__ import annotations

import hashlib
import json
import tarfile
import zipfile
from pathlib import Path

import pytest

from serverless_gis.advisories.testutil import PLANTED, osv_server
from serverless_gis.python_lock import parse_lockfile
from tests.e2e.fixture_repo import FixtureRepo, make_native_fixture_repo

GEO_SBOM = "layers/geo/geo-x86_64.cdx.json"


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> FixtureRepo:
    tmp = tmp_path_factory.mktemp("e2e-sbom")
    repo = make_native_fixture_repo(tmp / "repo", tmp / "store")
    repo.pants("package", "::")
    return repo


def read(repo: FixtureRepo, path: str) -> dict:
    return json.loads((repo.root / "dist" / path).read_text())


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_every_zip_has_its_sbom_listing_what_it_ships(repo: FixtureRepo) -> None:
    dist = repo.root / "dist"
    zips = sorted(p.relative_to(dist).as_posix() for p in dist.rglob("*.zip"))
    assert "layers/geo/geo-x86_64.zip" in zips and "functions/raster/raster-x86_64.zip" in zips
    for z in zips:
        sbom = read(repo, z[: -len(".zip")] + ".cdx.json")
        assert sbom["metadata"]["component"]["hashes"] == [{"alg": "SHA-256", "content": sha256(dist / z)}]

    geo = read(repo, GEO_SBOM)
    natives = {c["name"]: c for c in geo["components"] if c["bom-ref"].startswith("native:")}
    assert sorted(natives) == ["tinya", "tinyb", "tinyp"]
    for name, component in natives.items():
        source = sha256(repo.root / f"native/{name}/{name}.tar.gz")
        assert component["version"] == "1.0.0" and component["licenses"] == [{"license": {"id": "MIT"}}]
        assert component["purl"] == f"pkg:generic/{name}@1.0.0?checksum=sha256:{source}"
        assert component["hashes"] == [{"alg": "SHA-256", "content": source}]
    # Every file in the layer's lib/ (the libraries and what they vendor) is some component's.
    with zipfile.ZipFile(dist / "layers/geo/geo-x86_64.zip") as zf:
        libs = [n for n in zf.namelist() if n.startswith("lib/")]
    placed = {o["location"]: name for name, c in natives.items() for o in c["evidence"]["occurrences"]}
    assert libs and set(libs) <= set(placed)
    assert placed["lib/libtinyb.so"] == "tinyb" and placed["lib/libtinya.so.1"] == "tinya"
    assert not any(p.startswith("include/") for p in placed)  # headers are pruned, so not listed

    locked = parse_lockfile((repo.root / "3rdparty/fx-x86_64.lock").read_bytes())["six"]
    [six] = [c for c in geo["components"] if c["bom-ref"] == "pkg:pypi/six@1.17.0"]
    assert six["hashes"] == [{"alg": "SHA-256", "content": locked.artifacts[0].sha256}]

    # The function's SBOM refers to the layer it mounts by the layer SBOM's serial number.
    raster = read(repo, "functions/raster/raster-x86_64.cdx.json")
    [layer] = [c for c in raster["components"] if c["bom-ref"] == "layer:layers/geo:geo"]
    serial = geo["serialNumber"][len("urn:uuid:"):]
    assert layer["externalReferences"][0]["url"] == f"urn:cdx:{serial}/1#geo-x86_64"


def test_gpl_component_fails_the_layer_unless_it_opts_in(repo: FixtureRepo) -> None:
    native, layer = repo.root / "native/tinyb/BUILD", repo.root / "layers/geo/BUILD"
    native_build, layer_build = native.read_text(), layer.read_text()
    try:
        native.write_text(native_build.replace('license="MIT"', 'license="GPL-2.0-or-later"'))
        failed = repo.pants("package", "layers/geo:", check=False)
        assert failed.returncode != 0
        assert "layers/geo:geo: the layer's native components fail the licence gate" in failed.output
        assert "native/tinyb:tinyb: GPL-2.0-or-later (not allowed: GPL-2.0-or-later)" in failed.output
        assert 'allowed_licenses=["GPL-2.0-or-later"]' in failed.output

        bundle = repo.root / "dist/layers/geo/geo-x86_64.sources.tar"
        assert not bundle.exists()  # the permissive layer (the module's first build) has none
        layer.write_text(layer_build.replace('natives=["//native/tinyb"]', 'natives=["//native/tinyb"], allowed_licenses=["GPL-2.0-or-later"]'))
        repo.pants("package", "layers/geo:")
        [tinyb] = [c for c in read(repo, GEO_SBOM)["components"] if c["name"] == "tinyb"]
        assert tinyb["licenses"] == [{"license": {"id": "GPL-2.0-or-later"}}]
        # The copyleft component's corresponding source, beside the zip; the SBOM and the layer's
        # notice point at it by name and sha256.
        digest = hashlib.sha256(bundle.read_bytes()).hexdigest()
        with tarfile.open(bundle) as tar:
            names = tar.getnames()
            assert tar.extractfile("repo/native/tinyb/tinyb.tar.gz").read() == (repo.root / "native/tinyb/tinyb.tar.gz").read_bytes()
        assert "repo/native/tinyb/BUILD" in names and "build-scripts/__steps/native_build.py" in names
        assert not any("tinya" in n for n in names)  # MIT: not bundled
        assert {"type": "source-distribution", "url": "geo-x86_64.sources.tar", "hashes": [{"alg": "SHA-256", "content": digest}],
                "comment": "corresponding source distributed with this zip: sources, patches, build recipe and scripts"} in tinyb["externalReferences"]
        with zipfile.ZipFile(repo.root / "dist/layers/geo/geo-x86_64.zip") as z:
            notice = z.read("share/licenses/SOURCES-geo.txt").decode()
        assert "tinyb" in notice and f"geo-x86_64.sources.tar, sha256 {digest}" in notice
    finally:
        native.write_text(native_build)
        layer.write_text(layer_build)


def test_advisory_gate(repo: FixtureRepo, tmp_path: Path) -> None:
    off = repo.pants("advisories", "::")
    assert "No advisory service is configured" in off.output and "nothing was checked" in off.output
    assert repo.pants("--serverless-advisories-required", "advisories", "::", check=False).returncode != 0

    with osv_server(tmp_path / "osv") as url:
        found = repo.pants(f"--serverless-advisories-url={url}", "advisories", "::", check=False)
    assert found.returncode != 0, found.output
    assert f"geo-x86_64 (layers/geo:geo): advisories in {url}" in found.output
    assert f"six 1.17.0 (pkg:pypi/six@1.17.0): {PLANTED['id']}" in found.output
    # Only PyPI is asked about by default: the natives' pkg:generic purls are listed as not checked.
    assert "proj-x86_64 (layers/proj:proj): 0 components, no advisories" in found.output
    assert "proj-x86_64 (layers/proj:proj): NOT checked: tinya (pkg:generic is not among the service's purl_types)" in found.output

    # The server is gone: never "no advisories", and not the earlier run's answer either.
    stopped = repo.pants(f"--serverless-advisories-url={url}", "advisories", "::", check=False)
    assert stopped.returncode == 0, stopped.output  # not required: a warning
    assert "could not be asked" in stopped.output and "were NOT checked" in stopped.output
    assert PLANTED["id"] not in stopped.output and "no advisories" not in stopped.output
    required = repo.pants(
        f"--serverless-advisories-url={url}", "--serverless-advisories-required", "advisories", "::", check=False
    )
    assert required.returncode != 0 and "were NOT checked" in required.output and "Fix:" in required.output
