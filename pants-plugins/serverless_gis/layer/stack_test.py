from __future__ import annotations

import pytest

from pants.engine.addresses import Address
from pants.util.frozendict import FrozenDict
from serverless_gis.artifact import ZipArtifact
from serverless_gis.layer.rules import BuiltLayer
from serverless_gis.layer.stack import (
    LayerStackError,
    check_imports,
    check_requirements,
    check_shared_files,
    mount_order,
    provided_distributions,
)
from serverless_gis.python_lock import LockedProject

FN = Address("functions/fn")


def artifact(shared_files: dict[str, tuple[str, ...]] | None = None, modules: tuple[str, ...] = (), **dists: str) -> ZipArtifact:
    return ZipArtifact(
        digest=None, path="x.zip", sha256="0", unzipped_bytes=1, zipped_bytes=1, contributors=(),
        distributions=FrozenDict(dists),
        shared_files=FrozenDict(shared_files or {}),
        distribution_paths=FrozenDict({name: (f"python/{name}/", f"python/{name}-{v}.dist-info/") for name, v in dists.items()}),
        modules=modules,
        stdlib=("json", "os"),
    )


def built_layer(spec: str, resolve: str = "rt", stack: tuple[BuiltLayer, ...] = (), shared_files=None, modules=(), **dists: str) -> BuiltLayer:
    return BuiltLayer(
        Address(spec), runtime=None, resolve=resolve, artifact=artifact(shared_files, modules, **dists),
        environment=FrozenDict(), stack=stack,
    )


def test_layers_mount_after_the_layers_they_are_stacked_on_once_each() -> None:
    base = built_layer("layers/base", click="8.1.7")
    tiles = built_layer("layers/tiles", stack=(base,), mercantile="1.2.1")
    grid = built_layer("layers/grid", stack=(base,), affine="2.4.0")
    assert [str(layer.address) for layer in mount_order((tiles, grid))] == [
        "layers/base:base", "layers/tiles:tiles", "layers/grid:grid",
    ]
    # Stacked, they ship each distribution once.
    assert set(provided_distributions(FN, mount_order((tiles, grid)))) == {"click", "mercantile", "affine"}


def test_two_layers_shipping_one_distribution_name_it_its_paths_and_the_fix() -> None:
    geo = built_layer("layers/geo", click="8.1.7", rasterio="1.5.2")
    raster = built_layer("layers/raster", click="8.1.7", mercantile="1.2.1")
    with pytest.raises(LayerStackError) as exc:
        provided_distributions(FN, (geo, raster))
    message = str(exc.value)
    assert "its layers layers/geo:geo and layers/raster:raster both ship the distribution `click`" in message
    assert "python/click/, python/click-8.1.7.dist-info/" in message
    assert 'base_layers=["//layers/geo"]` on //layers/raster' in message and "a layer both are stacked on" in message


def test_layer_provided_distributions_and_requirements() -> None:
    layer = built_layer("layers/geo", numpy="2.2.6", shapely="2.1.2")
    locked = {"numpy": LockedProject("2.2.6", ()), "shapely": LockedProject("2.1.2", ("numpy",))}
    provided = provided_distributions(FN, (layer,))
    check_requirements(FN, [(FN, "shapely>=2")], provided, locked, "rt.lock")
    assert set(provided) == {"numpy", "shapely"}


def test_specifier_conflict_names_both_targets_and_versions() -> None:
    provided = provided_distributions(FN, (built_layer("layers/geo", shapely="2.1.2"),))
    with pytest.raises(LayerStackError) as exc:
        check_requirements(FN, [(Address("3rdparty", target_name="old"), "shapely<2")], provided, {}, "rt.lock")
    message = str(exc.value)
    assert "functions/fn" in message and "layers/geo" in message
    assert "shapely<2" in message and "2.1.2" in message and "3rdparty:old" in message


def test_locked_version_conflict_through_a_dependency() -> None:
    provided = provided_distributions(FN, (built_layer("layers/geo", "layer-resolve", numpy="2.1.0"),))
    locked = {"shapely": LockedProject("2.1.2", ("numpy",)), "numpy": LockedProject("2.2.6", ())}
    with pytest.raises(LayerStackError, match=r"numpy.*pins 2\.2\.6.*layers/geo.*provides 2\.1\.0"):
        check_requirements(FN, [(FN, "shapely")], provided, locked, "rt.lock")


def test_two_layers_shipping_one_native_library_are_refused() -> None:
    geo = built_layer("layers/geo", shared_files={"libgdal": ("lib/libgdal.so.36",), "libproj": ("lib/libproj.so.25",)})
    imaging = built_layer("layers/imaging", shared_files={"libjpeg": ("lib/libjpeg.so.62",)})
    check_shared_files(FN, (geo, imaging))
    wheels = built_layer("layers/wheels", shared_files={"libproj": ("python/pyproj.libs/libproj-1a2b3c4d.so.25",)})
    with pytest.raises(LayerStackError) as exc:
        check_shared_files(FN, (geo, wheels))
    message = str(exc.value)
    assert "functions/fn:fn: its layers layers/geo:geo and layers/wheels:wheels both ship `libproj`" in message
    assert "lib/libproj.so.25; python/pyproj.libs/libproj-1a2b3c4d.so.25" in message


def test_a_function_zip_shipping_what_its_layer_ships_is_refused() -> None:
    geo = built_layer("layers/geo", shared_files={"proj.db": ("share/proj/proj.db",)})
    own = artifact({"proj.db": ("rasterio/proj_data/proj.db",), "libgdal": ("rasterio.libs/libgdal-0a1b2c3d.so.36",)})
    with pytest.raises(LayerStackError) as exc:
        check_shared_files(FN, (geo,), own=own)
    message = str(exc.value)
    assert "its zip ships `proj.db` (rasterio/proj_data/proj.db), which its layer layers/geo:geo ships too (share/proj/proj.db)" in message
    check_shared_files(FN, (built_layer("layers/other"),), own=own)


def test_an_import_nothing_provides_names_module_function_and_runtime() -> None:
    geo = built_layer("layers/geo", modules=("numpy", "pyproj"))
    own = artifact(modules=("handler",))
    imports = [("functions/fn/handler.py", "json"), ("functions/fn/handler.py", "pyproj.crs"), ("functions/fn/handler.py", "handler")]
    check_imports(FN, "AWS Lambda python3.13 arm64", imports, own, (geo,))
    with pytest.raises(LayerStackError) as exc:
        check_imports(FN, "AWS Lambda python3.13 arm64", [*imports, ("functions/fn/handler.py", "fiona.crs")], own, (geo,))
    message = str(exc.value)
    assert "functions/fn:fn: functions/fn/handler.py imports `fiona.crs`" in message
    assert "provide `fiona` on AWS Lambda python3.13 arm64" in message and "layers/geo:geo" in message
