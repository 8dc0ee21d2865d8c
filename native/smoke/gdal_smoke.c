/* GDAL smoke: lists drivers, checks the driver set and the network VSI handlers are present, writes a
 * COG to /vsimem/ with an EPSG:4326 SRS (needs proj.db via the compiled-in /opt/share/proj), checks
 * GDAL finds its data dir, and recodes to code pages the runtime's glibc has no gconv module for
 * (GDAL's iconv is the layer's libiconv). Exit 0 on success. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <gdal.h>
#include <cpl_conv.h>
#include <cpl_vsi.h>
#include <cpl_string.h>
#include <ogr_srs_api.h>

static const char *required[] = {"GTiff", "COG", "VRT", "MEM", "PNG", "JPEG", "AAIGrid", "SRTMHGT", "GPKG",
                                 "ESRI Shapefile", "GeoJSON", "FlatGeobuf", "CSV", "GPX", "GML", "KML",
                                 "MapInfo File", "OpenFileGDB", "DXF", NULL};

/* UTF-8 "ž" and "中" in code pages glibc would need CP1250.so / libGB.so for */
static int recodes(const char *utf8, const char *encoding, const char *expected) {
    char *out = CPLRecode(utf8, CPL_ENC_UTF8, encoding);
    int ok = out && strcmp(out, expected) == 0;
    printf("recode to %s: %s\n", encoding, ok ? "ok" : "WRONG");
    CPLFree(out);
    return ok;
}

int main(void) {
    int fail = 0;
    GDALAllRegister();
    printf("%s\n", GDALVersionInfo("--version"));
    int n = GDALGetDriverCount();
    printf("drivers (%d):", n);
    for (int i = 0; i < n; i++) printf(" %s", GDALGetDriverShortName(GDALGetDriver(i)));
    printf("\n");
    for (const char **r = required; *r; r++)
        if (!GDALGetDriverByName(*r)) { printf("MISSING driver %s\n", *r); fail = 1; }

    char **fs = VSIGetFileSystemsPrefixes();
    const char *want_fs[] = {"/vsicurl/", "/vsis3/", "/vsigs/", "/vsiaz/", NULL};
    for (const char **w = want_fs; *w; w++)
        if (CSLFindString(fs, *w) < 0) { printf("MISSING file system %s\n", *w); fail = 1; }
    CSLDestroy(fs);

    if (!recodes("\xc5\xbe", "CP1250", "\x9e") || !recodes("\xe4\xb8\xad", "GB18030", "\xd6\xd0")
        || !recodes("\xc3\xa9", "CP437", "\x82")) fail = 1;

    const char *xsd = CPLFindFile("gdal", "gdalvrt.xsd");
    printf("gdal data: %s\n", xsd ? xsd : "(not found)");
    if (!xsd || strncmp(xsd, "/opt/share/gdal", 15) != 0) fail = 1;

    /* MEM -> COG in /vsimem/ with an SRS from proj.db */
    GDALDatasetH mem = GDALCreate(GDALGetDriverByName("MEM"), "", 64, 64, 1, GDT_Byte, NULL);
    double gt[6] = {10.0, 0.01, 0, 50.0, 0, -0.01};
    GDALSetGeoTransform(mem, gt);
    OGRSpatialReferenceH srs = OSRNewSpatialReference(NULL);
    if (OSRImportFromEPSG(srs, 4326) != OGRERR_NONE) { printf("EPSG:4326 lookup failed\n"); fail = 1; }
    GDALSetSpatialRef(mem, srs);
    GDALDatasetH cog = GDALCreateCopy(GDALGetDriverByName("COG"), "/vsimem/smoke.tif", mem, FALSE, NULL, NULL, NULL);
    if (!cog) { printf("COG write failed: %s\n", CPLGetLastErrorMsg()); fail = 1; }
    else GDALClose(cog);
    GDALClose(mem);
    OSRDestroySpatialReference(srs);
    VSIStatBufL st;
    if (VSIStatL("/vsimem/smoke.tif", &st) == 0) printf("COG bytes: %lld\n", (long long)st.st_size);

    /* /vsicurl/ goes through libcurl: with the network off this must fail cleanly, not crash */
    CPLSetConfigOption("GDAL_HTTP_MAX_RETRY", "0");
    CPLSetConfigOption("GDAL_HTTP_TIMEOUT", "3");
    CPLPushErrorHandler(CPLQuietErrorHandler);
    int r = VSIStatL("/vsicurl/https://example.com/does-not-exist.tif", &st);
    CPLPopErrorHandler();
    printf("/vsicurl/ stat without network: %s (%s)\n", r == 0 ? "ok?!" : "failed as expected", CPLGetLastErrorMsg());
    /* optional online check (not part of the offline smoke): SMOKE_HTTPS_URL=https://... must stat */
    const char *url = getenv("SMOKE_HTTPS_URL");
    if (url && *url) {
        char path[2048];
        snprintf(path, sizeof path, "/vsicurl/%s", url);
        CPLSetConfigOption("GDAL_HTTP_TIMEOUT", "20");
        if (VSIStatL(path, &st) == 0) printf("HTTPS %s: %lld bytes\n", url, (long long)st.st_size);
        else { printf("HTTPS %s FAILED: %s\n", url, CPLGetLastErrorMsg()); fail = 1; }
    }
    printf("%s\n", fail ? "GDAL SMOKE FAILED" : "GDAL SMOKE OK");
    return fail;
}
