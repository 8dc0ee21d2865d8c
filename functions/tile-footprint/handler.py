"""The web-mercator tile under a lon/lat at a zoom, as a polygon in a projected CRS, with its area.

Uses both layers: mercantile from `//layers/raster`, shapely and pyproj from `//layers/geo`
(raster is stacked on geo, so the function's /opt holds each distribution once)."""

import mercantile
from pyproj import Transformer
from shapely.geometry import box
from shapely.ops import transform


def handler(event, context=None):
    tile = mercantile.tile(event["lon"], event["lat"], event["zoom"])
    bounds = mercantile.bounds(tile)
    to_crs = Transformer.from_crs("EPSG:4326", event.get("crs", "EPSG:3035"), always_xy=True)
    footprint = transform(to_crs.transform, box(bounds.west, bounds.south, bounds.east, bounds.north))
    return {
        "tile": [tile.x, tile.y, tile.z],
        "crs": event.get("crs", "EPSG:3035"),
        "bounds": [round(v, 3) for v in footprint.bounds],
        "area_km2": round(footprint.area / 1e6, 3),
    }
