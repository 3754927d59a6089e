/* t_seg_posix.c - POSIX segments: create, write here, read in a forked and in
 * an exec'd process, stat, exclusive create, open-only, read-only mapping,
 * RAW, long names, remove. Also the helper for t_seg_fulltmpfs.t. */
#include "tu_seg.h"

#include <sys/mman.h>
#include <sys/statvfs.h>
#include <time.h>

/* Forked reader: opens NAME on its own (a new mapping, not the inherited
 * one), checks TOKEN, replies. Same exit codes as tu_helper's "read". */
static int fork_reader(const char *name, const char *token)
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        char *av[] = {"x", "read", "posix", (char *)name, (char *)token, NULL};
        _exit(tu_helper(5, av));
    }
    return tu_wait_exit(pid);
}

static void test_roundtrip(void)
{
    char name[96], reply[80];
    shmkit_seg *s = NULL;
    struct shmkit_info in;
    umask(022);
    struct shmkit_opts o = {.kind = SHMKIT_POSIX, .name = tu_name(name, sizeof name, "rt"),
                            .size = 4096, .flags = SHMKIT_CREATE | SHMKIT_EXCL};
    time_t before = time(NULL);
    is_rc(shmkit_open(&s, &o), 0, "create %s", name);
    if (!s)
        tap_bail("cannot create a POSIX segment");
    ok(tu_shm_exists(name), "it appears in /dev/shm");
    is_int(shmkit_seg_size(s), 4096, "payload size is what was asked");
    ok(shmkit_seg_fd(s) >= 0, "a POSIX segment has a descriptor");

    is_rc(shmkit_seg_stat(s, &in), 0, "stat");
    is_int(in.kind, SHMKIT_POSIX, "stat: kind");
    ok(!strcmp(in.name, name), "stat: name");
    is_int(in.size, 4096 + SHMKIT_HEADER_SIZE, "stat: size counts the header");
    is_int(in.payload_size, 4096, "stat: payload size");
    is_int(in.mode, 0600, "stat: default mode 0600");
    is_int(in.uid, geteuid(), "stat: uid");
    is_int(in.gid, getegid(), "stat: gid");
    is_int(in.shmid, -1, "stat: no shmid");
    is_int(in.nattch, -1, "stat: attach count unknown for POSIX");
    ok(in.has_header && in.layout == SHMKIT_LAYOUT_BYTES, "stat: header, layout bytes");
    is_int(in.creator_pid, getpid(), "stat: creator pid");
    is_int(in.creator_uid, geteuid(), "stat: creator uid");
    ok(in.creator_start > 0, "stat: creator start time recorded");
    ok(in.created >= before && in.created <= time(NULL), "stat: creation time");
    is_int(in.generation, 1, "stat: generation 1");
    ok(!in.sealed, "stat: not sealed");

    char *d = shmkit_seg_data(s);
    strcpy(d, "token-fork");
    is_int(fork_reader(name, "token-fork"), 0, "forked process opens it by name and reads");
    tu_reply(reply, sizeof reply, "token-fork");
    ok(!strcmp(d + 128, reply), "parent sees the forked process's reply");

    strcpy(d, "token-exec");
    is_int(tu_run_self(NULL, (const char *[]){"read", "posix", name, "token-exec", NULL}), 0,
           "exec'd process opens it by name and reads");
    tu_reply(reply, sizeof reply, "token-exec");
    ok(!strcmp(d + 128, reply), "parent sees the exec'd process's reply");

    /* exclusive create and plain create of an existing name */
    shmkit_seg *t = NULL;
    is_rc(shmkit_open(&t, &o), -EEXIST, "CREATE|EXCL of an existing name: -EEXIST");
    ok(t == NULL, "no handle on failure");
    struct shmkit_opts oc = o;
    oc.flags = SHMKIT_CREATE;
    is_rc(shmkit_open(&t, &oc), 0, "CREATE without EXCL opens the existing segment");
    ok(t && !strcmp(shmkit_seg_data(t), "token-exec"), "... and sees its bytes");
    shmkit_close(t);
    t = NULL;
    oc.size = 8192;
    is_rc(shmkit_open(&t, &oc), SHMKIT_EBADSIZE, "CREATE of an existing but smaller one: EBADSIZE");
    ok(tu_shm_exists(name), "... and the existing segment is left alone");
    struct shmkit_opts ol = {.kind = SHMKIT_POSIX, .name = name, .layout = SHMKIT_LAYOUT_RING};
    is_rc(shmkit_open(&t, &ol), SHMKIT_ELAYOUT, "opening expecting another layout: ELAYOUT");

    /* read-only */
    struct shmkit_opts orr = {.kind = SHMKIT_POSIX, .name = name, .flags = SHMKIT_RDONLY};
    is_rc(shmkit_open(&t, &orr), 0, "open read-only");
    if (t) {
        ok(!strcmp(shmkit_seg_data(t), "token-exec"), "read-only mapping reads");
        is_int(tu_child_write(shmkit_seg_data(t)), 128 + SIGSEGV,
               "a child writing through the read-only mapping dies with SIGSEGV");
        ok(!strcmp(shmkit_seg_data(t), "token-exec"), "... and the bytes are unchanged");
        is_rc(shmkit_seg_seal(t), -EBADF, "seal through a read-only handle: -EBADF");
        is_rc(shmkit_seg_set_layout(t, SHMKIT_LAYOUT_BYTES, NULL), -EBADF,
              "set_layout through a read-only handle: -EBADF");
    }
    shmkit_close(t);
    t = NULL;

    /* remove */
    is_rc(shmkit_seg_remove(s), 0, "remove");
    ok(!tu_shm_exists(name), "gone from /dev/shm");
    is_rc(shmkit_seg_remove(s), -ENOENT, "second remove: -ENOENT");
    ok(!strcmp(d, "token-exec"), "the mapping stays valid after remove");
    struct shmkit_opts oo = {.kind = SHMKIT_POSIX, .name = name};
    is_rc(shmkit_open(&t, &oo), -ENOENT, "open-only of a missing name: -ENOENT");
    is_rc(shmkit_posix_remove(name), -ENOENT, "posix_remove of a missing name: -ENOENT");
    is_rc(shmkit_close(s), 0, "close");
}

