/* t_seg_seal.c - sealing: a checksum of the payload recorded in the header.
 * The classic tamper demo, run for real: `echo -n HACKED | dd of=/dev/shm/NAME
 * bs=1 seek=300 conv=notrunc` after sealing is reported by verify and by
 * open with SHMKIT_VERIFY. Also FILE and SYSV, header tampering, layout
 * parameters. */
#include "tu_seg.h"

/* Runs the shell command CMD; returns its exit status (or -1). */
static int sh(const char *cmd)
{
    fflush(stdout);
    int st = system(cmd);
    return st != -1 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void dd_into(const char *path, long seek, const char *what_text, const char *what)
{
    char cmd[PATH_MAX + 200];
    snprintf(cmd, sizeof cmd,
             "echo -n %s | dd of='%s' bs=1 seek=%ld conv=notrunc status=none", what_text, path,
             seek);
    is_int(sh(cmd), 0, "%s: %s", what, cmd);
}

static void test_posix_dd(void)
{
    char name[96], path[PATH_MAX];
    shmkit_seg *s = NULL, *t = NULL;
    struct shmkit_info in;
    struct shmkit_opts o = {.kind = SHMKIT_POSIX, .name = tu_name(name, sizeof name, "seal"),
                            .size = 4096, .flags = SHMKIT_CREATE | SHMKIT_EXCL};
    if (shmkit_open(&s, &o) < 0)
        tap_bail("cannot create");
    char *d = shmkit_seg_data(s);
    memset(d, '.', 4096);
    memcpy(d, "the real data", 13);
    is_rc(shmkit_seg_verify(s), SHMKIT_ENOTSEALED, "before sealing: ENOTSEALED");
    is_rc(shmkit_seg_seal(s), 0, "seal");
    ok(shmkit_seg_stat(s, &in) == 0 && in.sealed && in.generation == 2, "stat: sealed, generation 2");
    is_rc(shmkit_seg_verify(s), 0, "verify: intact");
    struct shmkit_opts ov = {.kind = SHMKIT_POSIX, .name = name, .flags = SHMKIT_VERIFY};
    is_rc(shmkit_open(&t, &ov), 0, "open with VERIFY: intact");
    shmkit_close(t);
    t = NULL;

    snprintf(path, sizeof path, "/dev/shm%s", name);
    dd_into(path, 300, "HACKED", "tamper with dd");
    ok(!memcmp(d + 300 - SHMKIT_HEADER_SIZE, "HACKED", 6), "the bytes really changed in our mapping");
    is_rc(shmkit_seg_verify(s), SHMKIT_ETAMPERED, "verify: ETAMPERED");
    is_rc(shmkit_open(&t, &ov), SHMKIT_ETAMPERED, "open with VERIFY: ETAMPERED");
    ok(t == NULL && tu_shm_exists(name), "... no handle, and the evidence is not removed");
    struct shmkit_opts on = {.kind = SHMKIT_POSIX, .name = name};
    is_rc(shmkit_open(&t, &on), 0, "open without VERIFY does not check the payload");
    ok(t && shmkit_seg_verify(t) == SHMKIT_ETAMPERED, "... but verify on that handle does");
    shmkit_close(t);
    t = NULL;

    is_rc(shmkit_seg_seal(s), 0, "reseal the new contents");
    is_rc(shmkit_seg_verify(s), 0, "verify: intact again");
    ok(shmkit_seg_stat(s, &in) == 0 && in.generation == 3, "generation 3");

    /* the header itself: 20 is inside the payload-size field */
    dd_into(path, 20, "X", "tamper with the header");
    is_rc(shmkit_seg_verify(s), SHMKIT_EBADHEADER, "verify: EBADHEADER");
    is_rc(shmkit_open(&t, &on), SHMKIT_EBADHEADER, "open: EBADHEADER");
    dd_into(path, 0, "XX", "tamper with the magic");
    is_rc(shmkit_open(&t, &on), SHMKIT_ENOTSHMKIT, "open: ENOTSHMKIT");
    shmkit_seg_remove(s);
    shmkit_close(s);
}

static void test_file_dd(void)
{
    char dir[256], path[PATH_MAX];
    shmkit_seg *s = NULL, *t = NULL;
    tu_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/sealed", dir);
    struct shmkit_opts o = {.kind = SHMKIT_FILE, .name = path, .size = 1000,
                            .flags = SHMKIT_CREATE};
    if (shmkit_open(&s, &o) < 0)
        tap_bail("cannot create file");
    strcpy(shmkit_seg_data(s), "file contents");
    is_rc(shmkit_seg_seal(s), 0, "FILE: seal");
    shmkit_close(s);
    s = NULL;
    struct shmkit_opts ov = {.kind = SHMKIT_FILE, .name = path, .flags = SHMKIT_VERIFY | SHMKIT_RDONLY};
    is_rc(shmkit_open(&t, &ov), 0, "FILE: reopen read-only with VERIFY: intact");
    dd_into(path, 999, "HACKED", "FILE: tamper with dd");
    is_rc(shmkit_seg_verify(t), SHMKIT_ETAMPERED, "FILE: verify on the read-only handle: ETAMPERED");
    shmkit_close(t);
    t = NULL;
    is_rc(shmkit_open(&t, &ov), SHMKIT_ETAMPERED, "FILE: open with VERIFY: ETAMPERED");
    tu_tmpdir_rm(dir);
}

static void test_sysv(void)
{
    shmkit_seg *s = NULL, *t = NULL;
    struct shmkit_opts o = {.kind = SHMKIT_SYSV, .sysv_private = 1, .size = 512,
                            .flags = SHMKIT_CREATE};
    if (shmkit_open(&s, &o) < 0)
        tap_bail("sysv");
    struct shmkit_info in;
    shmkit_seg_stat(s, &in);
    is_rc(shmkit_seg_seal(s), 0, "SYSV: seal");
    struct shmkit_opts oi = {.kind = SHMKIT_SYSV, .flags = SHMKIT_SHMID, .shmid = in.shmid};
    is_rc(shmkit_open(&t, &oi), 0, "SYSV: a second attachment");
    if (t) {
        ((char *)shmkit_seg_data(t))[511] ^= 0x20;
        is_rc(shmkit_seg_verify(s), SHMKIT_ETAMPERED, "SYSV: the last byte changed: ETAMPERED");
        shmkit_close(t);
    }
    shmkit_seg_remove(s);
    shmkit_close(s);
}

static void test_layout(void)
{
    char name[96];
    shmkit_seg *s = NULL, *t = NULL;
    uint64_t v = 0;
    struct shmkit_info in;
    struct shmkit_opts o = {.kind = SHMKIT_POSIX, .name = tu_name(name, sizeof name, "layout"),
                            .size = 4096, .flags = SHMKIT_CREATE | SHMKIT_EXCL};
    if (shmkit_open(&s, &o) < 0)
        tap_bail("cannot create");
    is_rc(shmkit_seg_seal(s), 0, "seal");
    const uint64_t params[4] = {1, 64, UINT64_MAX, 42};
    is_rc(shmkit_seg_set_layout(s, SHMKIT_LAYOUT_RING, params), 0, "set layout ring + parameters");
    int same = 1;
    for (unsigned i = 0; i < 4; i++)
        same &= shmkit_seg_layout_param(s, i, &v) == 0 && v == params[i];
    ok(same, "layout_param reads the four parameters back");
    is_rc(shmkit_seg_verify(s), 0, "the seal survives a header change (payload unchanged)");
    struct shmkit_opts or = {.kind = SHMKIT_POSIX, .name = name, .layout = SHMKIT_LAYOUT_RING};
    is_rc(shmkit_open(&t, &or), 0, "open expecting ring: ok");
    ok(t && shmkit_seg_stat(t, &in) == 0 && in.layout == SHMKIT_LAYOUT_RING && in.generation == 3,
       "stat from another handle: ring, generation 3");
    ok(!strcmp(shmkit_layout_name(in.layout), "ring") && !strcmp(shmkit_layout_name(0), "bytes") &&
           !strcmp(shmkit_layout_name(2), "bus") && !strcmp(shmkit_layout_name(3), "table") &&
           !strcmp(shmkit_layout_name(1234), "unknown"),
       "layout names");
    is_rc(shmkit_seg_set_layout(s, SHMKIT_LAYOUT_TABLE, NULL), 0, "set layout table, keep parameters");
    ok(shmkit_seg_layout_param(t, 3, &v) == 0 && v == 42, "the other handle sees the parameters kept");
    shmkit_close(t);
    shmkit_seg_remove(s);
    shmkit_close(s);
}

int main(void)
{
    if (sh("command -v dd >/dev/null") != 0)
        tap_skip_all("dd(1) not found");
    test_posix_dd();
    test_file_dd();
    test_sysv();
    test_layout();
    return tap_done();
}
