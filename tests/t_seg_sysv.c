/* t_seg_sysv.c - System V segments chosen by explicit key, by ftok(path, proj)
 * and IPC_PRIVATE: create, write, read in a forked and an exec'd process,
 * stat (cpid, lpid, nattch), IPC_SET, read-only attach, exclusive create,
 * open-only, remove. */
#include "tu_seg.h"

#include <sys/ipc.h>
#include <sys/shm.h>

/* A key no other test run uses: pid in the middle bits, N at the bottom. */
static int32_t test_key(int n)
{
    return (int32_t)(0x40000000u | ((uint32_t)getpid() << 4) | (uint32_t)n);
}

/* Forked reader: attaches on its own through OPTS (after exiting the
 * inherited attachment would be counted too), checks TOKEN, replies, and
 * reports the attach count it saw: exit 10 + nattch, 2 on bad bytes. */
static int fork_reader(const struct shmkit_opts *opts, const char *token)
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        shmkit_seg *s = NULL;
        struct shmkit_info in;
        if (shmkit_open(&s, opts) < 0)
            _exit(3);
        char *d = shmkit_seg_data(s);
        if (memcmp(d, token, strlen(token) + 1))
            _exit(2);
        tu_reply(d + 128, 64, token);
        if (shmkit_seg_stat(s, &in) < 0)
            _exit(4);
        shmkit_close(s);
        _exit(10 + (int)in.nattch);
    }
    return tu_wait_exit(pid);
}

/* The common part: S was just created; OPEN_OPTS reopens it; ARGS makes the
 * exec'd helper find it. */
static void exercise(shmkit_seg *s, const char *what, const struct shmkit_opts *open_opts,
                     const char *const *args, int32_t want_key)
{
    struct shmkit_info in;
    char reply[80];
    is_rc(shmkit_seg_stat(s, &in), 0, "%s: stat", what);
    is_int(in.kind, SHMKIT_SYSV, "%s: kind", what);
    is_int(in.key, want_key, "%s: key", what);
    ok(in.shmid >= 0, "%s: shmid %d", what, in.shmid);
    is_int(in.size, 4096 + SHMKIT_HEADER_SIZE, "%s: size", what);
    is_int(in.payload_size, 4096, "%s: payload size", what);
    is_int(in.mode, 0600, "%s: mode 0600", what);
    is_int(in.uid, geteuid(), "%s: uid", what);
    is_int(in.cpid, getpid(), "%s: creator pid (kernel)", what);
    is_int(in.lpid, getpid(), "%s: last attach pid", what);
    is_int(in.nattch, 1, "%s: one attachment", what);
    ok(in.ctime > 0 && in.atime > 0, "%s: times", what);
    ok(in.has_header && in.creator_pid == getpid(), "%s: header", what);
    is_int(shmkit_seg_fd(s), -1, "%s: no descriptor", what);

    char *d = shmkit_seg_data(s);
    strcpy(d, "sysv-fork");
    /* the child also inherited our attachment: it sees 3 while it is attached twice */
    is_int(fork_reader(open_opts, "sysv-fork"), 13, "%s: forked process attaches and reads (nattch 3)",
           what);
    tu_reply(reply, sizeof reply, "sysv-fork");
    ok(!strcmp(d + 128, reply), "%s: parent sees the forked process's reply", what);

    strcpy(d, "sysv-exec");
    const char *av[8] = {"read"};
    int n = 1;
    for (; args[n - 1]; n++)
        av[n] = args[n - 1];
    av[n++] = "sysv-exec";
    av[n] = NULL;
    is_int(tu_run_self(NULL, av), 0, "%s: exec'd process attaches and reads", what);
    tu_reply(reply, sizeof reply, "sysv-exec");
    ok(!strcmp(d + 128, reply), "%s: parent sees the exec'd process's reply", what);
    ok(shmkit_seg_stat(s, &in) == 0 && in.nattch == 1 && in.lpid != getpid(),
       "%s: back to one attachment; last pid is the helper's", what);

    shmkit_seg *r = NULL;
    struct shmkit_opts ro = *open_opts;
    ro.flags |= SHMKIT_RDONLY;
    is_rc(shmkit_open(&r, &ro), 0, "%s: attach read-only (SHM_RDONLY)", what);
    if (r) {
        ok(!strcmp(shmkit_seg_data(r), "sysv-exec"), "%s: read-only attachment reads", what);
        is_int(tu_child_write(shmkit_seg_data(r)), 128 + SIGSEGV,
               "%s: a child writing through it dies with SIGSEGV", what);
        shmkit_close(r);
    }
}

static void finish(shmkit_seg *s, const char *what, const struct shmkit_opts *open_opts)
{
    shmkit_seg *t = NULL;
    char *d = shmkit_seg_data(s);
    is_rc(shmkit_seg_remove(s), 0, "%s: remove (IPC_RMID)", what);
    if (open_opts)
        is_rc(shmkit_open(&t, open_opts), -ENOENT, "%s: after remove, open gives -ENOENT", what);
    ok(!strcmp(d, "sysv-exec"), "%s: our attachment stays valid until closed", what);
    is_rc(shmkit_close(s), 0, "%s: close (shmdt)", what);
}

