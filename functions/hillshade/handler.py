"""Hillshade of a small elevation grid (numpy gradients)."""

import math

import numpy as np


def handler(event, context=None):
    dem = np.asarray(event["elevation"], dtype="float64")
    cell = float(event.get("cell_size", 30.0))
    azimuth = math.radians(360.0 - event.get("azimuth", 315.0) + 90.0)
    altitude = math.radians(event.get("altitude", 45.0))
    dy, dx = np.gradient(dem, cell)
    slope = np.arctan(np.hypot(dx, dy))
    aspect = np.arctan2(-dx, dy)
    shade = np.sin(altitude) * np.cos(slope) + np.cos(altitude) * np.sin(slope) * np.cos(azimuth - aspect)
    return {"hillshade": np.clip(shade * 255, 0, 255).round().astype(int).tolist()}
