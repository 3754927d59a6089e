/* t_seg_ops.c - the settled segment ABI (issue 11): reserved fields of
 * shmkit_opts must be zero (-EINVAL otherwise, a received descriptor still
 * closed); descriptor 0 is a descriptor (MEMFD without CREATE takes it, a
 * create never does); an unknown feature bit in the format word is a newer
 * format (SHMKIT_EVERSION); shmkit_info.name holds a POSIX name of "/" +
 * NAME_MAX bytes and a long FILE path whole; every kind's stat and remove
 * go through its backend. */
#include "tap.h"

#include "internal.h" /* struct shmkit__hdr, to forge a newer format */
#include "shmkit.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static void test_reserved_opts(void)
{
    char name[96];
    size_t n =
        sizeof((struct shmkit_opts *)0)->reserved / sizeof((struct shmkit_opts *)0)->reserved[0];
    int bad = 0;
    for (size_t i = 0; i < n; i++) {
        shmkit_seg *s = NULL;
        struct shmkit_opts o = {.kind = SHMKIT_POSIX,
                                .name = tu_name(name, sizeof name, "rsv"),
                                .size = 64,
                                .flags = SHMKIT_CREATE | SHMKIT_EXCL};
        o.reserved[i] = 1;
        int rc = shmkit_open(&s, &o);
        if (rc != -EINVAL || s)
            bad++;
        if (shm_unlink(name) == 0)
            bad++; /* nothing may have been made */
    }
    is_int(bad, 0, "a non-zero opts.reserved[i] (each of %zu): -EINVAL, nothing made", n);

    int fd = memfd_create("rsv", MFD_CLOEXEC);
    if (fd < 0)
        tap_bail("memfd_create");
    shmkit_seg *s = NULL;
    struct shmkit_opts o = {.kind = SHMKIT_MEMFD, .fd = fd, .flags = SHMKIT_RAW};
    o.reserved[n - 1] = 42;
    is_rc(shmkit_open(&s, &o), -EINVAL, "MEMFD with a reserved field set: -EINVAL");
    ok(fcntl(fd, F_GETFD) < 0 && errno == EBADF, "... and the descriptor handed in was closed");

    struct shmkit_opts z = {.kind = SHMKIT_ANON, .size = 64, .flags = SHMKIT_CREATE};
    is_rc(shmkit_open(&s, &z), 0, "zero-initialised reserved fields: accepted");
    struct shmkit_info in;
    memset(&in, 0xa5, sizeof in);
    is_rc(shmkit_seg_stat(s, &in), 0, "stat");
    ok(in.reserved[0] == 0 && in.reserved[6] == 0, "stat zeroes shmkit_info.reserved");
    shmkit_close(s);
}

/* A MEMFD segment moved onto descriptor 0, as a program that closed its
 * stdin receives it, opens by opts.fd = 0. */
