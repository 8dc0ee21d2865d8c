"""Simplify a GeoJSON geometry; geojson validates input (it ships in this function's zip)."""

import geojson
from shapely.geometry import mapping, shape


def handler(event, context=None):
    feature = geojson.loads(geojson.dumps(event["geometry"]))
    if not feature.is_valid:
        return {"error": feature.errors()}
    simplified = shape(feature).simplify(event.get("tolerance", 0.01), preserve_topology=True)
    return {"geometry": mapping(simplified), "vertices_in": len(shape(feature).exterior.coords), "vertices_out": len(simplified.exterior.coords)}
