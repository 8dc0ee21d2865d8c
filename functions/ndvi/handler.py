"""Normalized difference vegetation index of red and near-infrared bands."""

import numpy as np


def handler(event, context=None):
    red = np.asarray(event["red"], dtype="float64")
    nir = np.asarray(event["nir"], dtype="float64")
    total = nir + red
    ndvi = np.divide(nir - red, total, out=np.zeros_like(total), where=total != 0)
    return {"ndvi": ndvi.round(6).tolist(), "mean": round(float(ndvi.mean()), 6)}
