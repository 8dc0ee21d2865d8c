"""Web-mercator tile for a lon/lat at a zoom, with its geographic bounds."""

import mercantile


def handler(event, context=None):
    tile = mercantile.tile(event["lon"], event["lat"], event["zoom"])
    bounds = mercantile.bounds(tile)
    return {"tile": [tile.x, tile.y, tile.z], "bounds": [bounds.west, bounds.south, bounds.east, bounds.north]}
