"""Geodesic distance and azimuths between two lon/lat points on the WGS84 ellipsoid."""

from pyproj import Geod

WGS84 = Geod(ellps="WGS84")


def handler(event, context=None):
    (lon1, lat1), (lon2, lat2) = event["from"], event["to"]
    azimuth, back_azimuth, meters = WGS84.inv(lon1, lat1, lon2, lat2)
    return {"meters": round(meters, 3), "azimuth": round(azimuth, 6), "back_azimuth": round(back_azimuth, 6)}
