"""Smoke test of the GIS layer (rasterio, fiona, pyproj, shapely, numpy on one shared GDAL/PROJ/GEOS
in /opt/lib) with exact expected results. Raises on the first failure (the invoke then fails with
Lambda's error document); returns the deterministic figures its invoke tests compare.

    event: {"expect_proj_data": "/opt/share/proj", "expect_gdal_data": "/opt/share/gdal"} (defaults)
"""
import ctypes
import json
import math
import os
import tempfile


def _check(cond, msg):
    if not cond:
        raise AssertionError(msg)


def _loaded_natives():
    libs = set()
    with open("/proc/self/maps") as f:
        for line in f:
            path = line.split()[-1] if len(line.split()) >= 6 else ""
            base = os.path.basename(path)
            if base.startswith(("libgdal", "libproj", "libgeos", "libsqlite3", "libcurl", "libtiff")):
                libs.add(path)
    return sorted(libs)


def handler(event, context=None):
    event = event or {}
    want_proj = event.get("expect_proj_data", "/opt/share/proj")
    want_gdal = event.get("expect_gdal_data", "/opt/share/gdal")
    report = {}

    import numpy
    import shapely
    import pyproj
    import rasterio
    import fiona
    from rasterio.io import MemoryFile
    from rasterio.transform import from_origin
    from rasterio.warp import Resampling, calculate_default_transform, reproject
    from shapely.geometry import Point, mapping, shape

    report["versions"] = {
        "numpy": numpy.__version__, "shapely": shapely.__version__, "geos": shapely.geos_version_string,
        "pyproj": pyproj.__version__, "proj": pyproj.proj_version_str,
        "rasterio": rasterio.__version__, "gdal": rasterio.__gdal_version__,
        "fiona": fiona.__version__, "fiona_gdal": fiona.__gdal_version__,
    }

    # --- numpy's OpenBLAS (a broken strip of numpy.libs fails here)
    rng = numpy.random.default_rng(0)
    a = rng.random((200, 200))
    solved = numpy.linalg.solve(a @ a.T + 200 * numpy.eye(200), numpy.ones(200))
    report["numpy_solve_sum"] = round(float(solved.sum()), 9)
    blas = numpy.show_config(mode="dicts")["Build Dependencies"]["blas"]
    report["numpy_blas"] = {"name": blas["name"], "found": blas["found"]}

    # --- PROJ data: pyproj and GDAL (rasterio/fiona) must use the same proj.db
    pdir = pyproj.datadir.get_data_dir()
    report["proj_data"] = pdir
    _check(os.path.isfile(os.path.join(pdir.split(os.pathsep)[0], "proj.db")),
           f"PROJ data: pyproj found no proj.db (data dir {pdir!r}; PROJ_DATA={os.environ.get('PROJ_DATA')!r})")
    _check(pdir.split(os.pathsep)[0] == want_proj,
           f"PROJ data: pyproj uses {pdir!r}, expected {want_proj!r}")
    gdal = ctypes.CDLL("libgdal.so.39")
    gdal.CPLFindFile.restype = ctypes.c_char_p
    gdal.CPLFindFile.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
    found = gdal.CPLFindFile(b"gdal", b"gdalvrt.xsd")
    report["gdal_data"] = os.path.dirname(found.decode()) if found else None
    _check(found is not None and os.path.dirname(found.decode()) == want_gdal,
           f"GDAL data: gdalvrt.xsd found at {found!r}, expected in {want_gdal!r} (GDAL_DATA={os.environ.get('GDAL_DATA')!r})")
    gdal.OSRGetPROJSearchPaths.restype = ctypes.POINTER(ctypes.c_char_p)
    sp = gdal.OSRGetPROJSearchPaths()
    paths = []
    i = 0
    while sp and sp[i]:
        paths.append(sp[i].decode())
        i += 1
    gdal.CSLDestroy(sp)
    gdal_projdb = next((p for p in paths if os.path.isfile(os.path.join(p, "proj.db"))), None)
    if not paths:  # GDAL leaves it to PROJ's own default (the compiled-in $prefix/share/proj)
        proj = ctypes.CDLL("libproj.so.25")

        class PJ_INFO(ctypes.Structure):
            _fields_ = [("major", ctypes.c_int), ("minor", ctypes.c_int), ("patch", ctypes.c_int),
                        ("release", ctypes.c_char_p), ("version", ctypes.c_char_p),
                        ("searchpath", ctypes.c_char_p), ("paths", ctypes.c_void_p), ("path_count", ctypes.c_size_t)]
        proj.proj_info.restype = PJ_INFO
        info = proj.proj_info()
        gdal_projdb = next((p for p in info.searchpath.decode().split(os.pathsep)
                            if os.path.isfile(os.path.join(p, "proj.db"))), None)
    _check(gdal_projdb == want_proj, f"PROJ data: GDAL's PROJ uses {gdal_projdb!r}, expected {want_proj!r}")

    # --- pyproj: EPSG:4326 -> EPSG:3857 (spherical Mercator, closed form)
    lon, lat = 10.0, 50.0
    t = pyproj.Transformer.from_crs("EPSG:4326", "EPSG:3857", always_xy=True)
    x, y = t.transform(lon, lat)
    R = 6378137.0
    ex, ey = R * math.radians(lon), R * math.log(math.tan(math.pi / 4 + math.radians(lat) / 2))
    _check(abs(x - ex) < 1e-6 and abs(y - ey) < 1e-6, f"pyproj: ({x}, {y}) != ({ex}, {ey})")
    report["pyproj_3857"] = [round(x, 6), round(y, 6)]

    # --- pyproj features PROJ >= 9.2 provides (what pyproj's PyPI wheel returns)
    best = pyproj.Transformer.from_crs("EPSG:4326", "EPSG:27700", always_xy=True, only_best=True)
    report["pyproj_only_best_27700"] = [round(v, 6) for v in best.transform(-1.0, 52.0)]
    from pyproj.database import get_codes
    from pyproj.enums import PJType
    report["pyproj_epsg_counts"] = {
        "crs": len(get_codes("EPSG", PJType.CRS)),
        "derived_projected_crs": len(get_codes("EPSG", PJType.DERIVED_PROJECTED_CRS)),
    }

    # --- numpy.testing (imports modules the layer's pruning must keep)
    import numpy.testing
    report["numpy_testing"] = callable(numpy.testing.assert_allclose)

    # --- shapely: buffer of a unit point with 16 segments per quadrant = regular 64-gon
    area = Point(0, 0).buffer(1.0, quad_segs=16).area
    exp = 0.5 * 64 * math.sin(2 * math.pi / 64)
    _check(abs(area - exp) < 1e-12, f"shapely: buffer area {area} != {exp}")
    report["shapely_buffer_area"] = round(area, 12)

    # --- rasterio: GeoTIFF in a MemoryFile, then reproject to EPSG:3857
    data = numpy.arange(64, dtype="uint8").reshape(8, 8)
    src_transform = from_origin(10.0, 50.0, 0.01, 0.01)
    profile = dict(driver="GTiff", width=8, height=8, count=1, dtype="uint8", crs="EPSG:4326",
                   transform=src_transform, compress="deflate")
    with MemoryFile() as mem:
        with mem.open(**profile) as dst:
            dst.write(data, 1)
        with mem.open() as src:
            back = src.read(1)
            _check(numpy.array_equal(back, data), "rasterio: GeoTIFF read back differs")
            _check(src.crs.to_epsg() == 4326, f"rasterio: CRS {src.crs} is not EPSG:4326")
            dt, w, h = calculate_default_transform(src.crs, "EPSG:3857", src.width, src.height, *src.bounds)
            out = numpy.zeros((h, w), dtype="uint8")
            reproject(back, out, src_transform=src.transform, src_crs=src.crs, dst_transform=dt,
                      dst_crs="EPSG:3857", resampling=Resampling.nearest)
    _check(out.shape == (h, w) and int(out.max()) == 63 and int(out.min()) == 0,
           f"rasterio.warp: unexpected output shape {out.shape} min {out.min()} max {out.max()}")
    _check(abs(dt.c - ex) < 1e-3, f"rasterio.warp: west edge {dt.c} != {ex}")
    report["rasterio_reproject"] = {"shape": list(out.shape), "west": round(dt.c, 3), "sum": int(out.sum())}

    # --- fiona: GeoPackage and GeoJSON with a CRS, written and read back
    schema = {"geometry": "Point", "properties": {"name": "str", "value": "int"}}
    feats = [{"geometry": mapping(Point(lon + i, lat)), "properties": {"name": f"p{i}", "value": i}} for i in range(3)]
    tmp = tempfile.mkdtemp(prefix="gis-smoke-")
    fiona_report = {}
    for driver, fn in (("GPKG", "points.gpkg"), ("GeoJSON", "points.geojson")):
        path = os.path.join(tmp, fn)
        with fiona.open(path, "w", driver=driver, crs="EPSG:4326", schema=schema) as c:
            c.writerecords(feats)
        with fiona.open(path) as c:
            got = [(f["properties"]["name"], f["properties"]["value"], shape(f["geometry"]).coords[0]) for f in c]
            epsg = c.crs.to_epsg()
        _check(got == [(f"p{i}", i, (lon + i, lat)) for i in range(3)], f"fiona {driver}: read back {got}")
        _check(epsg == 4326, f"fiona {driver}: CRS read back as {epsg}, not EPSG:4326")
        fiona_report[driver] = {"features": len(got), "epsg": epsg}
    # Shapefile attributes in code pages the runtime's glibc cannot convert (GDAL's libiconv)
    for encoding, text in (("cp1252", "Zürich café 5 €"), ("cp1250", "Łódź Žižkov")):
        path = os.path.join(tmp, f"names-{encoding}.shp")
        with fiona.open(path, "w", driver="ESRI Shapefile", crs="EPSG:4326", encoding=encoding,
                        schema={"geometry": "Point", "properties": {"name": "str:40"}}) as c:
            c.write({"geometry": mapping(Point(lon, lat)), "properties": {"name": text}})
        with open(path[:-4] + ".dbf", "rb") as dbf:
            raw = dbf.read()
        _check(text.encode(encoding) in raw, f"fiona Shapefile {encoding}: the .dbf does not hold {text!r} in {encoding}")
        with fiona.open(path) as c:
            got = [f["properties"]["name"] for f in c]
        _check(got == [text], f"fiona Shapefile {encoding}: read back {got}, wrote {text!r}")
        fiona_report[f"Shapefile {encoding}"] = got[0]
    report["fiona"] = fiona_report

    # --- GDAL drivers
    with rasterio.Env() as env:
        drivers = env.drivers()
    need = {"GTiff", "COG", "VRT", "MEM", "PNG", "JPEG", "AAIGrid", "SRTMHGT", "GPKG", "ESRI Shapefile",
            "GeoJSON", "FlatGeobuf", "CSV", "GPX", "GML", "KML", "MapInfo File", "OpenFileGDB", "DXF"}
    _check(need <= set(drivers), f"GDAL drivers missing: {sorted(need - set(drivers))}")
    report["gdal_drivers"] = sorted(drivers)

    # --- exactly one copy of each native library, all from the layer's lib/
    loaded = _loaded_natives()
    for stem in ("libgdal", "libproj", "libgeos_c"):
        hits = [p for p in loaded if os.path.basename(p).startswith(stem + ".") or os.path.basename(p).startswith(stem + "-")]
        _check(len(hits) == 1, f"{stem}: loaded {len(hits)} copies: {hits}")
        _check(hits[0].startswith("/opt/lib/"), f"{stem}: loaded from {hits[0]}, not /opt/lib")
    return json.loads(json.dumps(report))
