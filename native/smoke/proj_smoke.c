/* PROJ smoke: EPSG:4326 -> EPSG:3857 with PROJ_DATA/PROJ_LIB unset, i.e. proj.db must be found at
 * the compiled-in /opt/share/proj. Exit 0 on success. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <proj.h>

int main(void) {
    unsetenv("PROJ_DATA");
    unsetenv("PROJ_LIB");
    PJ_INFO info = proj_info();
    printf("PROJ %s, search path: %s\n", info.release, info.searchpath);
    PJ_CONTEXT *ctx = proj_context_create();
    PJ *p = proj_create_crs_to_crs(ctx, "EPSG:4326", "EPSG:3857", NULL);
    if (!p) { printf("proj_create_crs_to_crs failed: %s\nPROJ SMOKE FAILED\n", proj_errno_string(proj_context_errno(ctx))); return 1; }
    PJ *n = proj_normalize_for_visualization(ctx, p);
    PJ_COORD c = proj_coord(10.0, 50.0, 0, 0); /* lon, lat */
    PJ_COORD o = proj_trans(n, PJ_FWD, c);
    printf("(10, 50) -> (%.3f, %.3f)\n", o.xy.x, o.xy.y);
    int ok = fabs(o.xy.x - 1113194.908) < 0.01 && fabs(o.xy.y - 6446275.841) < 0.01;
    proj_destroy(n); proj_destroy(p); proj_context_destroy(ctx);
    printf("%s\n", ok ? "PROJ SMOKE OK" : "PROJ SMOKE FAILED");
    return !ok;
}
