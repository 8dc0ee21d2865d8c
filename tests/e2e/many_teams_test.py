"""End to end: many teams in one org. Layers stacked on a base layer ship each distribution once; a
function's own dependency touches no other lock entry and no layer; a pin against a layer fails
naming the function; relocks are minimal unless asked to upgrade."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import pytest

from tests.e2e.fixture_repo import RUNTIMES, FixtureRepo, write_pants_toml

LOCKFILE = "3rdparty/fx-x86_64.lock"
# Held back while the org is first locked, then dropped: a minimal relock keeps click at this
# version (mercantile and click-plugins still need click), a full re-resolve would move it.
OLD_CLICK = "8.1.7"


def function(name: str, layers: str, requirements: str = "") -> str:
    extra = f", requirements=[{requirements}]" if requirements else ""
    return f"""
        python_sources(name="src")
        serverless_function(name="{name}", handler="handler.py:handler", runtime="//runtimes:x86_64",
                            layers=[{layers}]{extra})
    """


FILES = {
    "runtimes/BUILD": RUNTIMES.split('serverless_runtime(name="arm64"')[0],
    "3rdparty/requirements.txt": "mercantile\naffine\nclick-plugins\n",
    "3rdparty/BUILD": 'python_requirements(name="reqs", source="requirements.txt", resolve="fx-x86_64")\n',
    "layers/base/BUILD": 'serverless_layer(name="base", runtime="//runtimes:x86_64", requirements=["click"])\n',
    # Two teams' layers, both needing click, stacked on the base layer that ships it.
    "layers/tiles/BUILD": (
        'serverless_layer(name="tiles", runtime="//runtimes:x86_64", requirements=["mercantile"], '
        'base_layers=["//layers/base"])\n'
    ),
    "layers/grid/BUILD": (
        'serverless_layer(name="grid", runtime="//runtimes:x86_64", requirements=["affine", "click-plugins"], '
        'base_layers=["//layers/base"])\n'
    ),
    "functions/both/BUILD": function("both", '"//layers/tiles", "//layers/grid"'),
    "functions/both/handler.py": """
        import affine
        import mercantile


        def handler(event, context=None):
            return list(affine.Affine.scale(2) * mercantile.xy(event["lng"], event["lat"]))
    """,
    "functions/tiles/BUILD": function("tiles", '"//layers/tiles"'),
    "functions/tiles/handler.py": """
        import mercantile


        def handler(event, context=None):
            return list(mercantile.tile(event["lng"], event["lat"], event["zoom"]))
    """,
    "functions/grid/BUILD": function("grid", '"//layers/grid"'),
    "functions/grid/handler.py": """
        import affine


        def handler(event, context=None):
            return list(affine.Affine.scale(event["scale"]) * (1, 1))
    """,
    "functions/extra/BUILD": function("extra", '"//layers/tiles"'),
    "functions/extra/handler.py": """
        import mercantile


        def handler(event, context=None):
            return mercantile.bounds(0, 0, 0).west
    """,
}

# The grid layer as its team first wrote it: not stacked, so it ships click itself.
UNSTACKED_GRID = 'serverless_layer(name="grid", runtime="//runtimes:x86_64", requirements=["affine", "click-plugins"])\n'

# The extra dependency one team adds to its function.
EXTRA_WITH_GEOJSON = {
    "functions/extra/BUILD": function("extra", '"//layers/tiles"', '"geojson==3.2.0"'),
    "functions/extra/handler.py": """
        import geojson  # pants: no-infer-dep
        import mercantile


        def handler(event, context=None):
            return geojson.dumps(mercantile.feature(mercantile.tile(0, 0, 1)))
    """,
}

# Another team pins the tiles layer's package below the layer's locked version.
PINNED = {
    "functions/pinned/BUILD": function("pinned", '"//layers/tiles"', '"mercantile<1.2"'),
    "functions/pinned/handler.py": """
        import mercantile


        def handler(event, context=None):
            return mercantile.__version__
    """,
}


def make_many_teams_repo(root: Path, store: Path) -> FixtureRepo:
    repo = FixtureRepo(root, store)
    repo.write(FILES)
    write_pants_toml(root, {"fx-x86_64": LOCKFILE})
    repo.pants("complete-platforms", "runtimes:")
    held_back = root / "3rdparty/requirements.txt"
    requirements = held_back.read_text()
    held_back.write_text(f"{requirements}click=={OLD_CLICK}\n")
    repo.pants("generate-lockfiles")
    held_back.write_text(requirements)
    repo.pants("generate-lockfiles")
    return repo


@pytest.fixture(scope="module")
def org(tmp_path_factory) -> FixtureRepo:
    tmp = tmp_path_factory.mktemp("many-teams")
    return make_many_teams_repo(tmp / "repo", tmp / "store")


def locked(repo: FixtureRepo) -> dict[str, dict]:
    """Every locked project with its whole entry (version, artifacts with hashes, requirements)."""
    text = (repo.root / LOCKFILE).read_text()
    lock = json.loads("\n".join(line for line in text.splitlines() if not line.startswith("//")))
    [resolve] = lock["locked_resolves"]
    return {entry["project_name"]: entry for entry in resolve["locked_requirements"]}


def layer_digests(repo: FixtureRepo) -> dict[str, str]:
    shutil.rmtree(repo.root / "dist", ignore_errors=True)
    repo.pants("package", "layers::")
    return repo.dist_files()


def zip_tops(repo: FixtureRepo, path: str) -> set[str]:
    with zipfile.ZipFile(repo.root / "dist" / path) as zf:
        return {name.split("/")[0] for name in zf.namelist()}


def test_relock_without_changes_keeps_what_the_org_locked(org: FixtureRepo) -> None:
    entries = locked(org)
    # The held-back pin was dropped, but click is still needed: it keeps its version.
    assert entries["click"]["version"] == OLD_CLICK
    assert {"mercantile", "affine", "click-plugins", "click"} <= set(entries)
    assert "geojson" not in entries


def test_one_functions_dependency_changes_no_other_lock_entry_and_no_layer(org: FixtureRepo) -> None:
    before, layers_before = locked(org), layer_digests(org)
    assert set(layers_before) == {
        f"layers/{n}/{n}-x86_64.{ext}" for n in ("base", "tiles", "grid") for ext in ("zip", "cdx.json")
    }

    org.write(EXTRA_WITH_GEOJSON)
    org.pants("generate-lockfiles")
    after = locked(org)
    assert set(after) - set(before) == {"geojson"}
    assert after["geojson"]["version"] == "3.2.0"
    for name, entry in before.items():
        assert after[name] == entry, name
    assert '"geojson==3.2.0"' in (org.root / LOCKFILE).read_text().split("END PANTS LOCKFILE METADATA")[0]

    assert layer_digests(org) == layers_before
    org.pants("package", "functions/extra:extra")
    tops = zip_tops(org, "functions/extra/extra-x86_64.zip")
    assert any(t.startswith("geojson") for t in tops), tops
    assert not any(t.startswith(("mercantile", "click")) for t in tops), tops


def test_dropping_the_dependency_drops_only_its_entry(org: FixtureRepo) -> None:
    org.write(EXTRA_WITH_GEOJSON)
    org.pants("generate-lockfiles")
    before = locked(org)
    assert "geojson" in before
    org.write({"functions/extra/BUILD": FILES["functions/extra/BUILD"]})
    org.pants("generate-lockfiles")
    after = locked(org)
    assert set(before) - set(after) == {"geojson"}
    for name, entry in after.items():
        assert before[name] == entry, name


def test_a_pin_against_a_layer_fails_naming_the_function_and_leaks_nothing(org: FixtureRepo) -> None:
    layer_version = locked(org)["mercantile"]["version"]
    lock_before = (org.root / LOCKFILE).read_text()
    org.write(PINNED)
    try:
        relock = org.pants("generate-lockfiles", check=False)
        shutil.rmtree(org.root / "dist", ignore_errors=True)
        package = org.pants("package", "functions/pinned:", check=False)
        others = org.pants("package", "functions/tiles:", "functions/grid:", "functions/extra:")
    finally:
        shutil.rmtree(org.root / "functions/pinned")
    for result in (relock, package):
        assert result.returncode != 0
        for text in ("functions/pinned", "mercantile<1.2", layer_version, "layers/tiles", "Fix:"):
            assert text in result.output, f"{text!r} not in:\n{result.output[-4000:]}"
    assert (org.root / LOCKFILE).read_text() == lock_before
    assert not (org.root / "dist/functions/pinned").exists()
    # The pin is no python_requirement target: importers of mercantile elsewhere stay unambiguous.
    assert "ambiguous" not in others.output.lower(), others.output[-4000:]
    assert (org.root / "dist/functions/tiles/tiles-x86_64.zip").exists()


def test_upgrade_re_resolves_from_scratch(org: FixtureRepo) -> None:
    before = locked(org)
    result = org.pants("generate-lockfiles", "--serverless-lockfiles-upgrade")
    after = locked(org)
    assert set(after) == set(before)
    # Only a full re-resolve moves click past the version the org first locked.
    assert after["click"]["version"] != OLD_CLICK, result.output[-2000:]


def layer_distributions(repo: FixtureRepo, path: str) -> set[str]:
    with zipfile.ZipFile(repo.root / "dist" / path) as zf:
        return {
            name.split("/")[1][: -len(".dist-info")].rsplit("-", 1)[0]
            for name in zf.namelist()
            if name.startswith("python/") and name.split("/")[1].endswith(".dist-info")
        }


def test_stacked_layers_ship_each_distribution_once_and_functions_mount_the_stack(org: FixtureRepo) -> None:
    shutil.rmtree(org.root / "dist", ignore_errors=True)
    org.pants("package", "layers::", "functions/both:")
    assert layer_distributions(org, "layers/base/base-x86_64.zip") == {"click"}
    # Both need click; their base layer provides it, so neither ships it.
    assert layer_distributions(org, "layers/tiles/tiles-x86_64.zip") == {"mercantile"}
    grid = layer_distributions(org, "layers/grid/grid-x86_64.zip")
    assert {"affine", "click_plugins"} <= grid and "click" not in grid, grid
    manifest = json.loads((org.root / "dist/functions/both/both-x86_64.manifest.json").read_text())
    assert [layer["address"] for layer in manifest["layers"]] == ["layers/base:base", "layers/tiles:tiles", "layers/grid:grid"]
    assert manifest["distributions"] == {}


def test_two_layers_shipping_one_distribution_name_it_and_the_fix(org: FixtureRepo) -> None:
    org.write({"layers/grid/BUILD": UNSTACKED_GRID})
    try:
        shutil.rmtree(org.root / "dist", ignore_errors=True)
        result = org.pants("package", "functions/both:", check=False)
    finally:
        org.write({"layers/grid/BUILD": FILES["layers/grid/BUILD"]})
    assert result.returncode != 0
    for text in (
        "functions/both:both: its layers layers/base:base and layers/grid:grid both ship the distribution `click`",
        "python/click/", 'base_layers=["//layers/base"]` on //layers/grid',
    ):
        assert text in result.output, f"{text!r} not in:\n{result.output[-4000:]}"
    assert not (org.root / "dist/functions/both").exists()
