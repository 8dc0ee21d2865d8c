"""Reproject points between coordinate reference systems."""

from pyproj import Transformer


def handler(event, context=None):
    source = event.get("from", "EPSG:4326")
    target = event.get("to", "EPSG:3857")
    transformer = Transformer.from_crs(source, target, always_xy=True)
    points = [list(transformer.transform(x, y)) for x, y in event["points"]]
    return {"crs": target, "points": points}