static void test_mode_umask(void)
{
    char name[96];
    shmkit_seg *s = NULL;
    struct shmkit_info in;
    mode_t old = umask(077);
    struct shmkit_opts o = {.kind = SHMKIT_POSIX, .name = tu_name(name, sizeof name, "mode"),
                            .size = 100, .mode = 0644, .flags = SHMKIT_CREATE | SHMKIT_EXCL};
    is_rc(shmkit_open(&s, &o), 0, "create with mode 0644 under umask 077");
    ok(s && shmkit_seg_stat(s, &in) == 0 && in.mode == 0644, "the mode is 0644, not narrowed");
    is_rc(shmkit_posix_remove(name), 0, "posix_remove by name");
    shmkit_close(s);
    umask(old);
}

static void test_long_name(void)
{
    char name[300];
    shmkit_seg *s = NULL;
    name[0] = '/';
    memset(name + 1, 'n', 255);
    name[256] = '\0';
    snprintf(name + 1, 40, "shmkit-t-%ld-", (long)getpid());
    name[strlen(name)] = 'n'; /* undo snprintf's terminator: keep all 255 */
    is_int(strlen(name), 256, "a 255-character name");
    struct shmkit_opts o = {.kind = SHMKIT_POSIX, .name = name, .size = 64,
                            .flags = SHMKIT_CREATE | SHMKIT_EXCL};
    is_rc(shmkit_open(&s, &o), 0, "... can be created");
    is_rc(shmkit_seg_remove(s), 0, "... and removed through the handle (whole name kept)");
    ok(!tu_shm_exists(name), "... and it is gone");
    shmkit_close(s);
    s = NULL;
    strcat(name, "n");
    is_rc(shmkit_open(&s, &o), SHMKIT_EBADNAME, "a 256-character name: EBADNAME");
}

static void test_raw(void)
{
    char name[96];
    shmkit_seg *s = NULL, *t = NULL;
    struct shmkit_info in;
    struct shmkit_opts o = {.kind = SHMKIT_POSIX, .name = tu_name(name, sizeof name, "raw"),
                            .size = 1000, .flags = SHMKIT_CREATE | SHMKIT_EXCL | SHMKIT_RAW};
    is_rc(shmkit_open(&s, &o), 0, "create RAW");
    if (!s)
        return;
    is_int(shmkit_seg_size(s), 1000, "RAW: the whole mapping is payload");
    ok(shmkit_seg_stat(s, &in) == 0 && in.size == 1000 && !in.has_header, "RAW: stat, no header");
    struct stat st;
    ok(fstat(shmkit_seg_fd(s), &st) == 0 && st.st_size == 1000, "RAW: object is exactly 1000 bytes");
    is_rc(shmkit_seg_verify(s), -EINVAL, "verify on RAW: -EINVAL");
    is_rc(shmkit_seg_seal(s), -EINVAL, "seal on RAW: -EINVAL");
    memcpy(shmkit_seg_data(s), "plain bytes", 12);
    struct shmkit_opts oh = {.kind = SHMKIT_POSIX, .name = name};
    is_rc(shmkit_open(&t, &oh), SHMKIT_ENOTSHMKIT, "opening a foreign segment with a header: ENOTSHMKIT");
    struct shmkit_opts orw = {.kind = SHMKIT_POSIX, .name = name, .flags = SHMKIT_RAW};
    is_rc(shmkit_open(&t, &orw), 0, "... but RAW opens it");
    ok(t && !strcmp(shmkit_seg_data(t), "plain bytes") && shmkit_seg_size(t) == 1000,
       "... and sees the bytes");
    shmkit_close(t);
    shmkit_seg_remove(s);
    shmkit_close(s);
}

