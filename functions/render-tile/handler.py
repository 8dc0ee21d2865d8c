"""Render a value grid to a grayscale PNG tile, scaled to 0-255."""

import base64
import io

import numpy as np
from PIL import Image


def handler(event, context=None):
    grid = np.asarray(event["values"], dtype="float64")
    low, high = float(grid.min()), float(grid.max())
    scaled = np.zeros_like(grid) if high == low else (grid - low) / (high - low) * 255.0
    image = Image.fromarray(scaled.round().astype("uint8"), mode="L")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return {"size": list(image.size), "png_base64": base64.b64encode(buffer.getvalue()).decode()}
