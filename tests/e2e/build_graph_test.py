"""End to end: Pants sees the build graph through reference fields (`runtime`, `layers`,
`natives`, `toolchain`, ...), so `dependents`, `dependencies`, `paths` and `--changed-dependents`
answer what a CI team asks of them."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from tests.e2e.fixture_repo import FixtureRepo, executed, make_native_fixture_repo

NATIVE = "Build native library"
LAYER = "Zip layer"
FUNCTION = "Zip function"


def addresses(output: str) -> set[str]:
    """The addresses Pants printed (its log lines on stderr are interleaved)."""
    return {line for line in output.splitlines() if re.fullmatch(r"[\w./-]*[:@][\w./@=:#-]+", line)}


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> FixtureRepo:
    tmp = tmp_path_factory.mktemp("e2e-graph")
    return make_native_fixture_repo(tmp / "repo", tmp / "store")


def test_dependents_of_a_native_library(repo: FixtureRepo) -> None:
    out = addresses(repo.pants("dependents", "--transitive", "native/tinya:").output)
    # The GDAL stand-in links it; both layers hold it; the functions on them; not `plain`.
    assert out == {
        "native/tinyb:tinyb",
        "layers/geo:geo",
        "layers/proj:proj",
        "functions/raster:raster",
        "functions/crs:crs",
    }


def test_dependencies_of_a_function(repo: FixtureRepo) -> None:
    out = addresses(repo.pants("dependencies", "--transitive", "functions/raster:").output)
    assert {
        "layers/geo:geo",
        "native/tinyb:tinyb",
        "native/tinya:tinya",
        "native/toolchain:bullseye-x86_64",
        "runtimes:x86_64",
        "functions/raster/handler.py:src",
    } <= out
    assert "layers/proj:proj" not in out


def test_paths_from_function_to_native(repo: FixtureRepo) -> None:
    out = repo.pants("paths", "--from=functions/crs:crs", "--to=native/tinya:tinya").output
    assert "layers/proj:proj" in out


def test_the_org_builds_with_the_ruleset_as_a_plugin_distribution(repo: FixtureRepo) -> None:
    # Like any other repository: no build-support/, no plugin sources, the wheel in `plugins`.
    assert not (repo.root / "build-support").exists()
    config = (repo.root / "pants.toml").read_text()
    assert "pythonpath" not in config and "serverless-gis-pants @ file://" in config
    out = repo.pants("package", "::").output
    assert executed(out, NATIVE) == ["native/tinya:tinya", "native/tinyb:tinyb", "native/tinyp:tinyp"]
    built = {path.rsplit("/", 1)[0] for path in repo.dist_files()}
    assert {"layers/geo", "layers/proj", "functions/raster", "functions/crs", "functions/plain"} <= built


def test_changed_dependents_rebuild_exactly_what_a_change_touches(repo: FixtureRepo) -> None:
    git = ["git", "-c", "user.name=ci", "-c", "user.email=ci@example.com"]
    (repo.root / ".gitignore").write_text("dist/\n")
    subprocess.run([*git, "init", "-q"], cwd=repo.root, check=True)
    subprocess.run([*git, "add", "-A"], cwd=repo.root, check=True)
    subprocess.run([*git, "commit", "-qm", "base"], cwd=repo.root, check=True)
    shutil.rmtree(repo.root / "dist")

    build = repo.root / "native/tinyb/BUILD"
    build.write_text(build.read_text().replace("-DFLAVOR=1", "-DFLAVOR=3"))
    changed = ["--changed-since=HEAD", "--changed-dependents=transitive"]
    listed = addresses(repo.pants(*changed, "list").output)
    assert listed == {"native/tinyb:tinyb", "layers/geo:geo", "functions/raster:raster"}

    out = repo.pants(*changed, "package").output
    assert executed(out, NATIVE) == ["native/tinyb:tinyb"]
    assert executed(out, LAYER) == ["layers/geo:geo"]
    written = {path.split("/")[0] + "/" + path.split("/")[1] for path in repo.dist_files()}
    assert written == {"layers/geo", "functions/raster", "native/tinyb"}


def test_bumping_a_leaf_library_rebuilds_it_and_what_links_it_only(repo: FixtureRepo) -> None:
    # Like a libpng bump: libpng, GDAL and the layers above rebuild; PROJ (and GEOS) do not.
    from serverless_gis.native.tiny_fixture import tarball, tinyp

    git = ["git", "-c", "user.name=ci", "-c", "user.email=ci@example.com"]
    (repo.root / ".gitignore").write_text("dist/\n")
    subprocess.run([*git, "init", "-q"], cwd=repo.root, check=True)
    subprocess.run([*git, "add", "-A"], cwd=repo.root, check=True)
    subprocess.run([*git, "commit", "-qm", "before the bump", "--allow-empty"], cwd=repo.root, check=True)
    build = repo.root / "native/tinyp/BUILD"
    build.write_text(build.read_text().replace('version="1.0.0"', 'version="1.0.2"'))
    (repo.root / "native/tinyp/tinyp.tar.gz").write_bytes(tarball(tinyp(50)))
    changed = ["--changed-since=HEAD", "--changed-dependents=transitive"]
    listed = addresses(repo.pants(*changed, "list").output)
    assert listed == {"native/tinyp:tinyp", "native/tinyb:tinyb", "layers/geo:geo", "functions/raster:raster"}
    out = repo.pants(*changed, "package").output
    assert executed(out, NATIVE) == ["native/tinyb:tinyb", "native/tinyp:tinyp"]
    assert executed(out, LAYER) == ["layers/geo:geo"]


def test_a_function_whose_layer_lacks_its_runtime_still_fails_clearly(repo: FixtureRepo) -> None:
    repo.write(
        {
            "functions/wrong/BUILD": """
                python_sources(name="src")
                serverless_runtime(name="arm64", python_version="3.13", arch="arm64", glibc="2.34",
                                   resolve="fx-x86_64", complete_platform="arm64.json")
                serverless_layer(name="arm-only", runtime=":arm64", requirements=["six"])
                serverless_function(name="wrong", handler="handler.py:handler",
                                    runtime="//runtimes:x86_64", layers=[":arm-only"])
            """,
            "functions/wrong/handler.py": "def handler(event, context=None):\n    return 1\n",
            "functions/wrong/arm64.json": (repo.root / "runtimes/x86_64.json").read_text(),
        }
    )
    try:
        # Inference is lenient: the graph queries still answer while a BUILD file is wrong.
        out = addresses(repo.pants("dependencies", "functions/wrong:wrong").output)
        assert "functions/wrong:arm-only" in out
        failed = repo.pants("package", "functions/wrong:wrong", check=False)
        assert failed.returncode != 0
        assert "functions/wrong:wrong: layer `:arm-only` is not built for the function's runtime runtimes:x86_64" in failed.output
    finally:
        shutil.rmtree(repo.root / "functions/wrong")
