/* t_hostile_lib_sparse.c - checking a sparse segment allocates nothing.
 * First the CRC-32C zero extension (shmkit__crc32c_zeros, O(log n)) against
 * the byte-wise CRC of real zeros, for every length 0..600 and odd ones up
 * to 1 MiB + 3, from several starting values. Then (root: a private mount
 * namespace with a 4 MiB tmpfs on /dev/shm) a sealed 64 MiB sparse POSIX
 * segment (NORESERVE) passes shmkit_seg_verify and shmkit_open(VERIFY)
 * while the tmpfs's free space does not move, also with a FILE segment on
 * that tmpfs and a MEMFD (its st_blocks do not grow), and a System V one
 * (its rss in /proc/sysvipc/shm does not grow); one byte written into a
 * hole (dd conv=notrunc) gives SHMKIT_ETAMPERED, costing one page. A 100 GiB
 * sparse segment seals and verifies in well under a second. Before, each
 * verify read the holes through the mapping: in the 4 MiB tmpfs it died of
 * SIGBUS. */
#include "tu_seg.h"

#include "internal.h" /* shmkit__crc32c_zeros */

#include <sched.h>
#include <sys/ipc.h>
#include <sys/mount.h>
#include <sys/shm.h>
#include <sys/statvfs.h>

#define MiB (1024ull * 1024)

static void test_zeros(void)
{
    static unsigned char zero[(1 << 20) + 3];
    static const uint32_t starts[] = {0, 0xffffffffu, 0x12345678u, 0xe3069283u};
    int bad = 0;
    for (size_t s = 0; s < sizeof starts / sizeof starts[0]; s++) {
        for (size_t n = 0; n <= 600; n++)
            if (shmkit__crc32c_zeros(starts[s], n) != shmkit_crc32c(starts[s], zero, n))
                bad++;
        static const size_t odd[] = {1023,  4095,  4096,    4097,         65535,
                                     65537, 99991, 1 << 20, (1 << 20) + 3};
        for (size_t i = 0; i < sizeof odd / sizeof odd[0]; i++)
            if (shmkit__crc32c_zeros(starts[s], odd[i]) != shmkit_crc32c(starts[s], zero, odd[i]))
                bad++;
    }
    is_int(bad, 0, "CRC-32C zero extension equals the byte-wise CRC (0..600, odd up to 1 MiB+3)");
    /* "123456789" then zeros, split anywhere: the same as all at once */
    unsigned char buf[64] = "123456789";
    uint32_t whole = shmkit_crc32c(0, buf, sizeof buf);
    uint32_t part = shmkit__crc32c_zeros(shmkit_crc32c(0, buf, 9), sizeof buf - 9);
    is_int(part, whole, "data then counted zeros = the CRC of data and zeros");
    is_int(shmkit_crc32c(0, "123456789", 9), 0xe3069283u, "CRC-32C check value");
}

static uint64_t tmpfs_free(void)
{
    struct statvfs sv;
    if (statvfs("/dev/shm", &sv) < 0)
        return 0;
    return (uint64_t)sv.f_bfree * sv.f_frsize;
}

/* One byte at OFF of PATH changed with dd, as an outsider would. */
static int dd_byte(const char *path, uint64_t off)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd,
             "printf Z | dd of='%s' bs=1 seek=%llu conv=notrunc status=none 2>/dev/null", path,
             (unsigned long long)off);
    return system(cmd);
}

/* A sealed sparse segment: data only at the start and the end. */
static shmkit_seg *sparse(struct shmkit_opts *o, size_t size)
{
    o->size = size;
    o->flags = SHMKIT_CREATE | SHMKIT_EXCL | SHMKIT_NORESERVE;
    o->mode = 0600;
    shmkit_seg *s = NULL;
    int rc = shmkit_open(&s, o);
    if (rc < 0) {
        tap_fail_diag("create %zu bytes: %s", size, shmkit_strerror(rc));
        return NULL;
    }
    char *d = shmkit_seg_data(s);
    memcpy(d, "first", 5);
    memcpy(d + size - 4, "last", 4);
    rc = shmkit_seg_seal(s);
    if (rc < 0)
        tap_fail_diag("seal: %s", shmkit_strerror(rc));
    return s;
}

