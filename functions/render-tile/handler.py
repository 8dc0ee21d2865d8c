"""Render a value grid to a grayscale PNG tile, scaled to 0-255."""

import base64
import struct
import zlib

import numpy as np


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def encode_png_gray8(pixels: np.ndarray) -> bytes:
    """An 8-bit grayscale PNG (filter 0 on every row): no imaging library needed in the layer."""
    height, width = pixels.shape
    raw = b"".join(b"\x00" + row.tobytes() for row in pixels.astype("uint8"))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(raw, 9))
        + _chunk(b"IEND", b"")
    )


def handler(event, context=None):
    grid = np.asarray(event["values"], dtype="float64")
    low, high = float(grid.min()), float(grid.max())
    scaled = np.zeros_like(grid) if high == low else (grid - low) / (high - low) * 255.0
    pixels = scaled.round().astype("uint8")
    png = encode_png_gray8(pixels)
    return {"size": [pixels.shape[1], pixels.shape[0]], "png_base64": base64.b64encode(png).decode()}