static void test_key_kind(void)
{
    shmkit_seg *s = NULL, *t = NULL;
    int32_t key = test_key(1);
    struct shmkit_opts o = {.kind = SHMKIT_SYSV, .key = key, .size = 4096,
                            .flags = SHMKIT_CREATE | SHMKIT_EXCL};
    is_rc(shmkit_open(&s, &o), 0, "key 0x%x: create", (unsigned)key);
    if (!s)
        return;
    char ks[32];
    snprintf(ks, sizeof ks, "%d", (int)key);
    struct shmkit_opts oo = {.kind = SHMKIT_SYSV, .key = key};
    exercise(s, "key", &oo, (const char *[]){"sysv-key", ks, NULL}, key);

    is_rc(shmkit_open(&t, &o), -EEXIST, "key: CREATE|EXCL of an existing key: -EEXIST");
    struct shmkit_info in;
    is_rc(shmkit_sysv_set(s, 0640, (uid_t)-1, (gid_t)-1), 0, "key: IPC_SET mode 0640");
    ok(shmkit_seg_stat(s, &in) == 0 && in.mode == 0640, "key: stat shows 0640");
    is_rc(shmkit_sysv_set(s, (mode_t)-1, 65534, (gid_t)-1), 0, "key: IPC_SET owner to 65534");
    ok(shmkit_seg_stat(s, &in) == 0 && in.uid == 65534 && in.mode == 0640,
       "key: stat shows the new owner, mode kept");
    finish(s, "key", &oo);
    int32_t missing = test_key(2);
    struct shmkit_opts om = {.kind = SHMKIT_SYSV, .key = missing};
    is_rc(shmkit_open(&t, &om), -ENOENT, "open-only of a missing key: -ENOENT");
}

static void test_ftok(void)
{
    char dir[PATH_MAX], path[PATH_MAX + 16];
    shmkit_seg *s = NULL;
    tu_tmpdir(dir, sizeof dir);
    snprintf(path, sizeof path, "%s/keyfile", dir);
    int fd = open(path, O_CREAT | O_WRONLY, 0600);
    close(fd);
    key_t k = ftok(path, 'k');
    struct shmkit_opts o = {.kind = SHMKIT_SYSV, .ftok_path = path, .ftok_proj = 'k',
                            .size = 4096, .flags = SHMKIT_CREATE | SHMKIT_EXCL};
    is_rc(shmkit_open(&s, &o), 0, "ftok: create");
    if (s) {
        char proj[8];
        snprintf(proj, sizeof proj, "%d", 'k');
        struct shmkit_opts oo = {.kind = SHMKIT_SYSV, .ftok_path = path, .ftok_proj = 'k'};
        exercise(s, "ftok", &oo, (const char *[]){"sysv-ftok", path, proj, NULL}, (int32_t)k);
        finish(s, "ftok", &oo);
    }
    tu_tmpdir_rm(dir);
}

static void test_private(void)
{
    shmkit_seg *s = NULL, *t = NULL;
    struct shmkit_opts o = {.kind = SHMKIT_SYSV, .sysv_private = 1, .size = 4096,
                            .flags = SHMKIT_CREATE};
    is_rc(shmkit_open(&s, &o), 0, "IPC_PRIVATE: create");
    is_rc(shmkit_open(&t, &o), 0, "IPC_PRIVATE: a second create makes another segment");
    if (!s || !t)
        goto close_both;
    struct shmkit_info a, b;
    ok(shmkit_seg_stat(s, &a) == 0 && shmkit_seg_stat(t, &b) == 0 && a.shmid != b.shmid,
       "IPC_PRIVATE: distinct ids");
    char ids[32];
    snprintf(ids, sizeof ids, "%d", a.shmid);
    struct shmkit_opts oo = {.kind = SHMKIT_SYSV, .flags = SHMKIT_SHMID, .shmid = a.shmid};
    exercise(s, "private", &oo, (const char *[]){"sysv-id", ids, NULL}, 0);
    shmkit_seg_remove(t);
    finish(s, "private", NULL);
    s = NULL;
    shmkit_seg *u = NULL;
    is_rc(shmkit_open(&u, &oo), -EINVAL, "IPC_PRIVATE: by id after remove+close: -EINVAL");
close_both:
    shmkit_close(s);
    shmkit_close(t);
}

int main(int argc, char **argv)
{
    int h = tu_helper(argc, argv);
    if (h >= 0)
        return h;
    test_key_kind();
    test_ftok();
    test_private();
    is_int(tu_sysv_mine(), 0, "no System V segment made by this test remains");
    tu_sysv_cleanup();
    return tap_done();
}
