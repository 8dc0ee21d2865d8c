/* OpenBLAS smoke: a 3x3 DGEMM through CBLAS with a known product, and the kernel set chosen. */
#include <stdio.h>
#include <openblas/cblas.h>  /* OpenBLAS installs its headers under include/openblas */

extern char *openblas_get_corename(void);

int main(void) {
    double a[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9}, b[9] = {9, 8, 7, 6, 5, 4, 3, 2, 1}, c[9] = {0};
    const double want[9] = {30, 24, 18, 84, 69, 54, 138, 114, 90};
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, 3, 3, 3, 1.0, a, 3, b, 3, 0.0, c, 3);
    for (int i = 0; i < 9; i++) {
        if (c[i] != want[i]) {
            fprintf(stderr, "dgemm: c[%d] = %g, want %g\n", i, c[i], want[i]);
            return 1;
        }
    }
    printf("openblas ok: %s, core %s\n", openblas_get_config(), openblas_get_corename());
    return 0;
}
