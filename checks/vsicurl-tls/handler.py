"""GDAL's /vsicurl/ over HTTPS, checked inside the runtime emulation (network off): the handler
starts a TLS file server on 127.0.0.1 with a test-only PKI (pki.py), writes a GeoTIFF behind it and
reads it back through curl + OpenSSL from the layer, trusting only the CA the event names."""

import http.server
import logging
import os
import ssl
import tempfile
import threading

import numpy as np
import rasterio
from rasterio.transform import from_origin

import pki


class RangeHandler(http.server.SimpleHTTPRequestHandler):
    """Serves byte ranges (GDAL reads remote rasters by range) and records the TLS versions."""

    tls_versions: set = set()

    def send_head(self):
        self.tls_versions.add(self.request.version())
        spec = self.headers.get("Range", "")
        if not spec.startswith("bytes="):
            return super().send_head()
        path = self.translate_path(self.path)
        size = os.path.getsize(path)
        first, _, last = spec[len("bytes="):].partition("-")
        first, last = int(first), min(int(last or size - 1), size - 1)
        self.send_response(206)
        self.send_header("Content-Range", f"bytes {first}-{last}/{size}")
        self.send_header("Content-Length", str(last - first + 1))
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()
        f = open(path, "rb")
        f.seek(first)
        return _Limited(f, last - first + 1)

    def log_message(self, *args):
        pass


class _Limited:
    def __init__(self, f, n):
        self.f, self.n = f, n

    def read(self, size=-1):
        data = self.f.read(self.n if size < 0 else min(size, self.n))
        self.n -= len(data)
        return data

    def close(self):
        self.f.close()


def _write(directory, name, text):
    path = os.path.join(directory, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def handler(event, context=None):
    root = tempfile.mkdtemp()
    pem_dir = tempfile.mkdtemp()
    cert = _write(pem_dir, "server.pem", pki.SERVER_CERT_PEM)
    key = _write(pem_dir, "server.key", pki.SERVER_KEY_PEM)
    trusted = _write(pem_dir, "trusted.pem", pki.CA_PEM if event["trust"] == "test-ca" else pki.OTHER_CA_PEM)

    data = np.arange(64 * 64, dtype="uint16").reshape(64, 64)
    profile = dict(driver="GTiff", width=64, height=64, count=1, dtype="uint16", crs="EPSG:4326",
                   transform=from_origin(13.0, 53.0, 0.01, 0.01), tiled=True, blockxsize=16,
                   blockysize=16, compress="deflate")
    with rasterio.open(os.path.join(root, "grid.tif"), "w", **profile) as dst:
        dst.write(data, 1)

    context_ = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context_.load_cert_chain(cert, key)
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), lambda *a: RangeHandler(*a, directory=root)
    )
    server.socket = context_.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()

    messages = []
    capture = logging.Handler()
    capture.emit = lambda record: messages.append(record.getMessage())
    logging.getLogger("rasterio").addHandler(capture)
    url = f"/vsicurl/https://localhost:{server.server_address[1]}/grid.tif"
    # rasterio sets GDAL_CURL_CA_BUNDLE to certifi's bundle, and GDAL prefers it to CURL_CA_BUNDLE.
    try:
        with rasterio.Env(GDAL_CURL_CA_BUNDLE=trusted, GDAL_DISABLE_READDIR_ON_OPEN="EMPTY_DIR"):
            with rasterio.open(url) as src:
                band = src.read(1)
                return {
                    "opened": True,
                    "driver": src.driver,
                    "size": [src.width, src.height],
                    "crs": src.crs.to_string(),
                    "sum": int(band.sum()),
                    "tls": sorted(RangeHandler.tls_versions),
                }
    except rasterio.errors.RasterioIOError as e:
        text = " ".join([*messages, str(e)])
        return {"opened": False, "certificate_rejected": "SSL certificate problem" in text}
    finally:
        server.shutdown()