/* A big segment takes a while to reserve (fallocate of 512 MiB is ~0.1 s).
 * A process opening it meanwhile must wait for the header, not report
 * "not a shmkit segment". Also several processes creating one name at once
 * without EXCL: all succeed, and all see the same creator. */
static void test_concurrent_open(int kind)
{
    char name[96];
    const char *kn = kind == SHMKIT_POSIX ? "POSIX" : "SYSV";
    int32_t key = (int32_t)(0x48000000u | ((uint32_t)getpid() << 2));
    struct shmkit_opts o = {.kind = kind, .size = (size_t)512 << 20};
    if (kind == SHMKIT_POSIX)
        o.name = tu_name(name, sizeof name, "big");
    else
        o.key = key;
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        shmkit_seg *r = NULL;
        struct shmkit_opts ro = o;
        ro.size = 0;
        uint64_t end = tu_now_ns() + 5000000000u;
        int rc;
        while ((rc = shmkit_open(&r, &ro)) == -ENOENT && tu_now_ns() < end)
            ;
        if (rc < 0)
            printf("# opener: %s\n", shmkit_errname(rc)), fflush(stdout);
        int good = rc == 0 && shmkit_seg_size(r) == o.size;
        shmkit_close(r);
        _exit(good ? 0 : 1);
    }
    shmkit_seg *s = NULL;
    o.flags = SHMKIT_CREATE | SHMKIT_EXCL;
    uint64_t t0 = tu_now_ns();
    int rc = shmkit_open(&s, &o);
    uint64_t t1 = tu_now_ns();
    is_rc(rc, 0, "%s: create 512 MiB (%.0f ms)", kn, (t1 - t0) / 1e6);
    is_int(tu_wait_exit(pid), 0, "%s: a process opening it meanwhile waits for the header", kn);
    if (s) {
        shmkit_seg_remove(s);
        shmkit_close(s);
    }
}

/* Run inside a private mount namespace with a 1 MiB tmpfs on /dev/shm
 * (tests/t_seg_fulltmpfs.t). Prints its own TAP. */
static int enospc_child(void)
{
    char name[96], fname[PATH_MAX];
    shmkit_seg *s = NULL, *t = NULL;
    struct statvfs sv;
    if (statvfs("/dev/shm", &sv) < 0 || (uint64_t)sv.f_blocks * sv.f_frsize > (2u << 20))
        tap_skip_all("/dev/shm is not the small tmpfs this needs");
    uint64_t free0 = (uint64_t)sv.f_bfree * sv.f_frsize;
    tap_diag("/dev/shm: %llu KiB free", (unsigned long long)(free0 >> 10));

    struct shmkit_opts o = {.kind = SHMKIT_POSIX, .name = tu_name(name, sizeof name, "big"),
                            .size = 2u << 20, .flags = SHMKIT_CREATE | SHMKIT_EXCL};
    is_rc(shmkit_open(&s, &o), -ENOSPC, "2 MiB segment on a 1 MiB tmpfs: -ENOSPC at create");
    ok(!tu_shm_exists(name), "nothing left behind");

    o.size = 600u << 10;
    is_rc(shmkit_open(&s, &o), 0, "a 600 KiB segment fits");
    o.name = tu_name(name, sizeof name, "second");
    is_rc(shmkit_open(&t, &o), -ENOSPC, "a second 600 KiB one does not: -ENOSPC");
    ok(!tu_shm_exists(name), "nothing left behind");
    if (s) {
        memset(shmkit_seg_data(s), 0xab, shmkit_seg_size(s));
        ok(1, "every page of the first is there to write (no SIGBUS)");
        shmkit_seg_remove(s);
        shmkit_close(s);
        s = NULL;
    }
    snprintf(fname, sizeof fname, "/dev/shm/shmkit-t-%ld-file", (long)getpid());
    struct shmkit_opts of = {.kind = SHMKIT_FILE, .name = fname, .size = 3u << 20,
                             .flags = SHMKIT_CREATE | SHMKIT_EXCL};
    is_rc(shmkit_open(&t, &of), -ENOSPC, "FILE segment too big for its file system: -ENOSPC");
    ok(access(fname, F_OK) != 0, "the file is removed again");

    /* NORESERVE asks for a sparse segment: it is made, and would fault later */
    o.size = 2u << 20;
    o.flags |= SHMKIT_NORESERVE;
    is_rc(shmkit_open(&s, &o), 0, "NORESERVE: the sparse 2 MiB segment is made");
    if (s) {
        shmkit_seg_remove(s);
        shmkit_close(s);
    }
    ok(statvfs("/dev/shm", &sv) == 0 && (uint64_t)sv.f_bfree * sv.f_frsize == free0,
       "all the space is free again");
    return tap_done();
}

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "enospc"))
        return enospc_child();
    int h = tu_helper(argc, argv);
    if (h >= 0)
        return h;
    test_roundtrip();
    test_mode_umask();
    test_long_name();
    test_raw();
    test_concurrent_open(SHMKIT_POSIX);
    test_concurrent_open(SHMKIT_SYSV);
    return tap_done();
}
