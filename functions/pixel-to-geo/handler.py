"""Convert raster pixel coordinates to map coordinates with a GDAL-style geotransform."""

from affine import Affine


def handler(event, context=None):
    transform = Affine.from_gdal(*event["geotransform"])
    return {"coords": [list(transform * (col, row)) for col, row in event["pixels"]]}
