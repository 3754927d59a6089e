/* t_seg_timing.c - a measurement, not an assertion: the median time to
 * create (reserving the memory), map, remove and close a 1 MiB segment of
 * each kind, printed as TAP comments. The checks only say every run worked.
 * RUNS can be changed with SHMKIT_TIMING_RUNS. */
#include "tu_seg.h"

#include <sys/vfs.h>

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void measure(const char *what, int kind, unsigned extra, const char *dir, int runs)
{
    uint64_t *ns = calloc((size_t)runs, sizeof *ns);
    char name[PATH_MAX];
    int failed = 0;
    if (!ns)
        tap_bail("calloc");
    for (int i = 0; i < runs; i++) {
        struct shmkit_opts o = {.kind = kind, .size = 1u << 20,
                                .flags = SHMKIT_CREATE | SHMKIT_EXCL | extra};
        if (kind == SHMKIT_POSIX)
            o.name = tu_name(name, sizeof name, "time");
        else if (kind == SHMKIT_FILE)
            snprintf(name, sizeof name, "%s/seg-%d", dir, i), o.name = name;
        else if (kind == SHMKIT_SYSV)
            o.sysv_private = 1;
        shmkit_seg *s = NULL;
        uint64_t t0 = tu_now_ns();
        int rc = shmkit_open(&s, &o);
        if (rc == 0) {
            rc = shmkit_seg_remove(s);
            shmkit_close(s);
        }
        ns[i] = tu_now_ns() - t0;
        if (rc < 0 && failed++ < 3)
            tap_diag("%s run %d: %s", what, i, shmkit_errname(rc));
    }
    qsort(ns, (size_t)runs, sizeof *ns, cmp_u64);
    is_int(failed, 0, "%s: %d runs of create+map+remove+close (1 MiB)", what, runs);
    tap_diag("%-22s median %7.1f us   p10 %7.1f us   p90 %7.1f us", what, ns[runs / 2] / 1e3,
             ns[runs / 10] / 1e3, ns[runs * 9 / 10] / 1e3);
    free(ns);
}

int main(void)
{
    char dir[256];
    const char *r = getenv("SHMKIT_TIMING_RUNS");
    int runs = r ? atoi(r) : 200;
    if (runs < 10)
        runs = 10;
    tu_tmpdir(dir, sizeof dir);
    struct statfs sf;
    const char *fs = "?";
    if (statfs(dir, &sf) == 0)
        fs = sf.f_type == 0x01021994 ? "tmpfs" : sf.f_type == 0xEF53 ? "ext4" : "other fs";
    tap_diag("1 MiB segments, %d runs each; FILE segments in %s (%s)", runs, dir, fs);
    measure("posix", SHMKIT_POSIX, 0, dir, runs);
    measure("sysv (IPC_PRIVATE)", SHMKIT_SYSV, 0, dir, runs);
    measure("anon", SHMKIT_ANON, 0, dir, runs);
    measure("memfd", SHMKIT_MEMFD, 0, dir, runs);
    measure("file", SHMKIT_FILE, 0, dir, runs);
    tap_diag("the same without reserving the memory (SHMKIT_NORESERVE):");
    measure("posix noreserve", SHMKIT_POSIX, SHMKIT_NORESERVE, dir, runs);
    measure("sysv noreserve", SHMKIT_SYSV, SHMKIT_NORESERVE, dir, runs);
    measure("anon noreserve", SHMKIT_ANON, SHMKIT_NORESERVE, dir, runs);
    measure("memfd noreserve", SHMKIT_MEMFD, SHMKIT_NORESERVE, dir, runs);
    tu_tmpdir_rm(dir);
    return tap_done();
}