static void test_fd_zero(void)
{
    shmkit_seg *m = NULL;
    struct shmkit_opts mo = {
        .kind = SHMKIT_MEMFD, .name = "fd0", .size = 128, .flags = SHMKIT_CREATE};
    if (shmkit_open(&m, &mo) < 0)
        tap_bail("memfd create");
    strcpy(shmkit_seg_data(m), "on descriptor zero");
    int saved = dup(0); /* give stdin back afterwards */
    if (saved < 0 || dup2(shmkit_seg_fd(m), 0) != 0)
        tap_bail("dup2 onto 0");

    shmkit_seg *s = NULL;
    struct shmkit_opts o = {.kind = SHMKIT_MEMFD, .fd = 0};
    is_rc(shmkit_open(&s, &o), 0, "MEMFD opts.fd = 0 without CREATE: opened");
    is_int(shmkit_seg_fd(s), 0, "... the handle holds descriptor 0");
    ok(s && !strcmp(shmkit_seg_data(s), "on descriptor zero"), "... and maps the segment");
    struct shmkit_info in;
    is_rc(shmkit_seg_stat(s, &in), 0, "... stat");
    ok(!strcmp(in.name, "memfd:0"), "... named memfd:0 (%s)", in.name);
    shmkit_close(s);
    ok(fcntl(0, F_GETFD) < 0 && errno == EBADF, "close closed descriptor 0 (it was handed in)");

    /* a create with a zero-initialised opts makes a new memfd, and leaves
     * whatever descriptor 0 is alone */
    if (dup2(shmkit_seg_fd(m), 0) != 0)
        tap_bail("dup2 onto 0");
    struct shmkit_opts c = {.kind = SHMKIT_MEMFD, .size = 64, .flags = SHMKIT_CREATE};
    is_rc(shmkit_open(&s, &c), 0, "MEMFD CREATE with opts.fd = 0: a new memfd");
    ok(shmkit_seg_fd(s) > 0, "... on a descriptor of its own");
    shmkit_close(s);
    ok(fcntl(0, F_GETFD) >= 0, "... descriptor 0 untouched");
    c.fd = -1;
    is_rc(shmkit_open(&s, &c), 0, "MEMFD CREATE with opts.fd = -1: a new memfd");
    shmkit_close(s);

    /* descriptor 0 that is not a regular file is refused (and closed) */
    int p[2];
    if (pipe(p) < 0 || dup2(p[0], 0) != 0)
        tap_bail("pipe");
    close(p[0]);
    is_rc(shmkit_open(&s, &o), -EINVAL, "a pipe on descriptor 0: -EINVAL");
    ok(fcntl(0, F_GETFD) < 0 && errno == EBADF, "... closed all the same");
    close(p[1]);
    struct shmkit_opts neg = {.kind = SHMKIT_MEMFD, .fd = -1};
    is_rc(shmkit_open(&s, &neg), -EINVAL, "MEMFD without CREATE, opts.fd = -1: -EINVAL");

    dup2(saved, 0);
    close(saved);
    shmkit_close(m);
}

static void test_feature_bits(void)
{
    unsigned char img[SHMKIT_HEADER_SIZE + 64];
    struct shmkit__hdr h;
    int bad = 0;
    for (int bit = 0; bit < 16; bit++) {
        shmkit__hdr_init(&h, 64, SHMKIT_LAYOUT_BYTES);
        h.format |= 1u << bit;
        shmkit__hdr_finish(&h);
        memset(img, 0, sizeof img);
        memcpy(img, &h, sizeof h);
        int rc = shmkit_header_check(img, sizeof img, sizeof img, NULL);
        if (rc != SHMKIT_EVERSION) {
            tap_diag("feature bit %d: %s", bit, shmkit_errname(rc));
            bad++;
        }
    }
    is_int(bad, 0, "each unknown feature bit, CRC valid: SHMKIT_EVERSION");

    /* the same through an open */
    shmkit__hdr_init(&h, 64, SHMKIT_LAYOUT_BYTES);
    h.format |= 0x8000;
    shmkit__hdr_finish(&h);
    int fd = memfd_create("feat", MFD_CLOEXEC);
    if (fd < 0 || ftruncate(fd, (off_t)sizeof img) < 0 || pwrite(fd, &h, sizeof h, 0) < 0)
        tap_bail("memfd");
    shmkit_seg *s = NULL;
    struct shmkit_opts o = {.kind = SHMKIT_MEMFD, .fd = fd};
    is_rc(shmkit_open(&s, &o), SHMKIT_EVERSION, "open of a segment with a newer feature bit");

    /* with the CRC broken the same bit is damage, not a newer format */
    shmkit__hdr_init(&h, 64, SHMKIT_LAYOUT_BYTES);
    shmkit__hdr_finish(&h);
    h.format |= 1;
    memcpy(img, &h, sizeof h);
    is_rc(shmkit_header_check(img, sizeof img, sizeof img, NULL), SHMKIT_EBADHEADER,
          "a feature bit that fails the CRC: EBADHEADER");
}