static void test_fd_kind(int kind, const char *what)
{
    char name[128];
    struct shmkit_opts o = {.kind = kind};
    if (kind == SHMKIT_POSIX)
        o.name = tu_name(name, sizeof name, "sparse");
    else if (kind == SHMKIT_FILE)
        o.name = "/dev/shm/t-sparse-file";
    else
        o.name = "t-sparse";
    uint64_t before = tmpfs_free();
    shmkit_seg *s = sparse(&o, 64 * MiB);
    if (!s) {
        ok(0, "%s: 64 MiB sparse segment made and sealed", what);
        return;
    }
    struct stat st0, st1;
    fstat(shmkit_seg_fd(s), &st0);
    uint64_t made = tmpfs_free();
    is_rc(shmkit_seg_verify(s), 0, "%s: 64 MiB sparse, sealed: shmkit_seg_verify intact", what);
    shmkit_seg *v = NULL;
    struct shmkit_opts vo = {.kind = kind, .name = o.name, .flags = SHMKIT_RDONLY | SHMKIT_VERIFY};
    if (kind == SHMKIT_MEMFD) {
        vo.name = NULL;
        vo.fd = dup(shmkit_seg_fd(s));
    }
    is_rc(shmkit_open(&v, &vo), 0, "%s: shmkit_open(VERIFY) intact", what);
    shmkit_close(v);
    fstat(shmkit_seg_fd(s), &st1);
    if (kind == SHMKIT_MEMFD)
        ok(st1.st_blocks == st0.st_blocks, "%s: its blocks did not grow (%lld -> %lld)", what,
           (long long)st0.st_blocks, (long long)st1.st_blocks);
    else
        ok(tmpfs_free() == made && made + 64 * 1024 > before - 64 * 1024,
           "%s: the 4 MiB tmpfs did not fill (free %llu -> %llu -> %llu)", what,
           (unsigned long long)before, (unsigned long long)made, (unsigned long long)tmpfs_free());

    /* a byte changed in a hole, from outside */
    char path[300];
    if (kind == SHMKIT_POSIX)
        snprintf(path, sizeof path, "/dev/shm%s", o.name);
    else if (kind == SHMKIT_FILE)
        snprintf(path, sizeof path, "%s", o.name);
    else
        snprintf(path, sizeof path, "/proc/%ld/fd/%d", (long)getpid(), shmkit_seg_fd(s));
    if (kind == SHMKIT_MEMFD) {
        /* sealed memfd: the kernel itself refuses the write */
        ok(dd_byte(path, SHMKIT_HEADER_SIZE + 32 * MiB + 7) != 0,
           "%s: dd cannot write into it (F_SEAL_WRITE)", what);
        is_rc(shmkit_seg_verify(s), 0, "%s: still intact", what);
        return (void)shmkit_close(s);
    }
    ok(dd_byte(path, SHMKIT_HEADER_SIZE + 32 * MiB + 7) == 0, "%s: dd writes one byte into a hole",
       what);
    is_rc(shmkit_seg_verify(s), SHMKIT_ETAMPERED, "%s: shmkit_seg_verify: ETAMPERED", what);
    is_rc(shmkit_open(&v, &vo), SHMKIT_ETAMPERED, "%s: shmkit_open(VERIFY): ETAMPERED", what);
    shmkit_close(v);
    shmkit_seg_remove(s);
    shmkit_close(s);
}

/* rss of SHMID in /proc/sysvipc/shm (bytes), or -1. */
static long long sysv_rss(int shmid)
{
    FILE *f = fopen("/proc/sysvipc/shm", "r");
    char line[512];
    long long rss = -1;
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f)) {
        long long v[16];
        int id;
        if (sscanf(line, "%lld %d %lld %lld %lld %lld %lld %lld %lld %lld %lld %lld %lld %lld %lld",
                   &v[0], &id, &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7], &v[8], &v[9],
                   &v[10], &v[11], &v[12], &v[13]) == 15 &&
            id == shmid)
            rss = v[13];
    }
    fclose(f);
    return rss;
}

static void test_sysv(void)
{
    struct shmkit_opts o = {.kind = SHMKIT_SYSV, .sysv_private = 1};
    shmkit_seg *s = sparse(&o, 64 * MiB);
    if (!s) {
        ok(0, "SYSV: 64 MiB sparse segment made and sealed");
        return;
    }
    struct shmkit_info in;
    shmkit_seg_stat(s, &in);
    long long r0 = sysv_rss(in.shmid);
    is_rc(shmkit_seg_verify(s), 0, "SYSV: 64 MiB sparse, sealed: verify intact");
    long long r1 = sysv_rss(in.shmid);
    ok(r0 >= 0 && r1 == r0 && r1 < 1024 * 1024, "SYSV: its rss did not grow (%lld -> %lld)", r0,
       r1);
    ((char *)shmkit_seg_data(s))[32 * MiB] = 'Z';
    is_rc(shmkit_seg_verify(s), SHMKIT_ETAMPERED, "SYSV: a byte written into a hole: ETAMPERED");
    shmkit_seg_remove(s);
    shmkit_close(s);
}

static void test_huge(void)
{
    char name[128];
    struct shmkit_opts o = {.kind = SHMKIT_POSIX, .name = tu_name(name, sizeof name, "huge")};
    uint64_t t0 = tu_now_ns();
    shmkit_seg *s = sparse(&o, (size_t)100 << 30);
    if (!s) {
        ok(0, "100 GiB sparse segment made and sealed");
        return;
    }
    is_rc(shmkit_seg_verify(s), 0, "100 GiB sparse, sealed: verify intact");
    double secs = (double)(tu_now_ns() - t0) / 1e9;
    ok(secs < 5, "... create + seal + verify in %.6f s", secs);
    shmkit_seg_remove(s);
    shmkit_close(s);
}

int main(void)
{
    test_zeros();
    if (geteuid() != 0) {
        tap_diag("not root: no private tmpfs, the sparse part is skipped");
        return tap_done();
    }
    if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
        mount("tmpfs", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "size=4m,mode=1777") < 0) {
        tap_diag("no private mount namespace here (%s): the sparse part is skipped",
                 strerror(errno));
        return tap_done();
    }
    test_fd_kind(SHMKIT_POSIX, "POSIX");
    test_fd_kind(SHMKIT_FILE, "FILE on tmpfs");
    test_fd_kind(SHMKIT_MEMFD, "MEMFD");
    test_sysv();
    test_huge();
    return tap_done();
}
