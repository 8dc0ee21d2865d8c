/* GEOS smoke: buffer a point by 1 and check the area is close to pi. Exit 0 on success. */
#include <math.h>
#include <stdio.h>
#include <geos_c.h>

int main(void) {
    GEOSContextHandle_t h = GEOS_init_r();
    GEOSGeometry *pt = GEOSGeom_createPointFromXY_r(h, 1.0, 2.0);
    GEOSGeometry *buf = GEOSBuffer_r(h, pt, 1.0, 32);
    double area = 0;
    GEOSArea_r(h, buf, &area);
    printf("GEOS %s: buffer(POINT (1 2), 1) area = %.5f, vertices = %d\n", GEOSversion(), area, GEOSGetNumCoordinates_r(h, buf));
    int ok = fabs(area - M_PI) < 0.01;
    GEOSGeom_destroy_r(h, buf); GEOSGeom_destroy_r(h, pt); GEOS_finish_r(h);
    printf("%s\n", ok ? "GEOS SMOKE OK" : "GEOS SMOKE FAILED");
    return !ok;
}
