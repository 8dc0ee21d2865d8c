"""Buffer a WKT geometry and report the buffer's area."""

from shapely import wkt


def handler(event, context=None):
    geometry = wkt.loads(event["wkt"])
    buffered = geometry.buffer(event["distance"], quad_segs=event.get("quad_segs", 16))
    return {"area": buffered.area, "bounds": list(buffered.bounds)}
