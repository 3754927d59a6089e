/* t_seg_persist.c - SHMKIT_PERSIST: a segment meant to outlive its creator
 * carries a header flag that shmkit_seg_stat and shmkit_header_check report
 * as info.persistent (what `shmkit gc` and `ls` look at). CREATE without
 * PERSIST on an existing persistent segment attaches and keeps the flag;
 * the flag is refused where there is no header or no create. */
#include "tu_seg.h"

static int32_t test_key(void)
{
    return (int32_t)(0x41000000u | ((uint32_t)getpid() << 4) | 7u);
}

static int persistent_of(shmkit_seg *s)
{
    struct shmkit_info in;
    if (!s || shmkit_seg_stat(s, &in) < 0 || !in.has_header)
        return -1;
    return in.persistent;
}

/* Create with FLAGS|CREATE through O, then reopen three ways. */
static void check_kind(struct shmkit_opts o, const char *what)
{
    shmkit_seg *s = NULL, *t = NULL;
    struct shmkit_info in;
    unsigned base = o.flags;
    o.flags = base | SHMKIT_CREATE | SHMKIT_EXCL | SHMKIT_PERSIST;
    is_rc(shmkit_open(&s, &o), 0, "%s: create with PERSIST", what);
    is_int(persistent_of(s), 1, "%s: stat says persistent", what);
    ok(s &&
           shmkit_header_check((char *)shmkit_seg_data(s) - SHMKIT_HEADER_SIZE, SHMKIT_HEADER_SIZE,
                               SHMKIT_HEADER_SIZE + 4096, &in) == 0 &&
           in.persistent == 1,
       "%s: shmkit_header_check on the bytes says persistent", what);
    o.flags = base | SHMKIT_CREATE;
    is_rc(shmkit_open(&t, &o), 0, "%s: CREATE without PERSIST attaches to it", what);
    is_int(persistent_of(t), 1, "%s: ... and it stays persistent", what);
    shmkit_close(t);
    t = NULL;
    o.flags = base;
    is_rc(shmkit_open(&t, &o), 0, "%s: plain open", what);
    is_int(persistent_of(t), 1, "%s: ... persistent", what);
    ok(shmkit_seg_seal(s) == 0 && persistent_of(t) == 1, "%s: a seal keeps the flag", what);
    shmkit_close(t);
    shmkit_seg_remove(s);
    shmkit_close(s);
    s = NULL;
    o.flags = base | SHMKIT_CREATE | SHMKIT_EXCL;
    is_rc(shmkit_open(&s, &o), 0, "%s: create without PERSIST", what);
    is_int(persistent_of(s), 0, "%s: not persistent", what);
    shmkit_seg_remove(s);
    shmkit_close(s);
}

static void check_refused(void)
{
    char name[96];
    shmkit_seg *s = NULL;
    struct shmkit_opts o = {.kind = SHMKIT_POSIX,
                            .name = tu_name(name, sizeof name, "pr"),
                            .size = 4096,
                            .flags = SHMKIT_PERSIST};
    is_rc(shmkit_open(&s, &o), -EINVAL, "PERSIST without CREATE: -EINVAL");
    o.flags = SHMKIT_CREATE | SHMKIT_RAW | SHMKIT_PERSIST;
    is_rc(shmkit_open(&s, &o), -EINVAL, "PERSIST with RAW (no header to hold it): -EINVAL");
    ok(s == NULL && !tu_shm_exists(name), "... nothing made");
}

int main(void)
{
    char name[96], dir[PATH_MAX], path[PATH_MAX + 16];
    check_kind((struct shmkit_opts){.kind = SHMKIT_POSIX,
                                    .name = tu_name(name, sizeof name, "persist"),
                                    .size = 4096},
               "POSIX");
    tu_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/seg", dir);
    check_kind((struct shmkit_opts){.kind = SHMKIT_FILE, .name = path, .size = 4096}, "FILE");
    tu_tmpdir_rm(dir);
    check_kind((struct shmkit_opts){.kind = SHMKIT_SYSV, .key = test_key(), .size = 4096}, "SYSV");
    check_refused();
    tu_sysv_cleanup();
    return tap_done();
}
