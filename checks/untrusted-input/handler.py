"""Files a function did not write, opened the way a handler opens an upload: each case writes a
crafted VRT into /tmp and opens it with rasterio or fiona. The VRTs aim at /proc/self/environ (where
Lambda keeps the role's credentials) and at the function's own code, outside /tmp. With the layer's
defaults GDAL must refuse each one; with the documented settings that allow them (the invoke test
sets them) the same files are read and the secret comes back, which proves each case reaches its
target and a refusal is not some other failure."""

import ctypes
import os
import tempfile

import fiona
import rasterio

# The invoke test puts the secret in the environment; this file holds it too (outside /tmp).
SECRET = os.environ.get("UNTRUSTED_INPUT_SECRET", "")
MARKER = "untrusted-input-marker-7f3a"
CODE = os.path.abspath(__file__)


def raw_band_vrt(source, relative, size):
    """A raster VRT whose band is the raw bytes of `source`: one row of `size` bytes (an attacker
    guesses the size; the test knows it, so that an allowed read reads the whole file)."""
    return (
        f'<VRTDataset rasterXSize="{size}" rasterYSize="1">'
        '<VRTRasterBand dataType="Byte" band="1" subClass="VRTRawRasterBand">'
        f'<SourceFilename relativeToVRT="{int(relative)}">{source}</SourceFilename>'
        f"<ImageOffset>0</ImageOffset><PixelOffset>1</PixelOffset><LineOffset>{size}</LineOffset>"
        "</VRTRasterBand></VRTDataset>"
    )


def ogr_vrt(source):
    """An OGR VRT whose layer is `source` read as CSV (the CSV driver names its layer after the file)."""
    layer = os.path.splitext(os.path.basename(source))[0]
    return (
        '<OGRVRTDataSource><OGRVRTLayer name="upload">'
        f'<SrcDataSource relativeToVRT="0">CSV:{source}</SrcDataSource><SrcLayer>{layer}</SrcLayer>'
        "</OGRVRTLayer></OGRVRTDataSource>"
    )


def read_raster(path):
    with rasterio.open(path) as src:
        return src.read(1).tobytes().decode("latin-1")


def read_vector(path):
    # fiona's own list of drivers leaves OGR_VRT out; an application may add it (as here), so the
    # refusal must be GDAL's
    fiona.drvsupport.supported_drivers.setdefault("OGR_VRT", "r")
    with fiona.open(path) as src:
        return "\n".join([*src.schema["properties"], *(str(v) for f in src for v in f["properties"].values())])


def outcome(read, path, secret, ogr_vrt_on):
    try:
        text = read(path)
    except Exception as e:  # what GDAL says is the result
        message = str(e)
        if "GDAL_VRT_RAWRASTERBAND_ALLOWED_SOURCE" in message:
            return "refused (GDAL_VRT_RAWRASTERBAND_ALLOWED_SOURCE)"
        if read is read_vector and not ogr_vrt_on and "Failed to open dataset" in message:
            return "refused (GDAL_SKIP=OGR_VRT)"
        return f"error: {type(e).__name__}: {message}"
    # CSV reads /proc/self/environ up to its first NUL: one variable, not necessarily the secret
    return "read, secret leaked" if secret in text else "read"


def ogr_vrt_registered():
    gdal = ctypes.CDLL("libgdal.so.39")
    gdal.GDALAllRegister()
    gdal.GDALGetDriverByName.restype = ctypes.c_void_p
    return bool(gdal.GDALGetDriverByName(b"OGR_VRT"))


def handler(event, context):
    if not SECRET:
        raise RuntimeError("UNTRUSTED_INPUT_SECRET is not set: the invoke test sets the secret the cases aim at")
    upload = tempfile.mkdtemp(prefix="upload-", dir="/tmp")
    depth = "../" * len(upload.strip("/").split("/"))
    with open("/proc/self/environ", "rb") as f:
        environ_size = len(f.read())
    code_size = os.path.getsize(CODE)
    cases = {
        "raster: raw band on /proc/self/environ": (read_raster, raw_band_vrt("/proc/self/environ", False, environ_size), SECRET),
        "raster: raw band on the function's code": (read_raster, raw_band_vrt(CODE, False, code_size), MARKER),
        "raster: raw band escaping the upload dir": (read_raster, raw_band_vrt(depth + CODE.lstrip("/"), True, code_size), MARKER),
        "vector: OGR VRT on /proc/self/environ": (read_vector, ogr_vrt("/proc/self/environ"), SECRET),
        "vector: OGR VRT on the function's code": (read_vector, ogr_vrt(CODE), MARKER),
    }
    ogr_vrt_on = ogr_vrt_registered()
    report = {"ogr_vrt_registered": ogr_vrt_on}
    for i, (name, (read, content, secret)) in enumerate(cases.items()):
        path = os.path.join(upload, f"upload{i}.vrt")
        with open(path, "w") as f:
            f.write(content)
        report[name] = outcome(read, path, secret, ogr_vrt_on)
    return report
