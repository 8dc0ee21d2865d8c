/* OpenBLAS smoke: DGEMMs through CBLAS with known products (3x3: the small-matrix path; 100x100:
 * the GEMM kernels), with the kernel set OpenBLAS picks for this CPU and, on aarch64, again with
 * each Graviton kernel set forced (OPENBLAS_CORETYPE, one child process each): qemu's CPU has SVE,
 * so the Neoverse V1 kernels run here too. A forced set that was not built falls back to ARMV8,
 * which the core-name check catches. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <openblas/cblas.h>  /* OpenBLAS installs its headers under include/openblas */

extern char *openblas_get_corename(void);

#if defined(__aarch64__)
static const char *const forced[] = {"NEOVERSEN1", "NEOVERSEV1"};  /* Graviton2; Graviton3 and 4 */
#else
static const char *const forced[] = {0};  /* x86_64 kernels need the host's CPU features */
#endif

/* a[i][k] = i + 1, b[k][j] = j % 7 - 3: c[i][j] = n (i + 1) (j % 7 - 3), exact in doubles. */
static int dgemm_ok(int n) {
    double *a = malloc(sizeof(double) * n * n), *b = malloc(sizeof(double) * n * n);
    double *c = calloc((size_t)n * n, sizeof(double));
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            a[i * n + j] = i + 1;
            b[i * n + j] = j % 7 - 3;
        }
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0, a, n, b, n, 0.0, c, n);
    int ok = 1;
    for (int i = 0; i < n && ok; i++)
        for (int j = 0; j < n && ok; j++)
            if (c[i * n + j] != (double)n * (i + 1) * (j % 7 - 3)) {
                fprintf(stderr, "dgemm %dx%d (core %s): c[%d][%d] = %g, want %g\n", n, n,
                        openblas_get_corename(), i, j, c[i * n + j], (double)n * (i + 1) * (j % 7 - 3));
                ok = 0;
            }
    free(a), free(b), free(c);
    return ok;
}

static int run_forced(const char *self, const char *core) {
    pid_t pid = fork();
    if (pid == 0) {
        setenv("OPENBLAS_CORETYPE", core, 1);
        execl(self, self, core, (char *)0);
        _exit(127);
    }
    int status;
    return waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

int main(int argc, char **argv) {
    if (argc == 2) { /* a child: the forced kernel set must be the one running */
        char want[32];
        size_t i = 0;
        for (; argv[1][i] && i < sizeof want - 1; i++) want[i] = (char)(argv[1][i] | 0x20);
        want[i] = 0;
        if (strcmp(openblas_get_corename(), want) != 0) {
            fprintf(stderr, "OPENBLAS_CORETYPE=%s runs core %s: its kernels were not built\n", argv[1],
                    openblas_get_corename());
            return 1;
        }
        return dgemm_ok(3) && dgemm_ok(100) ? 0 : 1;
    }
    if (!dgemm_ok(3) || !dgemm_ok(100)) return 1;
    printf("openblas ok: %s, core %s", openblas_get_config(), openblas_get_corename());
    for (size_t i = 0; i < sizeof forced / sizeof *forced && forced[i]; i++) {
        if (!run_forced(argv[0], forced[i])) return 1;
        printf("; %s ok", forced[i]);
    }
    printf("\n");
    return 0;
}