static void test_long_names(void)
{
    char name[NAME_MAX + 2];
    shmkit_seg *s = NULL;
    struct shmkit_info in;
    /* "/" + 255 bytes: the longest POSIX name */
    int n = snprintf(name, sizeof name, "/shmkit-t-%ld-long-", (long)getpid());
    memset(name + n, 'x', sizeof name - 1 - (size_t)n);
    name[sizeof name - 1] = '\0';
    is_int(strlen(name), 256, "a POSIX name of \"/\" + NAME_MAX bytes");
    struct shmkit_opts o = {
        .kind = SHMKIT_POSIX, .name = name, .size = 64, .flags = SHMKIT_CREATE | SHMKIT_EXCL};
    is_rc(shmkit_open(&s, &o), 0, "... created");
    is_rc(shmkit_seg_stat(s, &in), 0, "... stat");
    ok(!strcmp(in.name, name), "... shmkit_info.name holds all of it");
    is_rc(shmkit_seg_remove(s), 0, "... removed by it");
    shmkit_close(s);

    /* a FILE path of ~600 bytes */
    char dir[] = "/tmp/shmkit-t-longXXXXXX";
    if (!mkdtemp(dir))
        tap_bail("mkdtemp");
    char path[1024], sub[300];
    memset(sub, 'd', 250);
    sub[250] = '\0';
    snprintf(path, sizeof path, "%s/%s", dir, sub);
    if (mkdir(path, 0700) < 0)
        tap_bail("mkdir");
    snprintf(path + strlen(path), sizeof path - strlen(path), "/%s.seg", sub);
    struct shmkit_opts f = {
        .kind = SHMKIT_FILE, .name = path, .size = 64, .flags = SHMKIT_CREATE | SHMKIT_EXCL};
    is_rc(shmkit_open(&s, &f), 0, "a FILE path of %zu bytes: created", strlen(path));
    is_rc(shmkit_seg_stat(s, &in), 0, "... stat");
    ok(!strcmp(in.name, path), "... shmkit_info.name holds the whole path");
    is_rc(shmkit_seg_remove(s), 0, "... removed");
    shmkit_close(s);
    path[strlen(dir) + 251] = '\0';
    rmdir(path);
    rmdir(dir);
}

/* Each kind answers stat and remove through its own backend. */
static void test_kinds(void)
{
    char name[96], path[] = "/tmp/shmkit-t-kindXXXXXX";
    int pfd = mkstemp(path);
    if (pfd < 0)
        tap_bail("mkstemp");
    close(pfd);
    unlink(path);
    struct shmkit_opts k[] = {
        {.kind = SHMKIT_POSIX, .name = tu_name(name, sizeof name, "kind")},
        {.kind = SHMKIT_SYSV, .sysv_private = 1},
        {.kind = SHMKIT_ANON},
        {.kind = SHMKIT_MEMFD, .name = "kind"},
        {.kind = SHMKIT_FILE, .name = path},
    };
    for (size_t i = 0; i < sizeof k / sizeof k[0]; i++) {
        shmkit_seg *s = NULL;
        struct shmkit_info in;
        k[i].size = 100;
        k[i].flags = SHMKIT_CREATE;
        k[i].layout = SHMKIT_LAYOUT_BYTES;
        if (shmkit_open(&s, &k[i]) < 0) {
            ok(0, "kind %d: create", k[i].kind);
            continue;
        }
        int st = shmkit_seg_stat(s, &in);
        ok(st == 0 && in.kind == k[i].kind && in.has_header && in.mode == 0600 &&
               in.payload_size == 100,
           "kind %d: stat through its backend (mode %o)", k[i].kind, in.mode);
        ok((k[i].kind == SHMKIT_SYSV) == (in.shmid >= 0), "kind %d: shmid only for SYSV",
           k[i].kind);
        is_rc(shmkit_seg_seal(s), 0, "kind %d: seal", k[i].kind);
        is_rc(shmkit_seg_verify(s), 0, "kind %d: verify", k[i].kind);
        is_rc(shmkit_seg_remove(s), 0, "kind %d: remove", k[i].kind);
        shmkit_close(s);
    }
}

int main(void)
{
    int probe = memfd_create("probe", MFD_CLOEXEC);
    if (probe < 0)
        tap_skip_all("no memfd_create here");
    close(probe);
    test_reserved_opts();
    test_fd_zero();
    test_feature_bits();
    test_long_names();
    test_kinds();
    return tap_done();
}
